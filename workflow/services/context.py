"""The context of one action (a launch, a submit) as the flow's hooks see it.

viewflow creates a fresh activation for every node it walks through and hands each of them the
same process instance; that instance is the one object every hook of an action receives. So an
action puts its ``ActionContext`` on ``TaskProcess.context`` (a declared, non-persistent
attribute) for exactly as long as it drives the engine (``acting``), and the hooks read it there
instead of hidden attributes or a thread-local.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from workflow.models import PeriodTask, Step


class PendingAudit(TypedDict):
    """The keyword arguments of an ``audit_record`` call kept for the end of the action."""

    actor: AbstractBaseUser | None
    action: str
    period_task: PeriodTask
    step: Step
    reason: str
    data: dict[str, Any]


@dataclass
class ActionContext:
    """What one action gathers while the engine runs, written once at its end.

    - ``notifications``: the notifications of the action (one INSERT, one for their mails);
    - ``save_later``: the run's (PeriodTask) fields the hooks changed in memory;
    - ``audit_later``: audit events of the new steps, appended after the action's own event;
    - ``branch_units`` / ``branch_people``: the units a split opens steps for, and their
      active members, read once for all branches.

    ``batched`` False (a hook run outside any action): notifications are written at once and
    the run's fields saved at once.
    """

    batched: bool = True
    notifications: list[Any] = field(default_factory=list)
    save_later: set[str] = field(default_factory=set)
    audit_later: list[PendingAudit] = field(default_factory=list)
    branch_units: dict[int, Any] = field(default_factory=dict)
    branch_people: dict[int, list[Any]] = field(default_factory=dict)


def context_of(process: Any) -> ActionContext:
    """The context of the action driving ``process``; an unbatched one if none is."""
    ctx = getattr(process, "context", None)
    if ctx is None:
        ctx = ActionContext(batched=False)
        process.context = ctx
    return ctx


@contextmanager
def acting(process: Any, ctx: ActionContext) -> Iterator[ActionContext]:
    """Hand ``ctx`` to the hooks the engine calls for ``process`` while the block runs."""
    process.context = ctx
    try:
        yield ctx
    finally:
        process.context = None

"""What plans asks of, or tells, the layers above it without importing them.

``plans`` imports nothing from ``workflow`` (docs/architecture.md): where a plan-level page
or write needs the workflow's answer, workflow plugs it in here when it loads
(``WorkflowConfig.ready``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

# Sent by ``plans.periods.period_deadline_set`` with ``period=`` after a deadline changed;
# a receiver returns how many open steps it gave a new due date (recorded in the audit event).
period_deadline_changed = Signal()

PlanStatuses = Callable[[Any, list[Any], "str | None", datetime.date], Any]
_plan_statuses: list[PlanStatuses] = []


def plan_statuses_provide(provider: PlanStatuses) -> None:
    """Workflow names the function that puts each task's status in a period on the plan page."""
    _plan_statuses[:] = [provider]


def plan_statuses(plan: Any, tables: list[Any], raw_period: str | None, today: datetime.date) -> Any:
    """The plan page's statuses from the provider; None while no workflow is installed."""
    if not _plan_statuses:
        return None
    return _plan_statuses[0](plan, tables, raw_period, today)

"""Which partner units a plan names one by one, and which only a collective phrase covers.

Most rows of the department's plan name "Các phòng, đơn vị thuộc sở" as partners: the parser
expands it to every unit (``PlanTask.partner_units``), but a lead unit asks those for input only
when it chooses to; the units the row names one by one (``PlanTask.partner_units_named``) are
the ones its submit form proposes (workflow: "Partners asked where needed").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plans.parsing import UnitDirectory


def named_partner_names(partner_text: str, directory: UnitDirectory) -> set[str]:
    """The canonical names of the units ``partner_text`` names one by one."""
    return set(directory.resolve_named(partner_text or ""))


def named_partners(partner_text: str, partners: Iterable[str], directory: UnitDirectory) -> set[str]:
    """Of a task's partner units (by name), those its text names one by one."""
    return named_partner_names(partner_text, directory).intersection(partners)


def partner_scope_set(plan_task: Any, directory: UnitDirectory) -> None:
    """Record the partner units ``plan_task``'s text names one by one (a subset of its partners)."""
    partners = list(plan_task.partner_units.all())
    named = named_partners(plan_task.partner_text, (u.name for u in partners), directory)
    plan_task.partner_units_named.set([u for u in partners if u.name in named])

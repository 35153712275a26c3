"""Reporting periods of a plan, with deadlines from settings (editable per plan)."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from plans.models import Plan, ReportingPeriod

# National data cut-offs (domain.md): 14/3, 14/6, 14/9, 14/12.
CUTOFFS = {"Q1": (3, 14), "H1": (6, 14), "Q3": (9, 14), "Y": (12, 14)}


def national_cutoff(code: str, year: int) -> datetime.date:
    """The national data cut-off of a period: no internal deadline may come after it."""
    month, day = CUTOFFS[code]
    return datetime.date(year, month, day)


def periods_ensure(*, plan: Plan) -> list[ReportingPeriod]:
    """The plan's four periods, created with the default deadlines when missing."""
    periods = []
    for code, (month, day) in settings.PERIOD_DEADLINES.items():
        period, _ = ReportingPeriod.objects.get_or_create(
            plan=plan,
            code=code,
            defaults={
                "deadline": datetime.date(plan.year, month, day),
                "cutoff": national_cutoff(code, plan.year),
                "include_year_tasks": code == "Y",
            },
        )
        periods.append(period)
    return periods


@transaction.atomic
def period_deadline_set(*, period: ReportingPeriod, deadline: datetime.date, actor: Any) -> ReportingPeriod:
    """Change a period's internal deadline (the model's own rules apply: full_clean); the open
    steps of its runs get their due dates again from it, so reminders follow. Audited."""
    from audit.services import audit_record
    from plans.hooks import period_deadline_changed

    period = ReportingPeriod.objects.select_for_update().select_related("plan").get(pk=period.pk)
    before = period.deadline
    if before == deadline:
        return period
    period.deadline = deadline
    period.full_clean()
    period.save(update_fields=["deadline"])
    # The open steps of its runs follow (workflow.services.steps_redate_for_period).
    moved = sum(int(n) for _, n in period_deadline_changed.send(sender=ReportingPeriod, period=period) if n)
    audit_record(
        actor=actor,
        action="deadline_changed",
        data={"period": period.label, "before": before, "after": deadline, "open_steps": moved},
    )
    return period

"""Reporting periods of a plan, with deadlines from settings (editable per plan)."""

from __future__ import annotations

import datetime

from django.conf import settings

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

"""Reporting periods of a plan, with deadlines from settings (editable per plan)."""

from __future__ import annotations

import datetime

from django.conf import settings

from plans.models import Plan, ReportingPeriod

# National data cut-offs (domain.md): 14/3, 14/6, 14/9, 14/12.
CUTOFFS = {"Q1": (3, 14), "H1": (6, 14), "Q3": (9, 14), "Y": (12, 14)}


def periods_ensure(*, plan: Plan) -> list[ReportingPeriod]:
    """The plan's four periods, created with the default deadlines when missing."""
    periods = []
    for code, (month, day) in settings.PERIOD_DEADLINES.items():
        cut_month, cut_day = CUTOFFS[code]
        period, _ = ReportingPeriod.objects.get_or_create(
            plan=plan,
            code=code,
            defaults={
                "deadline": datetime.date(plan.year, month, day),
                "cutoff": datetime.date(plan.year, cut_month, cut_day),
                "include_year_tasks": code == "Y",
            },
        )
        periods.append(period)
    return periods

"""Fixtures of the workflow tests: a criterion, its plan's Quý I, one task launched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from plans.models import Criterion, ReportingPeriod
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.models import PeriodTask


@pytest.fixture
def criterion(db: Any) -> Criterion:
    return CriterionFactory()


@pytest.fixture
def q1(criterion: Criterion) -> ReportingPeriod:
    return periods(criterion.section.appendix.plan)["Q1"]


@pytest.fixture
def launch(units: dict[str, Any], personas: dict[str, Any]) -> Callable[..., PeriodTask]:
    """Launch one task of a new plan in Quý I, led by and with partners the units named."""

    def _launch(
        lead: Sequence[str], partners: Sequence[str] = (), named: Sequence[str] | None = None
    ) -> PeriodTask:
        criterion = CriterionFactory()
        task = plan_task(criterion, lead=[units[u] for u in lead], partners=[units[u] for u in partners])
        if named is not None:  # the plan names only these; a collective phrase covers the others
            task.partner_text = "; ".join([*(units[u].name for u in named), "Các phòng, đơn vị thuộc sở"])
            task.save(update_fields=["partner_text"])
            task.partner_units_named.set([units[u] for u in named])
        period = periods(criterion.section.appendix.plan)["Q1"]
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        return PeriodTask.objects.get(plan_task=task)

    return _launch

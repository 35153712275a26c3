"""The shared period filter: bounded, and never without the period the user chose."""

from __future__ import annotations

import datetime

import pytest

from tests.factories import PlanFactory, periods
from workflow.selectors import period_choices

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2024, 6, 1)


def test_period_choices_are_this_and_last_years_in_plan_order() -> None:
    old = periods(PlanFactory(year=2021))
    last = periods(PlanFactory(year=2023))
    this = periods(PlanFactory(year=2024))
    choices = period_choices(TODAY, None)
    pks = [pk for pk, _label in choices]
    assert old["Q1"].pk not in pks
    assert pks[:4] == [this[code].pk for code in ("Q1", "H1", "Q3", "Y")]
    assert pks[4:] == [last[code].pk for code in ("Q1", "H1", "Q3", "Y")]
    assert dict(choices)[this["H1"].pk] == "6 tháng/2024"


def test_an_old_selected_period_is_kept_even_when_the_list_is_full() -> None:
    old = periods(PlanFactory(year=2019))["Q3"]
    for _ in range(51):  # 204 recent periods: more than the list holds
        periods(PlanFactory(year=2024))
    choices = period_choices(TODAY, old.pk)
    assert len(choices) == 200
    assert choices[-1][0] == old.pk  # listed where it sorts: the oldest plan comes last
    assert old.pk not in [pk for pk, _label in period_choices(TODAY, None)]

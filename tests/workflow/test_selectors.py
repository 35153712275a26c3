"""The shared period picker: every period of every plan, grouped by plan; where it opens."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.factories import AppendixFactory, CriterionFactory, PlanFactory, SectionFactory, periods, plan_task
from workflow.models import PeriodTask
from workflow.selectors import period_choices, period_default, period_known, period_options_html

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2024, 6, 1)


def test_period_choices_are_every_plans_periods_grouped_newest_plan_first() -> None:
    old = periods(PlanFactory(year=2019, title="Kế hoạch 2019"))
    last = periods(PlanFactory(year=2023, title="Kế hoạch 2023"))
    this = periods(PlanFactory(year=2024, title="Kế hoạch 2024"))
    groups = period_choices(TODAY)
    assert [g.label for g in groups] == [
        "Năm 2024 – Kế hoạch 2024",
        "Năm 2023 – Kế hoạch 2023",
        "Năm 2019 – Kế hoạch 2019",
    ]
    for group, ps in zip(groups, (this, last, old), strict=True):
        assert [pk for pk, _label in group.options] == [ps[code].pk for code in ("Q1", "H1", "Q3", "Y")]
    assert dict(groups[0].options)[this["H1"].pk] == "6 tháng/2024"
    assert (
        dict(period_choices(TODAY, with_deadline=True)[2].options)[old["Q1"].pk]
        == "Quý I/2019 (hạn 10/03/2019)"
    )
    assert period_known(groups, old["Q3"].pk) and period_known(groups, None)
    assert not period_known(groups, old["Q3"].pk + 1000)


def test_a_province_of_plans_is_listed_whole_in_one_query(django_assert_num_queries: object) -> None:
    for _ in range(60):  # 240 periods: more than the old bounded list held
        periods(PlanFactory(year=2024))
    with django_assert_num_queries(1):  # type: ignore[operator]
        groups = period_choices(TODAY)
    assert sum(len(g.options) for g in groups) == 240


def test_the_pickers_list_is_kept_until_a_plan_or_period_changes(
    django_assert_num_queries: Any, settings: Any
) -> None:
    plan = PlanFactory(year=2024, title="Kế hoạch 2024")
    ps = periods(plan)
    first = period_choices(TODAY)
    with django_assert_num_queries(0):  # kept by this process: nothing read
        assert period_choices(TODAY) is first
        assert period_choices(TODAY, ps["Q3"].pk) is first  # a period it holds
    # a deadline moved: the labels with deadlines are read again, with the new date
    kept = period_choices(TODAY, with_deadline=True)
    ps["Q3"].deadline = datetime.date(2024, 9, 9)
    ps["Q3"].save()
    moved = period_choices(TODAY, with_deadline=True)
    assert moved is not kept and dict(moved[0].options)[ps["Q3"].pk] == "Quý III/2024 (hạn 09/09/2024)"
    # a plan renamed: read again
    plan.title = "Kế hoạch CCHC 2024"
    plan.save()
    assert period_choices(TODAY)[0].label == "Năm 2024 – Kế hoạch CCHC 2024"
    # a new plan: in the next list
    other = periods(PlanFactory(year=2025, title="Kế hoạch 2025"))
    assert period_choices(TODAY)[0].options[0][0] == other["Q1"].pk
    # after PERIOD_PICKER_CACHE_SECONDS the list is read again even if nothing said so
    settings.PERIOD_PICKER_CACHE_SECONDS = 0
    with django_assert_num_queries(1):
        period_choices(TODAY)


def test_a_period_another_process_added_is_read_when_a_url_names_it() -> None:
    from plans.models import ReportingPeriod
    from plans.periods import national_cutoff

    periods(PlanFactory(year=2024))
    plan = PlanFactory(year=2025)
    kept = period_choices(TODAY)
    # written where this process's signals do not see it (another worker, a bulk write)
    ReportingPeriod.objects.bulk_create(
        [
            ReportingPeriod(
                plan=plan, code="Q1", deadline=datetime.date(2025, 3, 10), cutoff=national_cutoff("Q1", 2025)
            )
        ]
    )
    new = ReportingPeriod.objects.get(plan=plan)
    assert period_choices(TODAY) is kept  # nobody named it: the kept list stands
    groups = period_choices(TODAY, new.pk)
    assert period_known(groups, new.pk)
    assert period_choices(TODAY) is groups  # and is now the kept one
    # an id that is no period is not found either way
    assert not period_known(period_choices(TODAY, new.pk + 1000), new.pk + 1000)


def _launch_one(plan_periods: dict[str, Any], code: str) -> None:
    """A run in one period, written directly: the picker only asks whether a period has runs."""
    from viewflow.workflow.models import Process

    period = plan_periods[code]
    appendix = AppendixFactory(plan=period.plan, number=period.plan.appendices.count() + 1)
    task = plan_task(CriterionFactory(section=SectionFactory(appendix=appendix)), lead=[])
    PeriodTask.objects.create(plan_task=task, period=period, process=Process.objects.create(flow_class="x"))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (datetime.date(2024, 3, 1), ("used", "Q1")),  # the next deadline of the plan with runs
        (datetime.date(2024, 6, 11), ("used", "Q3")),  # upcoming: no runs yet is fine
        (datetime.date(2024, 12, 20), ("used", "H1")),  # all passed: the latest with runs, not Y
        (datetime.date(2026, 12, 2), ("used", "H1")),  # years later: never the empty 2025 plan
    ],
)
def test_default_period_is_next_or_latest_passed_never_an_empty_plan(
    today: datetime.date, expected: tuple[str, str]
) -> None:
    used = periods(PlanFactory(year=2024))
    empty = periods(PlanFactory(year=2025))
    _launch_one(used, "Q1")
    _launch_one(used, "H1")
    chosen = period_default(today)
    assert chosen == {"used": used, "empty": empty}[expected[0]][expected[1]]


def test_default_period_without_any_run_is_the_next_deadline() -> None:
    ps = periods(PlanFactory(year=2024))
    assert period_default(datetime.date(2024, 4, 1)) == ps["H1"]
    assert period_default(datetime.date(2025, 4, 1)) == ps["Y"]


def test_period_options_html_escapes_plan_titles_and_marks_the_chosen_period() -> None:
    ps = periods(PlanFactory(year=2024, title='Kế hoạch <script>alert("x")</script> & co'))
    html = str(period_options_html(period_choices(TODAY), ps["H1"].pk, blank="Tất cả"))
    assert "<script>" not in html
    assert 'label="Năm 2024 – Kế hoạch &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"' in html
    assert html.startswith('<option value="">Tất cả</option><optgroup ')
    assert f'<option value="{ps["H1"].pk}" selected>6 tháng/2024</option>' in html
    assert html.count(" selected") == 1


def test_units_matching_folds_names_as_the_plan_search_does(units: dict[str, Any]) -> None:
    from workflow.selectors import search_words, units_matching

    assert units_matching("cong nghiep") == [units["QLCN"].pk]
    assert units_matching("qltm") == [units["QLTM"].pk]
    assert set(units_matching("phong")) >= {units["QLCN"].pk, units["QLTM"].pk}
    assert units_matching("khong co don vi nay") == []
    # the search as kept: printable, spaces folded, at most 200 characters
    assert search_words("  Điện\x00 lực\t\n ") == "Điện lực"
    assert len(search_words("đ" * 5000)) == 200

"""Step due dates in working days (docs/calendar.md): launch, Tết, entered days off, rework."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse

from plans import calendar
from plans.models import PlanTask, ReportingPeriod
from tests.factories import CriterionFactory, PlanFactory, periods, plan_task
from tests.helpers import LEAD_REPORT, TZ, at, do
from workflow import counting, services
from workflow.models import Bucket, PeriodTask, Step

D = datetime.date


def due_dates(period: ReportingPeriod) -> dict[str, datetime.date]:
    return {
        kind: services.step_due_date(period=period, kind=kind)
        for kind in ("lead", "partner", "review", "sign_off")
    }


@pytest.mark.django_db
def test_quy_i_2024_deadline_on_a_sunday_gives_due_dates_on_working_days() -> None:
    # Given Quý I/2024 with its default deadline, Sunday 10/03/2024
    period = periods(PlanFactory(year=2024))["Q1"]
    assert period.deadline == D(2024, 3, 10)
    # Then sign-off is due on Friday 08/03 and the offsets count working days back from it
    assert due_dates(period) == {
        "sign_off": D(2024, 3, 8),
        "review": D(2024, 3, 6),
        "partner": D(2024, 3, 4),
        "lead": D(2024, 2, 29),
    }
    assert period.judged_deadline == D(2024, 3, 8)


@pytest.mark.django_db
def test_reviews_of_6_thang_and_quy_iii_2024_no_longer_fall_on_a_weekend() -> None:
    ps = periods(PlanFactory(year=2024))
    assert due_dates(ps["H1"])["review"] == D(2024, 6, 6)  # was Saturday 08/06
    assert due_dates(ps["Q3"])["review"] == D(2024, 9, 6)  # was Sunday 08/09


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        (
            "previous",
            {
                "sign_off": D(2024, 2, 7),
                "review": D(2024, 2, 5),
                "partner": D(2024, 2, 1),
                "lead": D(2024, 1, 30),
            },
        ),
        (
            "next",
            {
                "sign_off": D(2024, 2, 15),
                "review": D(2024, 2, 6),
                "partner": D(2024, 2, 2),
                "lead": D(2024, 1, 31),
            },
        ),
    ],
)
def test_a_deadline_inside_tet_gets_working_day_due_dates(
    settings: Any, shift: str, expected: dict[str, datetime.date]
) -> None:
    # Given a period deadline of 14/02/2024, the last day of Tết (08–14/02)
    settings.DUE_DATE_SHIFT = shift
    period = periods(PlanFactory(year=2024))["Q1"]
    period.deadline = D(2024, 2, 14)
    # Then every step is due on a working day, outside Tết
    assert due_dates(period) == expected
    assert all(calendar.is_working_day(day) for day in expected.values())


def test_no_launched_step_of_any_period_is_due_on_a_day_off(units: Any, personas: Any) -> None:
    # Given the office entered a day off on Thursday 29/02/2024 (where Quý I's lead step would fall)
    calendar.calendar_day_add(
        day=D(2024, 2, 29), kind="day_off", note="Nghỉ đột xuất", actor=personas["office_reviewer"]
    )
    for year in (2024, 2025):
        plan = PlanFactory(year=year)
        criterion = CriterionFactory(section__appendix__plan=plan)
        tasks = [
            plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]]),
            plan_task(criterion, lead=[units["ATNL"]], timeline_kind=PlanTask.TimelineKind.YEAR),
        ]
        for period in periods(plan).values():
            services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=tasks)
    # When every lead step is done, so that partner, review and sign-off steps exist too
    for step in Step.objects.filter(kind="lead").select_related("unit"):
        user = personas["staff"] if step.unit.short_name == "QLCN" else personas["atnl_staff"]
        do(step, user, **LEAD_REPORT)
    # Then no step of any period is due on a Saturday, Sunday, public holiday or entered day off
    dues = set(Step.objects.values_list("due_date", flat=True))
    assert set(Step.objects.values_list("kind", flat=True)) == {"lead", "partner", "review"}
    assert dues and all(calendar.is_working_day(day) for day in dues), sorted(dues)
    assert D(2024, 2, 29) not in dues
    q1 = PeriodTask.objects.filter(period__code="Q1", period__plan__year=2024).first()
    assert q1.steps.get(kind="lead").due_date == D(2024, 2, 28)


def test_a_returned_step_is_due_three_working_days_after_the_return_and_not_overdue_that_day(
    units: Any, personas: Any, client: Any
) -> None:
    # Given Quý I/2024 (deadline 10/03, lead due 29/02), launched and reported
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    with at(D(2024, 2, 26)):
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        pt = PeriodTask.objects.get(plan_task=task)
        do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    # When the office returns it on Wednesday 06/03, after the lead step's first due date
    with at(D(2024, 3, 6)):
        do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="lead", reason="Thiếu tài liệu")
        rework = pt.steps.get(kind="lead", state="open")
        # Then the re-opened step is due three working days later, and not overdue today
        assert (rework.round, rework.due_date) == (2, D(2024, 3, 11))
        assert not rework.is_overdue()
        # And the pages show it as rework time, beside the period's own deadline
        client.force_login(personas["staff"])
        html = client.get(reverse("workflow:unit_queue")).content.decode()
        assert "11/03/2024 (hạn làm lại)" in html
        assert "Hạn nộp của kỳ: 10/03/2024 (tính là 08/03/2024)" in html
        assert "– quá hạn" not in html and "row-overdue" not in html
        services.step_claim(step_id=rework.pk, user=personas["staff"])
        page = client.get(reverse("workflow:step", args=[rework.pk])).content.decode()
        assert '<dt>Hạn làm lại</dt><dd class="">11/03/2024</dd>' in page
        assert "<dt>Hạn nộp của kỳ</dt><dd>10/03/2024 (ngày nghỉ: tính là 08/03/2024)</dd>" in page
    # And the run is still judged against the period deadline: overdue after it, whatever the rework date
    pt.refresh_from_db()
    assert pt.bucket(D(2024, 3, 11)) == Bucket.OPEN_OVERDUE
    # And the dashboard's overdue steps show the rework date beside the period deadline it is judged by
    with at(D(2024, 3, 12)):
        client.force_login(personas["office_reviewer"])
        html = client.get(reverse("dashboard:index"), {"period": period.pk}).content.decode()
        assert "11/03/2024 <span" in html
        assert "(hạn làm lại; kết quả kỳ tính theo hạn nộp 10/03/2024)" in html


def test_a_return_on_a_friday_gives_three_working_days_from_monday(units: Any, personas: Any) -> None:
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    with at(D(2024, 3, 1)):
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        pt = PeriodTask.objects.get(plan_task=task)
        do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    with at(D(2024, 3, 8)):
        do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="lead", reason="Bổ sung")
    assert pt.steps.get(kind="lead", state="open").due_date == D(2024, 3, 13)


def test_an_early_return_keeps_the_normal_due_date_when_it_is_later(
    units: Any, personas: Any, settings: Any
) -> None:
    settings.REWORK_WORKING_DAYS = 2
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    with at(D(2024, 2, 19)):
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        pt = PeriodTask.objects.get(plan_task=task)
        do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
        do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="lead", reason="Bổ sung")
    assert pt.steps.get(kind="lead", state="open").due_date == D(2024, 2, 29)  # not 21/02


def test_a_deadline_on_an_entered_day_off_is_judged_on_the_working_day_before_in_python_and_sql(
    units: Any, personas: Any
) -> None:

    # Given 6 tháng/2024 (deadline Monday 10/06) with two runs completed on 07/06 and on 10/06
    criterion = CriterionFactory()
    tasks = [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(2)]
    period = periods(criterion.section.appendix.plan)["H1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=tasks)
    early, on_the_day = (PeriodTask.objects.get(plan_task=t) for t in tasks)
    for run, day in ((early, 7), (on_the_day, 10)):
        PeriodTask.objects.filter(pk=run.pk).update(
            completed_at=datetime.datetime(2024, 6, day, 16, tzinfo=TZ)
        )

    def buckets() -> tuple[list[str], list[str]]:
        runs = PeriodTask.objects.select_related("period").order_by("pk")
        by_python = [str(run.bucket(D(2024, 6, 20))) for run in runs]
        by_sql = list(
            runs.annotate(b=counting.rule_for(period).annotation(D(2024, 6, 20), anchor="run")).values_list(
                "b", flat=True
            )
        )
        return by_python, by_sql

    assert buckets() == ([Bucket.DONE_ON_TIME] * 2, [Bucket.DONE_ON_TIME] * 2)
    # When the office enters 10/06/2024 as a day off, the deadline counts as Friday 07/06
    calendar.calendar_day_add(
        day=D(2024, 6, 10), kind="day_off", note="Nghỉ", actor=personas["office_reviewer"]
    )
    period.refresh_from_db()
    assert (period.deadline, period.judged_deadline) == (D(2024, 6, 10), D(2024, 6, 7))
    # Then the run completed on 10/06 is late, by both counts
    expected = [Bucket.DONE_ON_TIME, Bucket.DONE_LATE]
    assert buckets() == (expected, expected)

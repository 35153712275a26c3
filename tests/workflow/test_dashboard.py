"""The progress dashboard: counts per bucket against a hand-built set, links, scope, access, queries."""

from __future__ import annotations

import datetime
import html
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans.models import PlanTask, ReportingPeriod, Unit
from tests.factories import AppendixFactory, CriterionFactory, PlanFactory, SectionFactory, periods, plan_task
from tests.helpers import do
from workflow import counting, services
from workflow.dashboard import selectors as dashboard_selectors
from workflow.dashboard import views as dashboard_views
from workflow.dashboard.selectors import DashboardFilters
from workflow.models import Bucket, PeriodTask, Stage, Step

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
LEAD_REPORT = {
    "result": "Đã triển khai",
    "self_assessment": "done",
    "explanation": "Không có tệp, xin giải trình",
}
ON_TIME, LATE, IN_TIME, OVERDUE, NOT_STARTED = (
    Bucket.DONE_ON_TIME,
    Bucket.DONE_LATE,
    Bucket.OPEN_IN_TIME,
    Bucket.OPEN_OVERDUE,
    Bucket.NOT_STARTED,
)
COUNT_LINK = re.compile(r'<a class="count(?: zero)?" href="([^"]+)" title="[^"]*">(\d+)</a>')
TASK_LINK = re.compile(r'href="/quy-trinh/nhiem-vu/(\d+)/"')
QUERY_BOUND = 12


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=ICT)


def travel(moment: datetime.datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def complete(pt: PeriodTask, when: datetime.datetime) -> None:
    """Signed off at ``when`` (a direct update: the services' path is covered by task "a")."""
    PeriodTask.objects.filter(pk=pt.pk).update(
        stage=Stage.DONE, started_at=when - datetime.timedelta(days=2), completed_at=when
    )
    Step.objects.filter(period_task=pt, state=Step.State.OPEN).update(state=Step.State.DONE)


# --- the hand-built set ---------------------------------------------------------------------


@pytest.fixture
def world(units: dict[str, Unit], personas: dict[str, Any]) -> dict[str, Any]:
    """Two appendices, three lead units, two periods (Q1 due 10/3/2024, H1 due 10/6/2024).

    Q1: a on time (the whole flow through the services, 5/3); b on time (23:30 on 8/3);
    c late (00:30 on 9/3: still 8/3 in UTC; the Sunday deadline 10/3 counts as Friday 8/3); d late, led by QLCN and QLTM; e started and
    open; f untouched; l cancelled. H1: g started, h untouched, i done early. j ("Năm")
    and k (policy) never launched.
    """
    plan = PlanFactory()
    a1 = AppendixFactory(plan=plan, number=1)
    a2 = AppendixFactory(plan=plan, number=2, title="Phụ lục 2")
    s11 = SectionFactory(appendix=a1, code="I", order=1)
    s12 = SectionFactory(appendix=a1, code="II", title="XÂY DỰNG THỂ CHẾ", order=2)
    s21 = SectionFactory(appendix=a2, code="I", order=1)
    c11, c12, c21 = (CriterionFactory(section=s) for s in (s11, s12, s21))
    qlcn, qltm, atnl = units["QLCN"], units["QLTM"], units["ATNL"]
    tasks = {
        "a": plan_task(c11, lead=[qlcn], task="a – ban hành kế hoạch"),
        "b": plan_task(c11, lead=[qltm], task="b – tuyên truyền"),
        "c": plan_task(c12, lead=[qlcn], task="c – rà soát văn bản"),
        "d": plan_task(c21, lead=[qlcn, qltm], task="d – đơn giản hóa thủ tục"),
        "e": plan_task(c21, lead=[atnl], task="e – kiểm soát thủ tục"),
        "f": plan_task(c12, lead=[atnl], task="f – kiểm tra văn bản"),
        "l": plan_task(c21, lead=[qlcn], task="l – nhiệm vụ trùng"),
        "g": plan_task(c11, lead=[qlcn], task="g – theo dõi"),
        "h": plan_task(c21, lead=[qltm], task="h – số hóa hồ sơ"),
        "i": plan_task(c12, lead=[atnl], task="i – tập huấn"),
        "j": plan_task(c11, lead=[qlcn], timeline_kind=PlanTask.TimelineKind.YEAR, task="j – năm"),
        "k": plan_task(c11, lead=[qlcn], timeline_kind=PlanTask.TimelineKind.POLICY, task="k – chính sách"),
    }
    ps = periods(plan)
    office, staff = personas["office_reviewer"], personas["staff"]
    with travel(at(2024, 3, 1)):
        services.period_launch(period=ps["Q1"], actor=office, plan_tasks=[tasks[k] for k in "abcdefl"])
        services.period_launch(period=ps["H1"], actor=office, plan_tasks=[tasks[k] for k in "ghi"])
    pts = {k: PeriodTask.objects.get(plan_task=t) for k, t in tasks.items() if k not in "jk"}
    with travel(at(2024, 3, 2)):
        e_lead = pts["e"].steps.get(kind=Step.Kind.LEAD)
        services.step_claim(step_id=e_lead.pk, user=personas["atnl_staff"])
        services.step_save_draft(step_id=e_lead.pk, user=personas["atnl_staff"], data={"result": "Đang làm"})
        services.period_task_cancel(period_task_id=pts["l"].pk, actor=office, reason="Trùng nhiệm vụ a")
    with travel(at(2024, 3, 5, 10)):
        do(pts["a"].steps.get(kind=Step.Kind.LEAD), staff, **LEAD_REPORT)
        do(pts["a"].steps.get(kind=Step.Kind.REVIEW), office, decision="approve", reason="")
        do(pts["a"].steps.get(kind=Step.Kind.SIGN_OFF), personas["director"], decision="approve", reason="")
    # Quý I's deadline, Sunday 10/03/2024, counts as Friday 08/03 (docs/calendar.md)
    complete(pts["b"], at(2024, 3, 8, 23, 30))
    complete(pts["c"], at(2024, 3, 9, 0, 30))
    complete(pts["d"], at(2024, 3, 15))
    complete(pts["i"], at(2024, 3, 18))
    PeriodTask.objects.filter(pk=pts["g"].pk).update(started_at=at(2024, 3, 3))
    for pt in pts.values():
        pt.refresh_from_db()
    return {
        "plan": plan,
        "periods": ps,
        "tasks": tasks,
        "pts": pts,
        "sections": {"1/I": s11, "1/II": s12, "2/I": s21},
        "units": units,
    }


def page_counts(content: str) -> dict[tuple[tuple[str, str], ...], int]:
    """Every linked count of a dashboard page, keyed by its filters (the period left out)."""
    found: dict[tuple[tuple[str, str], ...], int] = {}
    for href, number in COUNT_LINK.findall(content):
        params = tuple(
            sorted((k, v) for k, v in parse_qsl(urlsplit(html.unescape(href)).query) if k != "period")
        )
        assert found.setdefault(params, int(number)) == int(number), params  # the same link, the same number
    return found


def key(**params: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def listed(client: Any, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return [int(pk) for pk in TASK_LINK.findall(response.content.decode())]


# --- the buckets: SQL and Python agree -------------------------------------------------------


@pytest.mark.parametrize(
    "today",
    [
        datetime.date(2024, 3, 8),
        datetime.date(2024, 3, 9),
        datetime.date(2024, 3, 10),
        datetime.date(2024, 3, 11),
        datetime.date(2024, 3, 20),
        datetime.date(2024, 6, 11),
        datetime.date(2025, 1, 2),
    ],
)
@pytest.mark.parametrize("code", ["Q1", "H1", "Y"])
def test_sql_statuses_equal_python_classify_for_every_task(
    world: dict[str, Any], today: datetime.date, code: str
) -> None:
    # Given the hand-built plan: runs of both periods, a cancelled one, tasks never launched
    period = ReportingPeriod.objects.select_related("plan").get(plan=world["plan"], code=code)
    rule = counting.rule_for(period)
    runs = {pt.plan_task_id: pt for pt in PeriodTask.objects.filter(period=period)}
    by_python = {
        t.pk: rule.classify(
            plan_task_id=t.pk,
            timeline_kind=t.timeline_kind,
            due_date=t.due_date,
            run=None
            if t.pk not in runs
            else counting.RunState(runs[t.pk].stage, runs[t.pk].started_at, runs[t.pk].completed_at),
            today=today,
        )
        for t in PlanTask.objects.filter(plan=world["plan"])
    }
    assert len(by_python) == 12

    # When the database counts each task, and labels each task and each run
    counted = rule.plan_tasks().values("pk").annotate(**dashboard_selectors._count_columns(rule, today))
    labelled = dict(rule.plan_tasks().annotate(s=rule.annotation(today)).values_list("pk", "s"))
    by_run = dict(
        PeriodTask.objects.filter(period=period)
        .annotate(s=rule.annotation(today, anchor="run"))
        .values_list("plan_task_id", "s")
    )

    # Then each task is counted once, with the status Python gives it; runs agree with their task
    for row in counted:
        assert {b: n for b, n in dashboard_selectors._counts_of(row).items() if n} == {
            by_python[row["pk"]]: 1
        }
    assert labelled == by_python
    assert by_run == {pk: by_python[pk] for pk in runs}
    # and the run's own page (PeriodTask.bucket) says the same
    assert {pk: run.bucket(today) for pk, run in runs.items()} == by_run


def test_completion_day_is_taken_in_vietnam_time(world: dict[str, Any]) -> None:
    # b: 23:30 on 8/3 (on time); c: 00:30 on 9/3, which is still 8/3 in UTC (late): the
    # deadline, Sunday 10/3, counts as Friday 8/3
    today = datetime.date(2024, 3, 20)
    rule = counting.rule_for(world["periods"]["Q1"])
    labelled = dict(rule.plan_tasks().annotate(b=rule.annotation(today)).values_list("pk", "b"))
    assert labelled[world["tasks"]["b"].pk] == ON_TIME
    assert labelled[world["tasks"]["c"].pk] == LATE


# --- the dashboard's numbers ---------------------------------------------------------------------


def test_office_dashboard_counts_the_period_per_appendix_section_and_unit(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1 = world["periods"]["Q1"]
    s, u = world["sections"], world["units"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["office_reviewer"])
        response = client.get(reverse("dashboard:index"), {"period": q1.pk})
    assert response.status_code == 200
    counts = page_counts(response.content.decode())

    def row(**params: Any) -> list[int]:
        return [counts[key(**params, bucket=b)] for b in (ON_TIME, LATE, IN_TIME, OVERDUE, NOT_STARTED)] + [
            counts[key(**params)]
        ]

    # Totals: the cancelled run l is no result; the not launched ones are counted apart
    assert row() == [2, 2, 0, 2, 0, 6]
    assert row(appendix=1) == [2, 1, 0, 1, 0, 4]
    assert row(appendix=2) == [0, 1, 0, 1, 0, 2]
    assert row(section=s["1/I"].pk) == [2, 0, 0, 0, 0, 2]
    assert row(section=s["1/II"].pk) == [0, 1, 0, 1, 0, 2]
    assert row(section=s["2/I"].pk) == [0, 1, 0, 1, 0, 2]
    # d, led by QLCN and QLTM, counts for both
    assert row(unit=u["QLCN"].pk) == [1, 2, 0, 0, 0, 3]
    assert row(unit=u["QLTM"].pk) == [1, 1, 0, 0, 0, 2]
    assert row(unit=u["ATNL"].pk) == [0, 0, 0, 2, 0, 2]
    # The cancelled run l is linked on a line of its own, in its appendix, section and unit
    assert counts[key(bucket="canceled")] == 1
    assert (counts[key(appendix=1, bucket="canceled")], counts[key(appendix=2, bucket="canceled")]) == (0, 1)
    assert counts[key(unit=u["QLCN"].pk, bucket="canceled")] == 1
    assert len(counts) == 7 * (1 + 2 + 3 + 3)
    # The other lines: g, h, i ("Thường xuyên") not launched; j ("Năm") not due; k (policy)
    lines = {c.bucket: c.count for c in response.context["total"].lines}
    assert lines == {"not_due": 1, "not_in_period": 1, "not_launched": 3, "canceled": 1}
    assert response.context["total"].everything == 12
    # g, h and i ("Thường xuyên") run in H1 only; j ("Năm") and k (policy) are not due in Q1
    assert response.context["not_launched"] == 3
    assert "3 nhiệm vụ chưa khởi tạo trong kỳ" in response.content.decode()
    # The overdue open steps, oldest first, with who holds them
    steps = response.context["overdue_steps"]
    assert [(o.step.period_task_id, o.step.kind, o.step.assignee_id, o.days_late) for o in steps] == [
        # lead steps due Thursday 29/02/2024: six working days before the deadline (docs/calendar.md)
        (world["pts"]["e"].pk, "lead", personas["atnl_staff"].pk, 20),
        (world["pts"]["f"].pk, "lead", None, 20),
    ]
    assert "Chưa nhận</span> – Phòng An toàn - Năng lượng" in response.content.decode()


def test_a_period_before_its_deadline_shows_open_in_time_and_not_started(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    h1 = world["periods"]["H1"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["director"])
        response = client.get(reverse("dashboard:index"), {"period": h1.pk})
    counts = page_counts(response.content.decode())
    assert [counts[key(bucket=b)] for b in (ON_TIME, LATE, IN_TIME, OVERDUE, NOT_STARTED)] == [1, 0, 1, 0, 1]
    assert response.context["not_launched"] == 7  # a–f and l run in Q1 only
    assert response.context["overdue_steps"] == []


def test_the_annual_period_counts_year_tasks_as_not_launched(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    with travel(at(2024, 3, 20)):
        client.force_login(personas["auditor"])
        response = client.get(reverse("dashboard:index"), {"period": world["periods"]["Y"].pk})
    assert response.context["not_launched"] == 11  # ten "Thường xuyên" and j ("Năm"); never k
    assert page_counts(response.content.decode())[key()] == 0


@pytest.mark.parametrize(
    ("moment", "code"),
    # On 20/12 nothing is upcoming and Y has no run: the latest passed period with runs
    [(at(2024, 3, 20), "H1"), (at(2024, 3, 10, 23), "Q1"), (at(2024, 12, 20), "H1")],
)
def test_default_period_is_the_nearest_upcoming_deadline_else_the_latest(
    client: Any, world: dict[str, Any], personas: dict[str, Any], moment: datetime.datetime, code: str
) -> None:
    with travel(moment):
        client.force_login(personas["office_reviewer"])
        response = client.get(reverse("dashboard:index"))
    assert response.context["period"] == world["periods"][code]


def test_unit_head_sees_only_the_tasks_their_unit_leads(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1, u, pts = world["periods"]["Q1"], world["units"], world["pts"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["unit_head"])  # head of QLCN
        response = client.get(reverse("dashboard:index"), {"period": q1.pk})
        assert response.status_code == 200
        counts = page_counts(response.content.decode())
        # a (on time), c and d (late); d's co-lead QLTM has no row here
        assert counts[key()] == 3
        assert [counts[key(bucket=b)] for b in (ON_TIME, LATE, OVERDUE)] == [1, 2, 0]
        assert (counts[key(appendix=1)], counts[key(appendix=2)]) == (2, 1)
        assert counts[key(unit=u["QLCN"].pk)] == 3
        assert key(unit=u["QLTM"].pk) not in counts
        assert key(unit=u["ATNL"].pk) not in counts
        assert response.context["not_launched"] == 1  # g
        assert response.context["overdue_steps"] == []  # e and f are ATNL's
        # Asking the list for another unit's tasks gives only those the head's unit co-leads
        assert listed(client, reverse("dashboard:tasks") + f"?period={q1.pk}") == [
            pts["a"].pk,
            pts["c"].pk,
            pts["d"].pk,
        ]
        assert listed(client, reverse("dashboard:tasks") + f"?period={q1.pk}&unit={u['QLTM'].pk}") == [
            pts["d"].pk
        ]
        assert listed(client, reverse("dashboard:tasks") + f"?period={q1.pk}&unit={u['ATNL'].pk}") == []


# --- the period selector: a bounded list, the shown period resolved by id ---------------------------

OPTION = re.compile(r'<option value="(\d+)"( selected)?>')


def options(response: Any) -> tuple[list[int], list[int]]:
    """The selector's period ids, and those marked selected."""
    found = OPTION.findall(response.content.decode())
    return [int(pk) for pk, _ in found], [int(pk) for pk, sel in found if sel]


def plan_of(year: int, units: dict[str, Unit]) -> dict[str, Any]:
    """Another plan with its four periods and three tasks: x (QLCN), y (ATNL), z (QLCN, "Năm")."""
    plan = PlanFactory(year=year, title=f"Kế hoạch CCHC năm {year}")
    criterion = CriterionFactory(section=SectionFactory(appendix=AppendixFactory(plan=plan)))
    tasks = {
        "x": plan_task(criterion, lead=[units["QLCN"]], task="x"),
        "y": plan_task(criterion, lead=[units["ATNL"]], task="y"),
        "z": plan_task(criterion, lead=[units["QLCN"]], timeline_kind=PlanTask.TimelineKind.YEAR, task="z"),
    }
    return {"plan": plan, "periods": periods(plan), "tasks": tasks}


def test_not_launched_is_counted_for_the_shown_period_and_its_plan_alone(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    other = plan_of(2024, world["units"])
    with travel(at(2024, 3, 1)):
        services.period_launch(
            period=other["periods"]["Q1"], actor=personas["office_reviewer"], plan_tasks=[other["tasks"]["y"]]
        )

    def not_launched(persona: str, period: ReportingPeriod) -> int:
        with travel(at(2024, 3, 20)):
            client.force_login(personas[persona])
            response = client.get(reverse("dashboard:index"), {"period": period.pk})
        assert response.status_code == 200
        assert response.context["period"] == period
        shown = response.context["not_launched"]
        assert f"{shown} nhiệm vụ chưa khởi tạo trong kỳ" in response.content.decode()
        return shown

    # The other plan: y ran in its Q1; z ("Năm") is due in Y only; the head of QLCN counts x and z
    assert not_launched("director", other["periods"]["Q1"]) == 1  # x
    assert not_launched("unit_head", other["periods"]["Q1"]) == 1  # x
    assert not_launched("director", other["periods"]["Y"]) == 3  # x, y, z
    assert not_launched("unit_head", other["periods"]["Y"]) == 2  # x, z
    assert not_launched("director", other["periods"]["H1"]) == 2  # x, y
    # The first plan's counts are untouched by the other plan's tasks
    assert not_launched("office_reviewer", world["periods"]["Q1"]) == 3
    assert not_launched("unit_head", world["periods"]["Q1"]) == 1
    assert not_launched("unit_head", world["periods"]["Y"]) == 6  # a, c, d, g, l and j


OPTGROUP = re.compile(r'<optgroup label="([^"]+)">(.*?)</optgroup>', re.S)


def test_selector_reaches_every_period_of_every_plan_grouped_by_plan(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    last_year, old = plan_of(2023, world["units"]), plan_of(2021, world["units"])
    with travel(at(2026, 12, 2)):  # years after every plan: nothing is left out for its age
        client.force_login(personas["director"])
        default = client.get(reverse("dashboard:index"))
        shown_old = client.get(reverse("dashboard:index"), {"period": old["periods"]["H1"].pk})
        listed_old = client.get(reverse("dashboard:tasks"), {"period": old["periods"]["H1"].pk})
    # One <optgroup> per plan, newest year first, each plan's periods by deadline
    groups = OPTGROUP.findall(default.content.decode())
    assert [html.unescape(label) for label, _ in groups] == [
        "Năm 2024 – Kế hoạch cải cách hành chính năm 2024",
        "Năm 2023 – Kế hoạch CCHC năm 2023",
        "Năm 2021 – Kế hoạch CCHC năm 2021",
    ]
    expected = [world["periods"], last_year["periods"], old["periods"]]
    for (_label, body), ps in zip(groups, expected, strict=True):
        assert [int(pk) for pk in re.findall(r'value="(\d+)"', body)] == [
            ps[c].pk for c in ("Q1", "H1", "Q3", "Y")
        ]
    # It opens on the plan that has runs: its period most recently passed (nothing is upcoming)
    assert options(default)[1] == [world["periods"]["H1"].pk]
    # An older period opens by its id, shown selected in its plan's group
    assert shown_old.status_code == 200
    assert shown_old.context["period"] == old["periods"]["H1"]
    assert options(shown_old)[1] == [old["periods"]["H1"].pk]
    assert "kỳ 6 tháng/2021" in shown_old.content.decode()
    option = f'<option value="{old["periods"]["H1"].pk}" selected>6 tháng/2021 (hạn 10/06/2021)</option>'
    assert option in shown_old.content.decode()
    assert shown_old.context["not_launched"] == 2  # x and y
    assert listed_old.status_code == 200
    assert listed_old.context["period"] == old["periods"]["H1"]


@pytest.mark.parametrize(
    ("moment", "which"),
    [
        (at(2024, 3, 20), ("first", "H1")),  # the same upcoming deadline in two plans: the older row
        (at(2024, 12, 10, 23), ("first", "Y")),
        # nothing upcoming: the latest passed period with runs (the second plan has none, Y neither)
        (at(2024, 12, 20), ("first", "H1")),
    ],
)
def test_default_period_among_several_plans(
    client: Any,
    world: dict[str, Any],
    personas: dict[str, Any],
    moment: datetime.datetime,
    which: tuple[str, str],
) -> None:
    second = plan_of(2024, world["units"])
    older = plan_of(2023, world["units"])
    expected = {"first": world["periods"], "second": second["periods"]}[which[0]][which[1]]
    assert older["periods"]["Y"].deadline < world["periods"]["Y"].deadline
    with travel(moment):
        client.force_login(personas["office_reviewer"])
        response = client.get(reverse("dashboard:index"))
        tasks_page = client.get(reverse("dashboard:tasks"))
    assert response.context["period"] == expected
    assert options(response)[1] == [expected.pk]
    assert tasks_page.context["period"] == expected


def test_unknown_period_is_404_even_among_many_plans(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    plan_of(2023, world["units"])
    missing = ReportingPeriod.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    with travel(at(2024, 3, 20)):
        client.force_login(personas["unit_head"])
        for page in ("dashboard:index", "dashboard:tasks"):
            assert client.get(reverse(page), {"period": missing}).status_code == 404
            assert client.get(reverse(page), {"period": "abc"}).status_code == 200  # not an id: the default


# --- every number links to exactly the tasks behind it ---------------------------------------------


def expected_tasks(
    period: ReportingPeriod, params: dict[str, str], today: datetime.date, unit: Unit | None
) -> list[int]:
    """The runs a count stands for, worked out in Python from PeriodTask.bucket()."""
    chosen = []
    runs = (
        PeriodTask.objects.filter(period=period)
        .select_related("period__plan", "plan_task__criterion__section__appendix")
        .prefetch_related("plan_task__lead_units")
        .order_by("plan_task__position")
    )
    for pt in runs:
        leads = {x.pk for x in pt.plan_task.lead_units.all()}
        section = pt.plan_task.criterion.section
        if (
            (unit is None or unit.pk in leads)
            # without a status: the runs the result counts (a cancelled run only when asked for)
            and params.get("bucket", "counted")
            in (pt.bucket(today), "counted" if pt.stage != Stage.CANCELED else "")
            and int(params.get("appendix", section.appendix.number)) == section.appendix.number
            and int(params.get("section", section.pk)) == section.pk
            and (int(params.get("unit", 0)) in leads if "unit" in params else True)
        ):
            chosen.append(pt.pk)
    return chosen


@pytest.mark.parametrize(("persona", "scoped"), [("office_reviewer", False), ("unit_head", True)])
@pytest.mark.parametrize("code", ["Q1", "H1"])
def test_each_count_links_to_exactly_the_tasks_it_counts(
    client: Any, world: dict[str, Any], personas: dict[str, Any], persona: str, scoped: bool, code: str
) -> None:
    period = world["periods"][code]
    today = datetime.date(2024, 3, 20)
    with travel(at(2024, 3, 20)):
        client.force_login(personas[persona])
        content = client.get(reverse("dashboard:index"), {"period": period.pk}).content.decode()
        links = COUNT_LINK.findall(content)
        assert links
        for href, number in links:
            url = html.unescape(href)
            params = dict(parse_qsl(urlsplit(url).query))
            assert params["period"] == str(period.pk)
            want = expected_tasks(period, params, today, world["units"]["QLCN"] if scoped else None)
            assert listed(client, url) == want, url
            assert len(want) == int(number), url


def test_task_list_shows_task_leads_stage_and_bucket(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1, pts = world["periods"]["Q1"], world["pts"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["auditor"])
        response = client.get(reverse("dashboard:tasks"), {"period": q1.pk, "bucket": LATE, "appendix": 2})
    content = response.content.decode()
    assert [row.run.pk for row in response.context["period_tasks"]] == [pts["d"].pk]
    assert "d – đơn giản hóa thủ tục" in content
    assert re.search(r">QLCN</span>, <span[^>]*>QLTM<", content)
    assert "Hoàn thành</td>" in content  # the stage
    assert '<span class="pill orange">Hoàn thành quá hạn</span>' in content


def test_task_list_pages_without_counting(
    client: Any, world: dict[str, Any], personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_views, "PAGE_SIZE", 4)
    q1, pts = world["periods"]["Q1"], world["pts"]
    url = reverse("dashboard:tasks")
    with travel(at(2024, 3, 20)):
        client.force_login(personas["office_reviewer"])
        with CaptureQueriesContext(connection) as queries:
            first = client.get(url, {"period": q1.pk})
        second = client.get(url, {"period": q1.pk, "page": 2})
    assert [row.run.pk for row in first.context["period_tasks"]] == [pts[k].pk for k in "abcd"]
    assert first.context["has_next"] is True
    assert f"?period={q1.pk}&amp;page=2" in first.content.decode()
    assert [row.run.pk for row in second.context["period_tasks"]] == [pts[k].pk for k in "ef"]
    assert second.context["has_next"] is False
    assert not [q for q in queries if "COUNT(" in q["sql"].upper() and "workflow_periodtask" in q["sql"]]


def test_unknown_period_is_404_and_unknown_filters_are_ignored(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1 = world["periods"]["Q1"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["office_reviewer"])
        for page in ("dashboard:index", "dashboard:tasks"):
            unknown = client.get(reverse(page), {"period": 999_999})
            # the page says so in Vietnamese, and offers the picker to choose another
            assert unknown.status_code == 404
            text = unknown.content.decode()
            assert "Không tìm thấy kỳ báo cáo đã chọn. Hãy chọn một kỳ trong danh sách." in text
            assert f'<option value="{q1.pk}">' in text
        response = client.get(
            reverse("dashboard:tasks"), {"period": q1.pk, "bucket": "nonsense", "unit": "-1"}
        )
    assert len(response.context["period_tasks"]) == 6


def test_no_period_yet_shows_an_empty_dashboard(client: Any, personas: dict[str, Any]) -> None:
    client.force_login(personas["office_reviewer"])
    response = client.get(reverse("dashboard:index"))
    assert response.status_code == 200
    assert "Chưa có kỳ báo cáo nào." in response.content.decode()


# --- who may see it ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("staff", 403),
        ("other_staff", 403),
        ("unit_head", 200),
        ("office_reviewer", 200),
        ("director", 200),
        ("deputy", 200),
        ("auditor", 200),
    ],
)
@pytest.mark.parametrize("page", ["dashboard:index", "dashboard:tasks"])
def test_dashboard_access_per_role(
    client: Any, world: dict[str, Any], personas: dict[str, Any], persona: str, status: int, page: str
) -> None:
    with travel(at(2024, 3, 20)):
        client.force_login(personas[persona])
        assert client.get(reverse(page), {"period": world["periods"]["Q1"].pk}).status_code == status


@pytest.mark.parametrize("page", ["dashboard:index", "dashboard:tasks"])
def test_anonymous_is_sent_to_login(client: Any, db: Any, page: str) -> None:
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- a fixed number of queries ---------------------------------------------------------------------


def add_runs(world_min: dict[str, Any], personas: dict[str, Any], n: int) -> None:
    """n more Q1 runs spread over two appendices and three lead units, in every state."""
    criteria, leads = world_min["criteria"], world_min["leads"]
    new = [
        plan_task(criteria[i % 2], lead=[leads[i % 3]], partners=[leads[(i + 1) % 3]])
        for i in range(len(world_min["runs"]), len(world_min["runs"]) + n)
    ]
    with travel(at(2024, 3, 1)):
        started = services.period_launch(
            period=world_min["q1"], actor=personas["office_reviewer"], plan_tasks=new
        )
    for i, pt in enumerate(started.started):
        if i % 3 == 0:
            complete(pt, at(2024, 3, 8 + i % 7))
        elif i % 3 == 1:
            step = pt.steps.get(kind=Step.Kind.LEAD)
            Step.objects.filter(pk=step.pk).update(assignee=personas["staff"])
            PeriodTask.objects.filter(pk=pt.pk).update(started_at=at(2024, 3, 2))
    world_min["runs"].extend(started.started)


@pytest.fixture
def world_min(units: dict[str, Unit]) -> dict[str, Any]:
    plan = PlanFactory()
    a1, a2 = AppendixFactory(plan=plan, number=1), AppendixFactory(plan=plan, number=2)
    criteria = [CriterionFactory(section=SectionFactory(appendix=a)) for a in (a1, a2)]
    return {
        "q1": periods(plan)["Q1"],
        "criteria": criteria,
        "leads": [units["QLCN"], units["QLTM"], units["ATNL"]],
        "runs": [],
    }


def test_dashboard_takes_a_fixed_number_of_queries_for_3_and_30_runs(
    client: Any, world_min: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1 = world_min["q1"]
    pages = [
        ("office_reviewer", reverse("dashboard:index"), {"period": q1.pk}),
        ("unit_head", reverse("dashboard:index"), {"period": q1.pk}),
        ("director", reverse("dashboard:tasks"), {"period": q1.pk}),
        ("unit_head", reverse("dashboard:tasks"), {"period": q1.pk, "appendix": 1}),
    ]

    def measure() -> Iterator[int]:
        with travel(at(2024, 3, 20)):
            for persona, url, params in pages:
                client.force_login(personas[persona])
                client.get(url, params)  # warm-up: content types and the like
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url, params)
                assert response.status_code == 200
                yield len(queries)

    add_runs(world_min, personas, 3)
    with_3 = list(measure())
    add_runs(world_min, personas, 27)
    with_30 = list(measure())

    assert with_3 == with_30
    assert max(with_30) <= QUERY_BOUND, with_30


def test_dashboard_queries_do_not_grow_with_plans_and_periods(
    client: Any, world_min: dict[str, Any], personas: dict[str, Any], units: dict[str, Unit]
) -> None:
    add_runs(world_min, personas, 3)
    q1 = world_min["q1"]
    pages = [
        ("director", reverse("dashboard:index"), {}),
        ("office_reviewer", reverse("dashboard:index"), {"period": q1.pk}),
        ("unit_head", reverse("dashboard:index"), {"period": q1.pk}),
        ("director", reverse("dashboard:tasks"), {}),
        ("unit_head", reverse("dashboard:tasks"), {"period": q1.pk}),
    ]

    def measure() -> list[int]:
        counts = []
        with travel(at(2024, 3, 20)):
            for persona, url, params in pages:
                client.force_login(personas[persona])
                client.get(url, params)  # warm-up
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(url, params)
                assert response.status_code == 200
                counts.append(len(queries))
                # Periods: the shown one read by id (or the default, LIMIT 1), and the picker's
                # list of every period of every plan in at most one query, whatever their number
                # (none while this process keeps it: the warm-up read it)
                period_reads = [q["sql"] for q in queries if 'FROM "plans_reportingperiod"' in q["sql"]]
                unbounded = [sql for sql in period_reads if "LIMIT" not in sql]
                assert len(unbounded) <= 1, period_reads
                assert all('INNER JOIN "plans_plan"' in sql for sql in unbounded), period_reads
        return counts

    with_1_plan = measure()
    for year in [2024] * 10 + [2023] * 10 + list(range(2000, 2020)):
        plan_of(year, units)
    with_41_plans = measure()
    assert with_1_plan == with_41_plans
    assert max(with_41_plans) <= QUERY_BOUND, with_41_plans


# --- small pieces ------------------------------------------------------------------------------------


def test_bar_shares_add_up_to_a_hundred() -> None:
    assert dashboard_views.whole_percents([1, 1, 1, 0, 0]) == [34, 33, 33, 0, 0]
    assert dashboard_views.whole_percents([2, 1, 0, 0, 4]) == [29, 14, 0, 0, 57]
    assert dashboard_views.whole_percents([0, 0, 0, 0, 0]) == [0, 0, 0, 0, 0]


def test_dashboard_templates_hold_no_inline_style_or_script() -> None:
    # The Content Security Policy allows this site's stylesheets and scripts only.
    from pathlib import Path

    for path in Path("templates/dashboard").glob("*.html"):
        text = path.read_text()
        assert "style=" not in text and "<style" not in text and "<script" not in text, path


# --- the plan page counts by the same rule ---------------------------------------------------------


def test_plan_page_shows_each_tasks_status_in_the_period_as_the_dashboard_counts_it(
    client: Any, world: dict[str, Any], personas: dict[str, Any]
) -> None:
    q1, plan = world["periods"]["Q1"], world["plan"]
    with travel(at(2024, 3, 20)):
        client.force_login(personas["staff"])
        page = client.get(reverse("plans:plan"), {"plan": plan.pk, "period": q1.pk})
        default = client.get(reverse("plans:plan"), {"plan": plan.pk})  # opens on H1 (next deadline)
        missing = client.get(
            reverse("plans:plan"), {"plan": plan.pk, "period": world["periods"]["Y"].pk + 100}
        )
        client.force_login(personas["director"])
        dashboard_page = client.get(reverse("dashboard:index"), {"period": q1.pk})
    assert page.status_code == 200
    pills = {
        r.task.split(" – ")[0]: r.status_label
        for t in page.context["tables"]
        for r in t.rows
        if r.kind == "task"
    }
    assert pills == {
        "a": "Hoàn thành đúng hạn",
        "b": "Hoàn thành đúng hạn",
        "c": "Hoàn thành quá hạn",
        "d": "Hoàn thành quá hạn",
        "e": "Chưa hoàn thành – quá hạn",
        "f": "Chưa hoàn thành – quá hạn",
        "l": "Đã hủy quy trình",
        "g": "Chưa khởi tạo trong kỳ",
        "h": "Chưa khởi tạo trong kỳ",
        "i": "Chưa khởi tạo trong kỳ",
        "j": "Thực hiện trong năm, chưa đến hạn",
        "k": "Không phát sinh trong kỳ",
    }
    # per appendix, the same numbers as the dashboard's appendix rows (the factory's positions
    # interleave the appendices, so the page draws an appendix in several pieces: summed here)
    by_table: dict[str, Counter[str]] = {}
    for t in page.context["tables"]:
        for label, _colour, n in t.status_counts:
            by_table.setdefault(f"Phụ lục {t.number}", Counter())[label] += n
    for row in dashboard_page.context["appendix_rows"]:
        shown = {c.label: c.count for c in row.cells + row.lines if c.count}
        assert dict(by_table[row.label]) == shown, row.label
    assert default.context["results"].period == world["periods"]["H1"]
    assert missing.status_code == 404
    assert "Không tìm thấy kỳ báo cáo đã chọn trong kế hoạch này." in missing.content.decode()


@pytest.mark.parametrize("code", ["Q1", "Y"])
def test_a_period_that_launches_nothing_counts_its_tasks_on_their_lines(
    units: dict[str, Unit], code: str
) -> None:
    # Given a plan of one "Khi tham mưu…" task: no period launches anything by itself
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], timeline_kind=PlanTask.TimelineKind.POLICY)
    rule = counting.rule_for(periods(criterion.section.appendix.plan)[code])
    today = datetime.date(2024, 3, 1)

    # When the database counts it (an empty "tasks it launches" list in the SQL)
    row = rule.plan_tasks().values("pk").annotate(**dashboard_selectors._count_columns(rule, today)).get()

    # Then it is on the "not arising" line, as Python says
    assert {s: n for s, n in dashboard_selectors._counts_of(row).items() if n} == {"not_in_period": 1}
    run = None
    assert rule.classify(
        plan_task_id=task.pk, timeline_kind="policy", due_date=None, run=run, today=today
    ) == ("not_in_period")


@pytest.mark.parametrize(
    "filters",
    [
        DashboardFilters(period=7),
        DashboardFilters(period=7, appendix=2),
        DashboardFilters(period=7, bucket="done_late", section=3, unit=4),
        DashboardFilters(),
    ],
)
def test_bucket_links_are_the_filters_query_with_each_bucket(filters: DashboardFilters) -> None:
    buckets = ["done_on_time", "open_overdue", "canceled"]
    assert filters.bucket_queries(buckets) == {b: filters.query(bucket=b) for b in buckets}

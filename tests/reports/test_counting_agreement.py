"""Quý I/2024 as the office lived it: the hand count, the dashboard, the period PDF and the
period .xlsx give the same numbers, per status, per appendix and per unit, at every moment
(and the plan page the same per appendix).

The seed plan has 77 tasks: 70 "Thường xuyên", 5 "Năm 2024", 2 "Khi tham mưu…". The office
launches Quý I (internal deadline 10/03/2024, cut-off 14/03/2024) on 20/02: the 70 ongoing
tasks. Then, among them (in plan order):

- #0 is returned by the office on 26/02, reported again and signed off on 05/03: on time;
- #1 to #4 are signed off on 28/02, 04/03, 07/03 and 09/03: on time;
- #5 goes through review on 04/03 and is signed off on 11/03: late; #6 is signed off on 11/03,
  #7 and #8 on 16/03 (after the cut-off): late;
- #9 is cancelled on 01/03 (a duplicate);
- #10 is reported on 06/03 and returned on 07/03: open again;
- #11 to #20 are started on 02/03 (a draft saved) and stay open; the other 49 are never started.

Counted by hand on 20/03: 5 done on time, 4 done late, none open in time, 60 open and overdue
(70 runs less 5, 4 and the cancelled one), none not started: 69 counted. Outside the count:
1 cancelled run, 5 "Năm 2024" tasks in progress within their own due date (31/12/2024),
2 "Khi tham mưu…" tasks not arising in the period, none left unlaunched: 77 in all.
"""

from __future__ import annotations

import datetime
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from plans.models import PlanTask, ReportingPeriod
from tests.reports.conftest import TZ, act, department, flat, import_seed, open_step, pdf_pages, run_to_review
from workflow import services
from workflow.models import PeriodTask, Stage, Step

pytestmark = pytest.mark.django_db

# The internal deadline, Sunday 10/03/2024, counts as the working day before it (docs/calendar.md).
DEADLINE = datetime.date(2024, 3, 8)
STATUSES = [
    "done_on_time",
    "done_late",
    "open_in_time",
    "open_overdue",
    "not_started",
    "not_due",
    "not_in_period",
    "not_launched",
    "canceled",
]
BUCKET_LABELS = [
    "Hoàn thành đúng hạn",
    "Hoàn thành quá hạn",
    "Chưa hoàn thành – trong hạn",
    "Chưa hoàn thành – quá hạn",
    "Chưa thực hiện",
]
LINE_LABELS = [
    "Thực hiện trong năm, chưa đến hạn",
    "Không phát sinh trong kỳ",
    "Chưa khởi tạo trong kỳ",
    "Đã hủy quy trình",
]


def moment(day: datetime.date, hour: int = 15) -> Any:
    return time_machine.travel(datetime.datetime(day.year, day.month, day.day, hour, tzinfo=TZ), tick=False)


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, 10, tzinfo=TZ)


# --- the story, and the hand count from it ------------------------------------------------------


@dataclass
class Story:
    """What happened to each task, in the test's own words (no code of the product's rule)."""

    started: dict[int, datetime.date] = field(default_factory=dict)
    done: dict[int, datetime.date] = field(default_factory=dict)
    canceled: set[int] = field(default_factory=set)
    launched: set[int] = field(default_factory=set)

    def status(self, task: PlanTask, today: datetime.date) -> str:
        if task.pk not in self.launched:
            # Quý I launches the "Thường xuyên" tasks; "Năm 2024" ones are due on 31/12;
            # "Khi tham mưu…" ones only when a policy is drafted.
            return "not_due" if task.timeline_kind == "year" else "not_in_period"
        if task.pk in self.canceled:
            return "canceled"
        done = self.done.get(task.pk)
        if done is not None and done <= today:
            return "done_on_time" if done <= DEADLINE else "done_late"
        if today > DEADLINE:
            return "open_overdue"
        started = self.started.get(task.pk)
        return "open_in_time" if started is not None and started <= today else "not_started"


@dataclass
class Numbers:
    """One source's numbers: a list of nine per row (``STATUSES`` order)."""

    total: list[int]
    appendices: dict[str, list[int]]
    units: dict[str, list[int]]


def hand_count(tasks: list[PlanTask], story: Story, today: datetime.date) -> Numbers:
    total: Counter[str] = Counter()
    appendices: dict[str, Counter[str]] = {}
    units: dict[str, Counter[str]] = {}
    for task in tasks:
        status = story.status(task, today)
        total[status] += 1
        appendices.setdefault(f"Phụ lục {task.criterion.section.appendix.number}", Counter())[status] += 1
        for unit in task.lead_units.all():
            units.setdefault(unit.name, Counter())[status] += 1

    def row(c: Counter[str]) -> list[int]:
        return [c[s] for s in STATUSES]

    return Numbers(
        total=row(total),
        appendices={name: row(c) for name, c in appendices.items()},
        units={name: row(c) for name, c in units.items()},
    )


# --- what each source shows -----------------------------------------------------------------------


def _nine(counts: list[int]) -> list[int]:
    """A row as the documents print it (5 buckets, their sum, 4 lines, all) back to nine numbers."""
    buckets, counted, lines, everything = counts[:5], counts[5], counts[6:10], counts[10]
    assert counted == sum(buckets) and everything == counted + sum(lines), counts
    return buckets + lines


def dashboard_numbers(client: Any, period: ReportingPeriod) -> Numbers:
    response = client.get(reverse("dashboard:index"), {"period": period.pk})
    assert response.status_code == 200

    def row(r: Any) -> list[int]:
        return _nine([c.count for c in r.cells] + [r.total] + [c.count for c in r.lines] + [r.everything])

    ctx = response.context
    html = response.content.decode()
    total = row(ctx["total"])
    # The page prints what its context holds: the counted total and the plan's total
    assert f'title="Tổng">{sum(total[:5])}</a>' in html
    assert f'title="Tổng số nhiệm vụ của kế hoạch">{sum(total)}</span>' in html
    return Numbers(
        total=total,
        appendices={r.label: row(r) for r in ctx["appendix_rows"]},
        units={r.title: row(r) for r in ctx["unit_rows"]},
    )


NUMBERS = r"((?:\d+ ){10}\d+)"


def pdf_numbers(client: Any, period: ReportingPeriod, unit_names: list[str]) -> Numbers:
    response = client.get(reverse("reports:period_pdf", args=[period.pk]))
    assert response.status_code == 200
    pages = pdf_pages(response.content)
    first_table = next(i for i, text in enumerate(pages) if text.startswith("PHỤ LỤC"))
    summary = flat("\n".join(pages[:first_table]))
    total = []
    for number, label in enumerate(BUCKET_LABELS + LINE_LABELS, start=1):
        found = re.search(rf"(?:^| ){number} {re.escape(label)} (\d+) ", summary)
        assert found, label
        total.append(int(found.group(1)))
    assert f"Cộng (tính kết quả kỳ) {sum(total[:5])} 100%" in summary
    assert f"Tổng số nhiệm vụ của kế hoạch {sum(total)} 100%" in summary

    def rows(names: list[str]) -> dict[str, list[int]]:
        out = {}
        for name in names:
            found = re.search(rf"{re.escape(name)} {NUMBERS}", summary)
            assert found, name
            out[name] = _nine([int(n) for n in found.group(1).split()])
        return out

    appendices = rows([f"Phụ lục {n}" for n in range(1, 5)])
    units = {name: counts for name, counts in rows(unit_names).items() if any(counts)}
    return Numbers(total=total, appendices=appendices, units=units)


def xlsx_numbers(client: Any, period: ReportingPeriod) -> Numbers:
    response = client.get(reverse("reports:period_xlsx", args=[period.pk]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))

    def rows(sheet: Any) -> dict[str, list[int]]:
        # (rows 1-5: the title block, 6: the header; the summary's last row, "Tỷ lệ", the shares)
        return {
            r[0]: _nine(list(r[1:12]))
            for r in sheet.iter_rows(min_row=7, values_only=True)
            if r[0] != "Tỷ lệ"
        }

    summary = rows(book["Tổng hợp"])
    total = summary.pop("Toàn kế hoạch")
    return Numbers(
        total=total,
        appendices=rows(book["Theo phụ lục"]),
        units={name: counts for name, counts in summary.items() if any(counts)},
    )


def plan_page_appendices(client: Any, period: ReportingPeriod) -> dict[str, list[int]]:
    """The plan page's counts per appendix (its tables, unfiltered), and each row's pill."""
    response = client.get(reverse("plans:plan"), {"plan": period.plan_id, "period": period.pk})
    assert response.status_code == 200
    labels = BUCKET_LABELS + LINE_LABELS
    out = {}
    for table in response.context["tables"]:
        counts = dict.fromkeys(labels, 0)
        for label, _colour, n in table.status_counts:
            counts[label] = n
        pills = Counter(r.status_label for r in table.rows if r.kind == "task")
        assert {k: v for k, v in counts.items() if v} == dict(pills), table.number
        out[f"Phụ lục {table.number}"] = [counts[label] for label in labels]
    return out


# --- the quarter ------------------------------------------------------------------------------------


def check(
    client: Any, office: Any, period: ReportingPeriod, tasks: list[PlanTask], story: Story, day: datetime.date
) -> Numbers:
    """At ``day`` the three sources and the hand count agree, row by row."""
    by_hand = hand_count(tasks, story, day)
    with moment(day):
        client.force_login(office)
        dashboard = dashboard_numbers(client, period)
        document = pdf_numbers(client, period, sorted(by_hand.units))
        workbook = xlsx_numbers(client, period)
        plan_page = plan_page_appendices(client, period)
    assert plan_page == by_hand.appendices, (day, "plan page")
    for name, source in (("dashboard", dashboard), ("PDF", document), ("xlsx", workbook)):
        assert source.total == by_hand.total, (day, name)
        assert source.appendices == by_hand.appendices, (day, name)
        assert source.units == by_hand.units, (day, name)
    return by_hand


def finish(run: PeriodTask, day: datetime.date) -> None:
    """Signed off on ``day`` (written directly: the services' path is run for #0 and #5)."""
    PeriodTask.objects.filter(pk=run.pk).update(stage=Stage.DONE, completed_at=noon(day))
    Step.objects.filter(period_task=run, state=Step.State.OPEN).update(state=Step.State.DONE)


def test_dashboard_pdf_and_workbook_agree_with_the_hand_count_through_quy_i_2024(client: Any) -> None:
    people = department()
    plan = import_seed()
    period = ReportingPeriod.objects.select_related("plan").get(plan=plan, code="Q1")
    tasks = list(
        PlanTask.objects.filter(plan=plan)
        .select_related("criterion__section__appendix")
        .prefetch_related("lead_units")
        .order_by("position")
    )
    assert Counter(t.timeline_kind for t in tasks) == {"ongoing": 70, "year": 5, "policy": 2}
    story = Story()

    with moment(datetime.date(2024, 2, 20), 9):
        launched = services.period_launch(period=period, actor=people["office"])
    assert len(launched.started) == 70
    runs = {run.plan_task_id: run for run in PeriodTask.objects.filter(period=period)}
    ongoing = [runs[t.pk] for t in tasks if t.timeline_kind == "ongoing"]
    story.launched = set(runs)

    # Up to 05/03: #0 returned then signed off, #1 and #2 signed off, #9 cancelled,
    # #5 reviewed, the others of #3–#20 (but #10) started.
    first = ongoing[0]
    with moment(datetime.date(2024, 2, 26), 9):
        run_to_review(first, people, result="Đã ban hành kế hoạch", evidence=True)
        act(
            open_step(first, "review"),
            people["office"],
            decision="lead",
            reason="Thiếu số liệu",
            ask_partners_again=False,
        )
    with moment(datetime.date(2024, 3, 1), 9):
        lead = open_step(first, "lead")
        act(
            lead,
            people[lead.unit.short_name],
            result="Đã bổ sung",
            self_assessment="done",
            explanation="Tệp đã gửi ở lần trước",
        )
        act(open_step(first, "review"), people["office"], decision="approve", reason="")
        services.period_task_cancel(
            period_task_id=ongoing[9].pk, actor=people["office"], reason="Trùng nhiệm vụ"
        )
    with moment(datetime.date(2024, 3, 5), 9):
        act(open_step(first, "sign_off"), people["director"], decision="approve", reason="")
    story.done[first.plan_task_id] = datetime.date(2024, 3, 5)
    story.started[first.plan_task_id] = datetime.date(2024, 2, 26)
    story.canceled.add(ongoing[9].plan_task_id)
    for index in [1, 2, 3, 4, 6, 7, 8, *range(11, 21)]:
        PeriodTask.objects.filter(pk=ongoing[index].pk).update(started_at=noon(datetime.date(2024, 2, 27)))
        story.started[ongoing[index].plan_task_id] = datetime.date(2024, 2, 27)
    for index, day in ((1, datetime.date(2024, 2, 28)), (2, datetime.date(2024, 3, 4))):
        finish(ongoing[index], day)
        story.done[ongoing[index].plan_task_id] = day
    fifth = ongoing[5]
    with moment(datetime.date(2024, 3, 4), 9):
        run_to_review(fifth, people, result="Đã công khai thủ tục", evidence=False)
        act(open_step(fifth, "review"), people["office"], decision="approve", reason="")
    story.started[fifth.plan_task_id] = datetime.date(2024, 3, 4)
    before_deadline = check(client, people["office"], period, tasks, story, datetime.date(2024, 3, 5))
    assert before_deadline.total == [3, 0, 16, 0, 50, 5, 2, 0, 1]

    # Up to 12/03: #3 and #4 signed off on 07/03 and 08/03 (Friday, the deadline as judged); #10 reported and returned;
    # #5 and #6 signed off on 11/03, after the deadline.
    for index, day in ((3, datetime.date(2024, 3, 7)), (4, datetime.date(2024, 3, 8))):
        finish(ongoing[index], day)
        story.done[ongoing[index].plan_task_id] = day
    tenth = ongoing[10]
    with moment(datetime.date(2024, 3, 6), 9):
        run_to_review(tenth, people, result="Đang rà soát", evidence=False)
    with moment(datetime.date(2024, 3, 7), 9):
        act(
            open_step(tenth, "review"),
            people["office"],
            decision="lead",
            reason="Chưa đủ",
            ask_partners_again=False,
        )
    story.started[tenth.plan_task_id] = datetime.date(2024, 3, 6)
    with moment(datetime.date(2024, 3, 11), 9):
        act(open_step(fifth, "sign_off"), people["director"], decision="approve", reason="")
    story.done[fifth.plan_task_id] = datetime.date(2024, 3, 11)
    finish(ongoing[6], datetime.date(2024, 3, 11))
    story.done[ongoing[6].plan_task_id] = datetime.date(2024, 3, 11)
    after_deadline = check(client, people["office"], period, tasks, story, datetime.date(2024, 3, 12))
    assert after_deadline.total == [5, 2, 0, 62, 0, 5, 2, 0, 1]

    # After the cut-off: #7 and #8 signed off on 16/03.
    for index in (7, 8):
        finish(ongoing[index], datetime.date(2024, 3, 16))
        story.done[ongoing[index].plan_task_id] = datetime.date(2024, 3, 16)
    after_cutoff = check(client, people["office"], period, tasks, story, datetime.date(2024, 3, 20))
    # The numbers: 5/4/0/60/0 = 69 counted, and the 8 others on their own lines = 77
    assert after_cutoff.total == [5, 4, 0, 60, 0, 5, 2, 0, 1]
    assert sum(after_cutoff.total[:5]) == 69 and sum(after_cutoff.total) == 77

    # Next year the quarter's numbers stand; the "Năm 2024" tasks were never due in Quý I.
    assert (
        check(client, people["office"], period, tasks, story, datetime.date(2025, 1, 2)).total
        == after_cutoff.total
    )

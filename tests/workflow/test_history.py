"""The task history page, its PDF and .xlsx downloads, and the audit search."""

from __future__ import annotations

import datetime
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from plans.models import ReportingPeriod
from tests.factories import CriterionFactory, PlanFactory, periods, plan_task
from tests.helpers import PDF, client_for, do
from workflow import services
from workflow.evidence import store
from workflow.history.selectors import PAGE_SIZE
from workflow.models import PeriodTask

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PDF_SHA = hashlib.sha256(PDF).hexdigest()
LEAD_REPORT = {"result": "Đã ban hành kế hoạch", "self_assessment": "done", "explanation": ""}


def text_of(response: Any) -> str:
    return unicodedata.normalize("NFC", response.content.decode())


@pytest.fixture
def launch(launch: Callable[..., PeriodTask]) -> Callable[..., PeriodTask]:
    """tests/workflow/conftest.py's launch, by default led by QLCN with QLTM as partner."""

    def _launch(lead: list[str] = ["QLCN"], partners: list[str] = ["QLTM"]) -> PeriodTask:  # noqa: B006
        return launch(lead, partners)

    return _launch


@pytest.fixture
def returned_task(
    launch: Callable[..., PeriodTask], personas: dict[str, Any], evidence_root: Path
) -> PeriodTask:
    """Lead QLCN (with one file), partner QLTM, returned by the office, resubmitted; now at review."""
    with time_machine.travel(datetime.datetime(2024, 3, 1, 8, 30, tzinfo=HANOI), tick=False):
        pt = launch()
    staff = personas["staff"]
    lead = pt.steps.get(kind="lead")
    with time_machine.travel(datetime.datetime(2024, 3, 2, 9, 5, tzinfo=HANOI), tick=False):
        services.step_claim(step_id=lead.pk, user=staff)
        services.evidence_attach(
            step_id=lead.pk, user=staff, stored=store(io.BytesIO(PDF), name="ke-hoach.pdf")
        )
        services.step_submit(step_id=lead.pk, user=staff, data=LEAD_REPORT)
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí với kết quả")
    with time_machine.travel(datetime.datetime(2024, 3, 5, 14, 45, tzinfo=HANOI), tick=False):
        do(
            pt.steps.get(kind="review"),
            personas["office_reviewer"],
            decision="lead",
            reason="Thiếu số liệu quý I",
        )
    do(
        pt.steps.filter(kind="lead").last(),
        staff,
        **{**LEAD_REPORT, "result": "Đã bổ sung số liệu", "explanation": "Tệp gửi ở vòng 1"},
    )
    return pt


def finish(pt: PeriodTask, personas: dict[str, Any]) -> None:
    do(pt.steps.filter(kind="review").last(), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.get(kind="sign_off"), personas["director"], decision="approve", reason="")


# --- who sees a task's history ------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("staff", 200),  # lead unit
        ("other_staff", 200),  # partner unit
        ("office_reviewer", 200),
        ("director", 200),
        ("deputy", 200),
        ("auditor", 200),
        ("atnl_staff", 403),  # a unit with no part in the task
    ],
)
def test_history_page_and_downloads_by_role(
    returned_task: PeriodTask, personas: dict[str, Any], persona: str, status: int
) -> None:
    client = client_for(personas[persona])
    for name in ("history:task", "history:task_xlsx"):
        assert client.get(reverse(name, args=[returned_task.pk])).status_code == status, name


def test_anonymous_is_sent_to_login_and_unknown_task_is_404(returned_task: PeriodTask, personas: Any) -> None:
    for name in ("history:task", "history:task_pdf", "history:task_xlsx"):
        response = Client().get(reverse(name, args=[returned_task.pk]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client_for(personas["auditor"]).get(reverse("history:task", args=[10**9])).status_code == 404


def test_uninvolved_unit_cannot_download_the_pdf(returned_task: PeriodTask, personas: dict[str, Any]) -> None:
    response = client_for(personas["atnl_staff"]).get(reverse("history:task_pdf", args=[returned_task.pk]))
    assert response.status_code == 403


# --- what the page shows ------------------------------------------------------------------


def test_history_page_shows_who_unit_when_what_why_and_file_hashes(
    returned_task: PeriodTask, personas: dict[str, Any], units: dict[str, Any]
) -> None:
    page = text_of(client_for(personas["auditor"]).get(reverse("history:task", args=[returned_task.pk])))
    # who, unit, when (local time, dd/mm/yyyy HH:MM), what
    assert "01/03/2024 08:30" in page
    assert "05/03/2024 14:45" in page
    assert units["QLCN"].name in page and units["VP"].name in page
    for label in ("Khởi tạo quy trình", "Nhận việc", "Đính kèm tài liệu kiểm chứng", "Gửi kết quả thực hiện"):
        assert label in page
    assert "Gửi ý kiến phối hợp" in page and "Trả lại" in page
    # why
    assert "Thiếu số liệu quý I" in page
    # which files, with their full SHA-256
    assert "ke-hoach.pdf" in page and PDF_SHA in page
    # both submitted versions
    assert "Đã ban hành kế hoạch" in page and "Đã bổ sung số liệu" in page
    # the chart marks the review step, where the task is now, and nothing else
    assert re.search(r'<g id="flow-node-review"[^>]*class="current"', page)
    assert re.search(r'<g id="flow-node-lead"[^>]*class="done"', page)
    assert len(re.findall(r'<g [^>]*class="current"', page)) == 1
    assert "Văn phòng Sở thẩm định – đang xử lý" in page


def test_history_chart_shows_open_partner_units_and_the_end_when_signed_off(
    launch: Callable[..., PeriodTask], personas: dict[str, Any], units: dict[str, Any], evidence_root: Path
) -> None:
    pt = launch(partners=["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **{**LEAD_REPORT, "explanation": "Bản giấy"})
    page = text_of(client_for(personas["auditor"]).get(reverse("history:task", args=[pt.pk])))
    assert re.search(r'<g id="flow-node-partner"[^>]*class="current"', page)
    assert f"Phối hợp cho ý kiến – đang xử lý: {units['QLTM'].name}, {units['ATNL'].name}" in page
    for step, user in ((pt.steps.get(kind="partner", unit=units["QLTM"]), "other_staff"),):
        do(step, personas[user], no_opinion=True)
    do(pt.steps.get(kind="partner", unit=units["ATNL"]), personas["atnl_staff"], no_opinion=True)
    finish(pt, personas)
    page = text_of(client_for(personas["auditor"]).get(reverse("history:task", args=[pt.pk])))
    assert re.search(r'<g id="flow-node-end"[^>]*class="current"', page)
    assert "Phê duyệt" in page


def test_history_page_costs_the_same_queries_for_a_short_and_a_long_history(
    launch: Callable[..., PeriodTask], returned_task: PeriodTask, personas: dict[str, Any]
) -> None:
    short = launch()
    finish(returned_task, personas)
    client = client_for(personas["auditor"])
    client.get(reverse("history:task", args=[short.pk]))  # warm caches (content types, sessions)
    counts = []
    for pt in (short, returned_task):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("history:task", args=[pt.pk])).status_code == 200
        counts.append(len(queries))
    assert (
        AuditEvent.objects.filter(period_task=returned_task).count()
        > 5 * AuditEvent.objects.filter(period_task=short).count()
    )
    assert counts[0] == counts[1]


# --- downloads ----------------------------------------------------------------------------


def test_pdf_download_contains_the_vietnamese_action_labels(
    returned_task: PeriodTask, personas: dict[str, Any]
) -> None:
    response = client_for(personas["staff"]).get(reverse("history:task_pdf", args=[returned_task.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="lich-su-nhiem-vu-')
    reader = PdfReader(io.BytesIO(response.content))
    text = unicodedata.normalize("NFC", " ".join(page.extract_text() for page in reader.pages))
    text = re.sub(r"\s+", " ", text)
    for label in (
        "LỊCH SỬ XỬ LÝ NHIỆM VỤ",
        "Khởi tạo quy trình",
        "Nhận việc",
        "Gửi kết quả thực hiện",
        "Gửi ý kiến phối hợp",
        "Trả lại",
        "Thiếu số liệu quý I",
        "05/03/2024 14:45",
    ):
        assert label in text, label


def test_xlsx_download_has_one_row_per_event(returned_task: PeriodTask, personas: dict[str, Any]) -> None:
    response = client_for(personas["auditor"]).get(reverse("history:task_xlsx", args=[returned_task.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    events = list(AuditEvent.objects.filter(period_task=returned_task).order_by("seq"))
    assert [r[0] for r in rows] == [e.seq for e in events]
    assert [r[5] for r in rows] == [AuditAction(e.action).label for e in events]
    assert [(r[2], r[3]) for r in rows] == [(e.actor_name, e.actor_unit) for e in events]
    assert [r[1].strftime("%d/%m/%Y %H:%M") for r in rows][:1] == ["01/03/2024 08:30"]
    returned = rows[[e.action for e in events].index("return")]
    assert returned[7] == "Thiếu số liệu quý I"
    added = rows[[e.action for e in events].index("evidence_added")]
    assert added[9] == f"ke-hoach.pdf – SHA-256: {PDF_SHA}"


def test_xlsx_keeps_formula_like_text_as_text(
    launch: Callable[..., PeriodTask], personas: dict[str, Any], evidence_root: Path
) -> None:
    pt = launch(partners=[])
    do(pt.steps.get(kind="lead"), personas["staff"], **{**LEAD_REPORT, "explanation": "Bản giấy"})
    do(
        pt.steps.get(kind="review"),
        personas["office_reviewer"],
        decision="lead",
        reason='=HYPERLINK("http://x")',
    )
    response = client_for(personas["auditor"]).get(reverse("history:task_xlsx", args=[pt.pk]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cell = next(row[7] for row in sheet.iter_rows(min_row=3) if row[5].value == "Trả lại")
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x")', "s")


# --- the audit search ---------------------------------------------------------------------

SEARCH = reverse("history:search")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("auditor", 200),
        ("director", 200),
        ("deputy", 200),
        ("office_reviewer", 200),
        ("staff", 403),
        ("unit_head", 403),
        ("other_staff", 403),
    ],
)
def test_audit_search_is_for_auditors_leadership_and_the_office(
    personas: dict[str, Any], persona: str, status: int
) -> None:
    assert client_for(personas[persona]).get(SEARCH).status_code == status


def test_audit_search_needs_login(db: Any) -> None:
    response = Client().get(SEARCH)
    assert (response.status_code, response["Location"].split("?")[0]) == (302, reverse("login"))


def seqs(response: Any) -> list[int]:
    return [int(s) for s in re.findall(r"<tr>\s*<td data-label=\"Số\">(\d+)</td>", text_of(response))]


def test_audit_search_filters_by_person_unit_action_period_and_dates(
    returned_task: PeriodTask, personas: dict[str, Any], units: dict[str, Any]
) -> None:
    client = client_for(personas["auditor"])
    events = AuditEvent.objects.order_by("-seq")

    def expect(params: dict[str, Any], queryset: Any) -> None:
        response = client.get(SEARCH, params)
        assert response.status_code == 200, params
        assert seqs(response) == list(queryset.values_list("seq", flat=True)), params

    expect({}, events)
    expect({"actor": "QLTM_CV"}, events.filter(actor=personas["other_staff"]))
    expect({"unit": units["VP"].pk}, events.filter(actor_unit=units["VP"].name))
    expect({"action": "return"}, events.filter(action="return"))
    expect({"period": returned_task.period_id}, events.filter(period_task__period=returned_task.period))
    expect(
        {"date_from": "02/03/2024", "date_to": "02/03/2024"},
        events.filter(
            created_at__gte=datetime.datetime(2024, 3, 2, tzinfo=HANOI),
            created_at__lt=datetime.datetime(2024, 3, 3, tzinfo=HANOI),
        ),
    )
    expect({"date_to": "01/03/2024"}, events.filter(action="launch"))
    expect({"actor": "qlcn_cv", "action": "claim"}, events.filter(actor=personas["staff"], action="claim"))
    expect({"actor": "khong-co-ai"}, events.none())
    # a membership change has no task: it is found by action, outside any period
    assert "Thay đổi đơn vị" in text_of(client.get(SEARCH, {"action": "membership_changed"}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "31/02/2024"}, "Ngày phải có dạng dd/mm/yyyy"),
        ({"date_from": "2024-03-05"}, "Ngày phải có dạng dd/mm/yyyy"),
        ({"date_from": "06/03/2024", "date_to": "05/03/2024"}, "“Đến ngày” phải sau hoặc bằng “Từ ngày”"),
        ({"unit": "abc"}, "Giá trị không có trong danh sách"),
        ({"unit": "9" * 30}, "Giá trị không có trong danh sách"),
        ({"period": "-1"}, "Giá trị không có trong danh sách"),
        ({"action": "drop table"}, "Giá trị không có trong danh sách"),
        ({"before": "abc"}, "Số trang không hợp lệ"),
        ({"before": "9" * 30}, "Số trang không hợp lệ"),
        ({"after": "-5"}, "Số trang không hợp lệ"),
        ({"actor": "x" * 151}, "150"),
    ],
)
def test_bad_search_values_get_400_with_a_vietnamese_message(
    personas: dict[str, Any], params: dict[str, str], message: str
) -> None:
    response = client_for(personas["auditor"]).get(SEARCH, params)
    assert response.status_code == 400
    assert message in text_of(response)


# The search's period choices: every period of every plan, one <optgroup> per plan.
PERIOD_SELECT = re.compile(r'<select name="period"[^>]*>(.*?)</select>', re.S)
PERIOD_OPTION = re.compile(r'<option value="(\d*)"( selected)?>')
PERIOD_GROUP = re.compile(r'<optgroup label="([^"]*)">')
SEARCH_DAY = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=HANOI)


def period_options(response: Any) -> tuple[list[int], list[int]]:
    """The period filter's ids (the "Tất cả" choice left out), and those marked selected."""
    found = PERIOD_OPTION.findall(PERIOD_SELECT.search(text_of(response)).group(1))
    return [int(pk) for pk, _ in found if pk], [int(pk) for pk, sel in found if pk and sel]


def plans_with_periods(*years: int) -> list[ReportingPeriod]:
    """One plan per year, with its four periods."""
    made = []
    for year in years:
        made.extend(periods(PlanFactory(year=year, title=f"Kế hoạch CCHC năm {year}")).values())
    return made


def test_audit_search_reaches_every_period_of_every_plan_and_says_when_one_is_unknown(
    returned_task: PeriodTask, personas: dict[str, Any]
) -> None:
    plans_with_periods(2026, 2025, 2023, 2010)
    asked = returned_task.period  # a 2024 plan: older than last year on 1/6/2026
    sibling = ReportingPeriod.objects.get(plan=asked.plan, code="H1")
    missing = ReportingPeriod.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    every = sorted(
        ReportingPeriod.objects.select_related("plan"), key=lambda p: (-p.plan.year, -p.plan_id, p.deadline)
    )
    with time_machine.travel(SEARCH_DAY, tick=False):
        client = client_for(personas["auditor"])
        everything = client.get(SEARCH)
        one_period = client.get(SEARCH, {"period": asked.pk})
        no_runs = client.get(SEARCH, {"period": sibling.pk, "action": "return"})
        unknown = client.get(SEARCH, {"period": missing})
    assert everything.status_code == 200
    # "Tất cả" first (the search is over every period unless one is chosen), then each plan's group
    assert period_options(everything) == ([p.pk for p in every], [])
    groups = PERIOD_GROUP.findall(PERIOD_SELECT.search(text_of(everything)).group(1))
    assert groups == [
        "Năm 2026 – Kế hoạch CCHC năm 2026",
        "Năm 2025 – Kế hoạch CCHC năm 2025",
        f"Năm 2024 – {asked.plan.title}",
        "Năm 2023 – Kế hoạch CCHC năm 2023",
        "Năm 2010 – Kế hoạch CCHC năm 2010",
    ]
    assert one_period.status_code == 200
    assert period_options(one_period) == ([p.pk for p in every], [asked.pk])
    assert seqs(one_period) == list(
        AuditEvent.objects.filter(period_task__period=asked).order_by("-seq").values_list("seq", flat=True)
    )
    assert no_runs.status_code == 200 and seqs(no_runs) == []
    assert period_options(no_runs) == ([p.pk for p in every], [sibling.pk])
    # an id that is no period: the page says so, with a 404, and lists nothing
    assert unknown.status_code == 404
    assert "Không tìm thấy kỳ báo cáo đã chọn. Hãy chọn một kỳ trong danh sách." in text_of(unknown)
    assert seqs(unknown) == []


def test_audit_search_queries_do_not_grow_with_plans_and_periods(
    returned_task: PeriodTask, personas: dict[str, Any]
) -> None:
    searches = [{}, {"period": str(returned_task.period_id)}, {"action": "return", "date_from": "01/01/2024"}]

    def measure() -> list[int]:
        counts = []
        with time_machine.travel(SEARCH_DAY, tick=False):
            client = client_for(personas["office_reviewer"])
            for params in searches:
                client.get(SEARCH, params)  # warm-up
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(SEARCH, params)
                assert response.status_code == 200, params
                assert seqs(response), params
                counts.append(len(queries))
                sqls = [q["sql"].upper() for q in queries.captured_queries]
                # the periods: at most one read of every period with its plan, whatever their
                # number (none while this process keeps the pickers' list: the warm-up read it)
                period_reads = [sql for sql in sqls if 'FROM "PLANS_REPORTINGPERIOD"' in sql]
                assert len(period_reads) <= 1, period_reads
                assert all('JOIN "PLANS_PLAN"' in sql for sql in period_reads), period_reads
                # the events: one page, no COUNT
                audit_reads = [sql for sql in sqls if "WORKFLOW_AUDITEVENT" in sql]
                assert len(audit_reads) == 1 and "COUNT(" not in audit_reads[0], audit_reads
        return counts

    few = measure()
    plans_with_periods(2026, 2026, 2025, *range(1990, 2024))
    assert ReportingPeriod.objects.count() > 150
    assert measure() == few


def make_events(n: int, actor: Any) -> None:
    for i in range(n):
        audit_record(actor=actor, action="claim", reason=f"lần {i}")


def test_audit_search_pages_newest_first_by_seq(personas: dict[str, Any]) -> None:
    make_events(PAGE_SIZE * 2 + 20, personas["staff"])
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    client = client_for(personas["auditor"])
    first = client.get(SEARCH, {"action": "claim"})
    assert seqs(first) == list(range(last, last - PAGE_SIZE, -1))
    older = last - PAGE_SIZE + 1
    assert f"before={older}" in text_of(first)
    second = client.get(SEARCH, {"action": "claim", "before": older})
    assert seqs(second) == list(range(older - 1, older - 1 - PAGE_SIZE, -1))
    third = client.get(SEARCH, {"action": "claim", "before": older - PAGE_SIZE})
    assert seqs(third) == list(range(older - 1 - PAGE_SIZE, last - PAGE_SIZE * 2 - 20, -1))
    assert "before=" not in text_of(third)
    # and back: the page newer than the second one is the first one
    back = client.get(SEARCH, {"action": "claim", "after": seqs(second)[0]})
    assert seqs(back) == seqs(first)


@pytest.mark.parametrize("filters", [{}, {"actor": "qlcn_cv", "date_from": "01/01/2020"}])
def test_audit_search_costs_the_same_queries_for_10_and_200_events(
    personas: dict[str, Any], filters: dict[str, str]
) -> None:
    client = client_for(personas["auditor"])
    client.get(SEARCH)
    counts = []
    for n in (10, 190):
        make_events(n, personas["staff"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SEARCH, filters)
        assert response.status_code == 200
        audit_queries = [
            q["sql"].upper() for q in queries.captured_queries if "WORKFLOW_AUDITEVENT" in q["sql"].upper()
        ]
        assert len(audit_queries) == 1 and "COUNT(" not in audit_queries[0]
        counts.append(len(queries))
    assert AuditEvent.objects.count() >= 200
    assert counts[0] == counts[1]


# --- the run's status, by the one counting rule ------------------------------------------------


STATUS_PILL = re.compile(r'<dt>Kết quả kỳ</dt><dd><span class="pill (\w+)">([^<]+)</span>')


@pytest.mark.parametrize(
    ("timeline_kind", "cancel", "day", "expected"),
    [
        # an ongoing run still open after the Quý I deadline (10/03): overdue
        ("ongoing", False, datetime.date(2024, 3, 20), ("red", "Chưa hoàn thành – quá hạn")),
        # a "Năm 2024" run reported in Quý I is due on 31/12: in progress within its due date
        ("year", False, datetime.date(2024, 3, 20), ("blue", "Chưa hoàn thành – trong hạn")),
        ("year", False, datetime.date(2025, 1, 2), ("red", "Chưa hoàn thành – quá hạn")),
        # a cancelled run is no result of the period: its own line, not a bucket
        ("ongoing", True, datetime.date(2024, 3, 20), ("outline", "Đã hủy quy trình")),
    ],
)
def test_history_page_shows_the_runs_status_by_the_counting_rule(
    units: dict[str, Any],
    personas: dict[str, Any],
    timeline_kind: str,
    cancel: bool,
    day: datetime.date,
    expected: tuple[str, str],
) -> None:
    criterion = CriterionFactory()
    task = plan_task(
        criterion, lead=[units["QLCN"]], timeline_kind=timeline_kind, due_date=datetime.date(2024, 12, 31)
    )
    period = periods(criterion.section.appendix.plan)["Q1"]
    with time_machine.travel(datetime.datetime(2024, 3, 1, 9, tzinfo=HANOI), tick=False):
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        run = PeriodTask.objects.get(plan_task=task)
        lead = run.steps.get(kind="lead")
        services.step_claim(step_id=lead.pk, user=personas["staff"])
        services.step_save_draft(step_id=lead.pk, user=personas["staff"], data={"result": "Đang làm"})
        if cancel:
            services.period_task_cancel(
                period_task_id=run.pk, actor=personas["office_reviewer"], reason="Trùng"
            )
    with time_machine.travel(datetime.datetime(day.year, day.month, day.day, 9, tzinfo=HANOI), tick=False):
        response = client_for(personas["auditor"]).get(reverse("history:task", args=[run.pk]))
    assert response.status_code == 200
    assert STATUS_PILL.search(text_of(response)).groups() == expected

"""The period report's cache key: every change to what the report shows renders a new document.

The PDF (and the workbook) are cached under a hash of the selector's data
(``pdf.content_key``), so the key is exactly as sensitive as that data: these tests
make each kind of change the report can show, and check that the next download is
rendered afresh and shows it. A change the report does not show is served from the
cache. The cost of a download is a fixed number of queries however many runs the
period has.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from plans.models import Criterion, Plan, PlanTask, ReportingPeriod, Unit
from tests.factories import CriterionFactory, periods, plan_task
from tests.reports.conftest import TZ, flat, pdf_pages
from workflow import services
from workflow.evidence import StoredFile
from workflow.models import Evidence, PeriodTask, Stage, Step
from workflow.reports import pdf, selectors

AFTER_DEADLINE = datetime.datetime(2024, 3, 12, 9, tzinfo=TZ)  # Quý I closes on 10/03/2024
BEFORE_DEADLINE = datetime.datetime(2024, 3, 1, 9, tzinfo=TZ)


@dataclass
class World:
    plan: Plan
    period: ReportingPeriod
    run: PeriodTask  # QLCN leads, QLTM helps
    task: PlanTask
    other: PlanTask  # not launched in the period
    people: dict[str, Any]
    units: dict[str, Any]

    def step(self, kind: str, run: PeriodTask | None = None, unit: str = "QLCN") -> Step:
        steps = (run or self.run).steps.filter(kind=kind, state=Step.State.OPEN)
        return steps.get(unit=self.units[unit]) if kind in ("lead", "partner") else steps.get()


@pytest.fixture
def world(units: dict[str, Any], personas: dict[str, Any]) -> World:
    criterion = CriterionFactory(name="Tiêu chí rà soát")
    task = plan_task(
        criterion, lead=[units["QLCN"]], partners=[units["QLTM"]], task="Rà soát thủ tục hành chính"
    )
    other = plan_task(criterion, lead=[units["ATNL"]], task="Công khai thủ tục")  # not launched
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    return World(
        plan=criterion.section.appendix.plan,
        period=period,
        run=PeriodTask.objects.get(plan_task=task),
        task=task,
        other=other,
        people=personas,
        units=units,
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per document actually built (PDF or workbook)."""
    calls: list[str] = []
    render_pdf, build_xlsx = pdf.render_pdf, pdf.document_cached

    def counting_pdf(html: str, css: str | None = None) -> bytes:
        calls.append("pdf")
        return render_pdf(html, css)

    def counting_cached(kind: str, data: Any, build: Callable[[], bytes], *args: Any, **kw: Any) -> bytes:
        def counted() -> bytes:
            if kind == "period_xlsx":
                calls.append("xlsx")
            return build()

        return build_xlsx(kind, data, counted, *args, **kw)

    monkeypatch.setattr(pdf, "render_pdf", counting_pdf)
    monkeypatch.setattr(pdf, "document_cached", counting_cached)
    return calls


def report_text(client: Client, world: World) -> str:
    response = client.get(reverse("reports:period_pdf", args=[world.period.pk]))
    assert response.status_code == 200
    return flat("\n".join(pdf_pages(response.content)))


def workbook_text(client: Client, world: World) -> str:
    response = client.get(reverse("reports:period_xlsx", args=[world.period.pk]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    return flat(
        "\n".join(
            str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None
        )
    )


def submit_lead(world: World, result: str, *, run: PeriodTask | None = None, **extra: Any) -> None:
    lead = world.step("lead", run)
    staff = world.people["staff"]
    services.step_claim(step_id=lead.pk, user=staff)
    data = {"result": result, "self_assessment": "done", "explanation": "Chưa có tệp kiểm chứng"}
    services.step_submit(step_id=lead.pk, user=staff, data={**data, **extra})


def partner_and_review(world: World, decision: str, reason: str = "") -> None:
    partner = world.step("partner", unit="QLTM")
    services.step_claim(step_id=partner.pk, user=world.people["other_staff"])
    services.step_submit(step_id=partner.pk, user=world.people["other_staff"], data={"no_opinion": True})
    review = world.step("review")
    office = world.people["office_reviewer"]
    services.step_claim(step_id=review.pk, user=office)
    data = {"decision": decision, "reason": reason, "ask_partners_again": False}
    services.step_submit(step_id=review.pk, user=office, data=data)


def attach(world: World, step: Step, name: str, sha: str) -> Evidence:
    return services.evidence_attach(
        step_id=step.pk,
        user=world.people["staff"],
        stored=StoredFile(
            original_name=name,
            stored_name=f"ev{name.encode().hex()[:40]}",
            content_type="application/pdf",
            size=100,
            sha256=sha * 64,
        ),
    )


def evidence_counts(world: World) -> dict[str, int]:
    period = selectors.period_get(world.period.pk)
    rows = [r for a in selectors.period_report(period).appendices for r in a.rows if r.kind == "task"]
    return {r.task.key: r.evidence_count for r in rows}


# --- each kind of change, and what the next download must show ------------------------------


def lead_report(world: World) -> tuple[str, str | None]:
    submit_lead(world, "Đã rà soát 15 thủ tục")
    return "Đã rà soát 15 thủ tục", None


def first_version_returned(world: World) -> None:
    submit_lead(world, "Bản thứ nhất của báo cáo", explanation="Giải trình thứ nhất")
    partner_and_review(world, "lead", "Thiếu số liệu")


def new_version_of_the_lead_report(world: World) -> tuple[str, str]:
    submit_lead(world, "Bản thứ hai đã bổ sung số liệu", explanation="Giải trình thứ nhất")
    return "Bản thứ hai đã bổ sung số liệu", "Bản thứ nhất của báo cáo"


new_version_of_the_lead_report.before = first_version_returned  # type: ignore[attr-defined]


def new_version_with_another_explanation(world: World) -> tuple[str, str]:
    submit_lead(world, "Bản thứ nhất của báo cáo", explanation="Giải trình thứ hai")
    return "Giải trình: Giải trình thứ hai", "Giải trình thứ nhất"


new_version_with_another_explanation.before = first_version_returned  # type: ignore[attr-defined]


def sign_off_completes_the_run(world: World) -> tuple[str, str]:
    submit_lead(world, "Đã rà soát 15 thủ tục")
    partner_and_review(world, "approve")
    sign_off = world.step("sign_off")
    services.step_claim(step_id=sign_off.pk, user=world.people["director"])
    services.step_submit(step_id=sign_off.pk, user=world.people["director"], data={"decision": "approve"})
    return "2 Hoàn thành quá hạn 1 100%", "4 Chưa hoàn thành – quá hạn 1 100%"


def unit_renamed(world: World) -> tuple[str, str]:
    Unit.objects.filter(pk=world.units["QLCN"].pk).update(name="Phòng Công nghiệp (mới)")
    return "Phòng Công nghiệp (mới) 0 0 0 1 0 1", "Phòng Quản lý công nghiệp 0 0 0 1 0 1"


def plan_task_text_edited(world: World) -> tuple[str, str]:
    PlanTask.objects.filter(pk=world.task.pk).update(task="Rà soát, đơn giản hóa thủ tục")
    return "Rà soát, đơn giản hóa thủ tục", "Rà soát thủ tục hành chính"


def plan_task_partners_text_edited(world: World) -> tuple[str, str]:
    PlanTask.objects.filter(pk=world.task.pk).update(partner_text="Các phòng chuyên môn")
    return "Phối hợp: Các phòng chuyên môn", "Phối hợp: Phòng Quản lý thương mại"


def criterion_renamed(world: World) -> tuple[str, str]:
    Criterion.objects.filter(pk=world.task.criterion_id).update(name="Tiêu chí đổi tên")
    return "Tiêu chí đổi tên", "Tiêu chí rà soát"


def run_canceled(world: World) -> tuple[str, str | None]:
    PeriodTask.objects.filter(pk=world.run.pk).update(stage=Stage.CANCELED)
    return "Quy trình đã hủy.", None


def run_completed_on_time(world: World) -> tuple[str, str]:
    # Quý I/2024's deadline, Sunday 10/03, counts as Friday 08/03 (docs/calendar.md)
    PeriodTask.objects.filter(pk=world.run.pk).update(
        stage=Stage.DONE, completed_at=datetime.datetime(2024, 3, 8, 9, tzinfo=TZ)
    )
    return "1 Hoàn thành đúng hạn 1 100%", "4 Chưa hoàn thành – quá hạn 1 100%"


def run_completion_moved_past_the_deadline(world: World) -> tuple[str, str]:
    PeriodTask.objects.filter(pk=world.run.pk).update(
        stage=Stage.DONE, completed_at=datetime.datetime(2024, 3, 8, 9, tzinfo=TZ)
    )
    # 08/03 (what Sunday 10/03 counts as) would still be on time: an earlier deadline makes it late
    ReportingPeriod.objects.filter(pk=world.period.pk).update(deadline=datetime.date(2024, 3, 7))
    return "2 Hoàn thành quá hạn 1 100%", "4 Chưa hoàn thành – quá hạn 1 100%"


def new_run_launched(world: World) -> tuple[str, str]:
    services.period_launch(
        period=world.period, actor=world.people["office_reviewer"], plan_tasks=[world.other]
    )
    return "4 Chưa hoàn thành – quá hạn 2 100%", "8 Chưa khởi tạo trong kỳ 1 50%"


def new_plan_task(world: World) -> tuple[str, str]:
    plan_task(world.task.criterion, lead=[world.units["ATNL"]], task="Nhiệm vụ mới của kế hoạch")
    return "Nhiệm vụ mới của kế hoạch", "Kế hoạch có 2 nhiệm vụ"


def evidence_attached(world: World) -> tuple[str, str]:
    lead = world.step("lead")
    services.step_claim(step_id=lead.pk, user=world.people["staff"])
    attach(world, lead, "Báo cáo.pdf", "a")
    attach(world, lead, "Báo cáo (bản sao).pdf", "a")  # the same file twice counts once
    attach(world, lead, "Phụ lục.pdf", "b")
    return "Chưa hoàn thành – quá hạn 2", "Chưa hoàn thành – quá hạn 0"


def plan_header_changed(world: World) -> tuple[str, str]:
    Plan.objects.filter(pk=world.plan.pk).update(title="Kế hoạch số 99/KH-SCT")
    return "Thực hiện Kế hoạch số 99/KH-SCT", "Thực hiện Kế hoạch cải cách hành chính năm 2024,"


CHANGES = [
    lead_report,
    new_version_of_the_lead_report,
    new_version_with_another_explanation,
    sign_off_completes_the_run,
    unit_renamed,
    plan_task_text_edited,
    plan_task_partners_text_edited,
    criterion_renamed,
    run_canceled,
    run_completed_on_time,
    run_completion_moved_past_the_deadline,
    new_run_launched,
    new_plan_task,
    evidence_attached,
    plan_header_changed,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_each_change_the_report_shows_renders_a_new_document(
    client: Client, world: World, renders: list[str], time_machine: Any, change: Any
) -> None:
    time_machine.move_to(AFTER_DEADLINE)
    client.force_login(world.people["auditor"])
    if hasattr(change, "before"):  # the state the change starts from
        change.before(world)
    before = report_text(client, world)
    assert report_text(client, world) == before  # unchanged: from the cache
    assert renders == ["pdf"]
    shown, gone = change(world)
    assert shown not in before
    assert gone is None or gone in before
    after = report_text(client, world)
    assert renders == ["pdf", "pdf"]
    assert shown in after
    assert gone is None or gone not in after


@pytest.mark.parametrize(
    "change", [lead_report, unit_renamed, run_canceled, evidence_attached], ids=lambda c: c.__name__
)
def test_the_workbook_follows_the_same_changes(
    client: Client, world: World, renders: list[str], time_machine: Any, change: Any
) -> None:
    time_machine.move_to(AFTER_DEADLINE)
    client.force_login(world.people["auditor"])
    before = workbook_text(client, world)
    assert workbook_text(client, world) == before
    assert renders == ["xlsx"]
    change(world)
    workbook_text(client, world)
    assert renders == ["xlsx", "xlsx"]


def test_a_removed_file_no_longer_counts(
    client: Client, world: World, renders: list[str], time_machine: Any
) -> None:
    time_machine.move_to(AFTER_DEADLINE)
    client.force_login(world.people["auditor"])
    lead = world.step("lead")
    services.step_claim(step_id=lead.pk, user=world.people["staff"])
    attach(world, lead, "Giữ lại.pdf", "c")
    removed = attach(world, lead, "Gỡ bỏ.pdf", "d")
    before = report_text(client, world)
    assert "Chưa hoàn thành – quá hạn 2" in before
    services.evidence_remove(evidence_id=removed.pk, user=world.people["staff"])
    after = report_text(client, world)
    assert renders == ["pdf", "pdf"]
    assert "Chưa hoàn thành – quá hạn 2" not in after
    assert evidence_counts(world) == {world.task.key: 1, world.other.key: 0}


def test_a_run_started_before_the_deadline_moves_to_in_time(
    client: Client, world: World, renders: list[str], time_machine: Any
) -> None:
    time_machine.move_to(BEFORE_DEADLINE)
    client.force_login(world.people["auditor"])
    # the launched run not started yet; the other task not launched, on its own line
    assert "5 Chưa thực hiện 1 100%" in report_text(client, world)
    assert "8 Chưa khởi tạo trong kỳ 1 50%" in report_text(client, world)
    lead = world.step("lead")
    services.step_claim(step_id=lead.pk, user=world.people["staff"])
    services.step_save_draft(step_id=lead.pk, user=world.people["staff"], data={"result": "Đang làm"})
    assert PeriodTask.objects.get(pk=world.run.pk).started_at is not None
    assert "3 Chưa hoàn thành – trong hạn 1 100%" in report_text(client, world)
    assert renders == ["pdf", "pdf"]


def test_the_next_day_renders_a_new_document(
    client: Client, world: World, renders: list[str], time_machine: Any
) -> None:
    time_machine.move_to(BEFORE_DEADLINE)
    client.force_login(world.people["auditor"])
    assert "ngày 01 tháng 3 năm 2024" in report_text(client, world)
    time_machine.move_to(BEFORE_DEADLINE + datetime.timedelta(days=1))
    client.force_login(world.people["auditor"])
    assert "ngày 02 tháng 3 năm 2024" in report_text(client, world)
    assert renders == ["pdf", "pdf"]


def test_a_change_the_report_does_not_show_is_served_from_the_cache(
    client: Client, world: World, renders: list[str], time_machine: Any
) -> None:
    time_machine.move_to(AFTER_DEADLINE)
    client.force_login(world.people["auditor"])
    first = client.get(reverse("reports:period_pdf", args=[world.period.pk])).content
    PlanTask.objects.filter(pk=world.task.pk).update(timeline_text="Quý II", target="Không in trong báo cáo")
    Unit.objects.filter(pk=world.units["QLCN"].pk).update(short_name="QLCN2")
    assert client.get(reverse("reports:period_pdf", args=[world.period.pk])).content == first
    assert renders == ["pdf"]


# --- the cost ------------------------------------------------------------------------------


def test_period_report_download_costs_a_fixed_number_of_queries(
    client: Client, world: World, time_machine: Any
) -> None:
    time_machine.move_to(AFTER_DEADLINE)
    client.force_login(world.people["auditor"])
    url = reverse("reports:period_pdf", args=[world.period.pk])

    def downloads() -> list[int]:
        cache.clear()
        counts = []
        for _ in range(2):  # rendered, then from the cache
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts.append(len(queries))
        return counts

    client.get(reverse("reports:period_xlsx", args=[world.period.pk]))  # the session's first request
    small = downloads()
    criterion = CriterionFactory(section=world.task.criterion.section, name="Thêm")
    tasks = [
        plan_task(criterion, lead=[world.units["QLCN"], world.units["ATNL"]], partners=[world.units["VP"]])
        for _ in range(6)
    ]
    services.period_launch(period=world.period, actor=world.people["office_reviewer"], plan_tasks=tasks)
    for run in PeriodTask.objects.filter(period=world.period):
        lead = world.step("lead", run)
        services.step_claim(step_id=lead.pk, user=world.people["staff"])
        attach(world, lead, f"Tệp {run.pk}.pdf", "e")
        services.step_submit(
            step_id=lead.pk,
            user=world.people["staff"],
            data={"result": f"Kết quả {run.pk}", "self_assessment": "done", "explanation": ""},
        )
    assert PeriodTask.objects.filter(period=world.period).count() == 7
    assert set(evidence_counts(world).values()) == {0, 1}
    # the report's five reads (one is the tasks the period launches: the counting rule), the default
    # signer (the director: one read) and the session's
    assert downloads() == small == [11, 11]

"""Downloads through the test client: who may, what comes back, the cache, the cost."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from plans.models import Plan, PlanTask, ReportingPeriod
from tests.factories import CriterionFactory, periods, plan_task
from tests.reports.conftest import TZ, pdf_pages
from workflow import services
from workflow.models import PeriodTask
from workflow.reports import pdf, selectors
from workflow.reports.formatting import attachment_header

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAMES = [
    "reports:plan_pdf",
    "reports:plan_xlsx",
    "reports:period_pdf",
    "reports:period_xlsx",
    "reports:dossier_pdf",
]


@dataclass
class World:
    plan: Plan
    period: ReportingPeriod
    run: PeriodTask  # QLCN leads, QLTM helps

    def url(self, name: str) -> str:
        pk = {"plan": self.plan.pk, "period": self.period.pk, "dossier": self.run.pk}[
            name.split(":")[1].split("_")[0]
        ]
        return reverse(name, args=[pk])


@pytest.fixture
def world(units: dict[str, Any], personas: dict[str, Any]) -> World:
    criterion = CriterionFactory()
    task = plan_task(
        criterion, lead=[units["QLCN"]], partners=[units["QLTM"]], task="Rà soát thủ tục hành chính"
    )
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    return World(
        plan=criterion.section.appendix.plan, period=period, run=PeriodTask.objects.get(plan_task=task)
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per PDF actually rendered: whether a transaction was open at the time."""
    calls: list[bool] = []
    original = pdf.render_pdf

    def counting(html: str, css: str | None = None) -> bytes:
        calls.append(connection.in_atomic_block)
        return original(html, css)

    monkeypatch.setattr(pdf, "render_pdf", counting)
    return calls


def get(client: Client, user: Any, url: str) -> Any:
    client.force_login(user)
    return client.get(url)


# --- who may download ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_anonymous_is_sent_to_the_login_page(client: Client, world: World, name: str) -> None:
    url = world.url(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("who", ["staff", "atnl_staff", "auditor"])
def test_every_signed_in_user_downloads_the_plan_as_pdf_and_xlsx(
    client: Client, world: World, personas: dict[str, Any], who: str
) -> None:
    response = get(client, personas[who], world.url("reports:plan_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == attachment_header("Kế hoạch CCHC 2024.pdf")
    assert response.content.startswith(b"%PDF-")
    response = client.get(world.url("reports:plan_xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == attachment_header("Kế hoạch CCHC 2024.xlsx")
    assert load_workbook(io.BytesIO(response.content)).sheetnames == ["Phụ lục 1"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("staff", 403),
        ("unit_head", 403),
        ("other_staff", 403),
        ("office_reviewer", 200),
        ("director", 200),
        ("deputy", 200),
        ("auditor", 200),
    ],
)
def test_period_report_is_for_the_office_leadership_and_auditors(
    client: Client, world: World, personas: dict[str, Any], who: str, status: int
) -> None:
    response = get(client, personas[who], world.url("reports:period_pdf"))
    assert response.status_code == status
    assert client.get(world.url("reports:period_xlsx")).status_code == status
    if status == 200:
        assert response["Content-Disposition"] == attachment_header("Báo cáo kết quả CCHC Quý I 2024.pdf")


@pytest.mark.parametrize(
    ("who", "status"),
    [("staff", 200), ("unit_head", 200), ("other_staff", 200), ("atnl_staff", 403), ("auditor", 200)],
)
def test_dossier_follows_who_may_see_the_task(
    client: Client, world: World, personas: dict[str, Any], who: str, status: int
) -> None:
    # QLCN leads and QLTM helps; ATNL has nothing to do with the task
    response = get(client, personas[who], world.url("reports:dossier_pdf"))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Disposition"] == attachment_header(
            f"Hồ sơ nhiệm vụ {world.run.pk} Quý I/2024.pdf"
        )
        assert response.content.startswith(b"%PDF-")


@pytest.mark.parametrize("name", NAMES)
def test_ids_that_name_nothing_are_404(
    client: Client, world: World, personas: dict[str, Any], name: str
) -> None:
    client.force_login(personas["auditor"])
    ids = ["999999", "0", "abc", "-1", "99999999999999999999999", "１"]  # the last: a full-width digit
    # <int:pk> refuses the non-digits in the resolver; the view refuses what the database cannot hold.
    urls = [reverse(name, args=[1]).replace("/1/", f"/{pk}/") for pk in ids]
    assert [client.get(url).status_code for url in urls] == [404] * len(ids)


def test_downloads_are_get_only(client: Client, world: World, personas: dict[str, Any]) -> None:
    client.force_login(personas["auditor"])
    assert [client.post(world.url(name)).status_code for name in NAMES] == [405] * 5


# --- the cache -----------------------------------------------------------------------------


def test_repeated_download_of_an_unchanged_report_comes_from_the_cache(
    client: Client, world: World, personas: dict[str, Any], renders: list[bool], time_machine: Any
) -> None:
    time_machine.move_to(datetime.datetime(2024, 3, 12, 9, tzinfo=TZ))
    client.force_login(personas["auditor"])
    first = client.get(world.url("reports:period_pdf")).content
    second = client.get(world.url("reports:period_pdf")).content
    assert second == first
    assert len(renders) == 1
    # a change to what the report shows makes a new document
    lead = world.run.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead.pk,
        user=personas["staff"],
        data={"result": "Đã rà soát 15 thủ tục", "self_assessment": "done", "explanation": "Chưa có tệp"},
    )
    third = client.get(world.url("reports:period_pdf")).content
    assert len(renders) == 2
    assert third != first
    assert "Đã rà soát 15 thủ tục" in "\n".join(pdf_pages(third))


def test_header_lines_and_place_come_from_the_plan(
    client: Client, world: World, personas: dict[str, Any], renders: list[bool], time_machine: Any
) -> None:
    time_machine.move_to(datetime.datetime(2024, 3, 12, 9, tzinfo=TZ))
    client.force_login(personas["auditor"])
    before = pdf_pages(client.get(world.url("reports:period_pdf")).content)[0].splitlines()
    assert before[:5] == [
        "UBND TỈNH BẮC KẠN",
        "SỞ CÔNG THƯƠNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: …/BC-SCT Bắc Kạn, ngày 12 tháng 3 năm 2024",
    ]
    # when the plan's year is configured for the merged province
    Plan.objects.filter(pk=world.plan.pk).update(
        superior_body="UBND TỈNH THÁI NGUYÊN", place="Thái Nguyên", document_symbol="BC-SCT.TN"
    )
    after = pdf_pages(client.get(world.url("reports:period_pdf")).content)[0]
    assert after.splitlines()[:5] == [
        "UBND TỈNH THÁI NGUYÊN",
        "SỞ CÔNG THƯƠNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: …/BC-SCT.TN Thái Nguyên, ngày 12 tháng 3 năm 2024",
    ]
    assert "BẮC KẠN" not in after and "Bắc Kạn" not in after
    assert len(renders) == 2


def test_rendering_happens_outside_any_transaction(
    transactional_db: Any, units: dict[str, Any], personas: dict[str, Any], renders: list[bool]
) -> None:
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    run = PeriodTask.objects.get(plan_task=task)
    client = Client()
    client.force_login(personas["auditor"])
    for url in (
        reverse("reports:plan_pdf", args=[period.plan_id]),
        reverse("reports:period_pdf", args=[period.pk]),
        reverse("reports:dossier_pdf", args=[run.pk]),
    ):
        assert client.get(url).status_code == 200
    assert renders == [False, False, False]


# --- the cost ------------------------------------------------------------------------------


def add_tasks(world: World, units: dict[str, Any], personas: dict[str, Any], n: int) -> None:
    criterion = CriterionFactory(section__appendix=world.plan.appendices.get(), ordinal="2", code="TC 1.2")
    tasks = [
        plan_task(criterion, lead=[units["ATNL"]], partners=[units["QLTM"], units["VP"]]) for _ in range(n)
    ]
    services.period_launch(period=world.period, actor=personas["office_reviewer"], plan_tasks=tasks)


def count_queries(read: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        read()
    return len(queries)


def test_documents_are_read_in_a_fixed_number_of_queries(
    world: World, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    def reads() -> list[int]:
        period = selectors.period_get(world.period.pk)
        plan = Plan.objects.get(pk=world.plan.pk)
        return [
            count_queries(lambda: selectors.plan_document(plan)),
            count_queries(lambda: selectors.period_report(period)),
            count_queries(lambda: selectors.dossier(world.run.pk)),
        ]

    small = reads()
    add_tasks(world, units, personas, 6)
    assert PlanTask.objects.filter(plan=world.plan).count() == 7
    # the period report: plan rows, runs, lead reports, units, and the tasks the period launches;
    # each document one more: the signer by default (the director; for this dossier, not yet
    # signed off, the director too)
    assert reads() == small == [4, 6, 7]


# --- who signs -----------------------------------------------------------------------------


def signature_text(data: bytes) -> str:
    """The closing of a document from "Nơi nhận:" on, whitespace folded."""
    text = " ".join(" ".join(pdf_pages(data)).split())
    return text[text.index("Nơi nhận:") :]


@pytest.mark.parametrize("name", ["reports:plan_pdf", "reports:period_pdf", "reports:dossier_pdf"])
def test_the_director_signs_by_default_and_a_deputy_when_chosen(
    client: Client, world: World, personas: dict[str, Any], name: str
) -> None:
    director, deputy = personas["director"], personas["deputy"]
    director.last_name, director.first_name = "Nguyễn Văn", "An"
    director.save()
    deputy.last_name, deputy.first_name = "Trần Thị", "Bình"
    deputy.save()
    client.force_login(personas["office_reviewer"])

    default = signature_text(client.get(world.url(name)).content)
    assert "GIÁM ĐỐC" in default and "Nguyễn Văn An" in default
    assert "KT." not in default and "PHÓ GIÁM ĐỐC" not in default

    chosen = signature_text(client.get(world.url(name), {"signer": deputy.pk}).content)
    assert "KT. GIÁM ĐỐC" in chosen and "PHÓ GIÁM ĐỐC" in chosen and "Trần Thị Bình" in chosen
    assert "Nguyễn Văn An" not in chosen


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "99999999", "1" * 30])
def test_a_signer_who_is_no_leader_is_refused_with_a_message(
    client: Client, world: World, personas: dict[str, Any], raw: str
) -> None:
    client.force_login(personas["office_reviewer"])
    for name in ("reports:plan_pdf", "reports:period_pdf", "reports:dossier_pdf"):
        response = client.get(world.url(name), {"signer": raw})
        assert response.status_code == 400
        assert "Người ký" in response.content.decode()


def test_staff_and_auditors_cannot_be_named_as_signer(
    client: Client, world: World, personas: dict[str, Any]
) -> None:
    client.force_login(personas["office_reviewer"])
    for who in ("staff", "auditor", "office_reviewer"):
        response = client.get(world.url("reports:period_pdf"), {"signer": personas[who].pk})
        assert response.status_code == 400
        assert "Giám đốc hoặc Phó Giám đốc" in response.content.decode()

"""One word for each thing: a person's name in Vietnamese order and each action's label,
the same on the step page, the history page, the audit search, the dossier PDF and the workbook."""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from audit.models import AuditAction, AuditEvent, action_label
from plans import roles
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.models import PeriodTask, Step

NAME = "Lê Thị Đầu Mối"


def text(data: bytes) -> str:
    return unicodedata.normalize("NFC", data.decode())


def pdf_text(data: bytes) -> str:
    pages = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", pages))


@pytest.fixture
def cancelled(units: dict[str, Any], make_user: Any) -> tuple[PeriodTask, Any]:
    """A run launched and then cancelled by the office's focal point, Lê Thị Đầu Mối."""
    office = make_user("dau_moi", unit="VP", role=roles.OFFICE_REVIEWER)
    office.last_name, office.first_name = "Lê Thị Đầu", "Mối"
    office.save()
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=office, plan_tasks=[task])
    run = PeriodTask.objects.get(plan_task=task)
    services.period_task_cancel(period_task_id=run.pk, actor=office, reason="Nhiệm vụ trùng lặp")
    return run, office


def test_every_action_has_one_vietnamese_label_and_cancel_is_one_of_them() -> None:
    assert action_label("cancel") == "Hủy quy trình"
    assert action_label("approve") == str(Step.Decision.APPROVE.label)  # the word of the form
    assert len(set(AuditAction.labels)) == len(AuditAction.labels)
    assert action_label("not-an-action") == "not-an-action"


def test_audit_events_store_the_name_in_vietnamese_order(cancelled: tuple[PeriodTask, Any]) -> None:
    run, _ = cancelled
    events = AuditEvent.objects.filter(period_task=run)
    assert {e.actor_name for e in events} == {NAME}
    assert list(events.values_list("action", flat=True)) == ["launch", "cancel"]


def test_history_page_and_audit_search_show_the_name_and_the_cancel_label(
    cancelled: tuple[PeriodTask, Any], personas: dict[str, Any]
) -> None:
    run, office = cancelled
    client = Client()
    client.force_login(office)
    page = text(client.get(reverse("history:task", args=[run.pk])).content)
    assert NAME in page and "Hủy quy trình" in page and "Mối Lê Thị Đầu" not in page
    client.force_login(personas["auditor"])
    found = text(client.get(reverse("history:search"), {"action": "cancel"}).content)
    assert NAME in found and "Hủy quy trình" in found
    assert re.findall(r"<tr>\s*<td[^>]*>(\d+)</td>", found) == [
        str(AuditEvent.objects.get(action="cancel").seq)
    ]


def test_history_workbook_and_pdf_and_dossier_show_the_name_and_the_cancel_label(
    cancelled: tuple[PeriodTask, Any], personas: dict[str, Any]
) -> None:
    run, _ = cancelled
    client = Client()
    client.force_login(personas["auditor"])
    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("history:task_xlsx", args=[run.pk])).content)
    ).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [(r[2], r[5]) for r in rows] == [(NAME, "Khởi tạo quy trình"), (NAME, "Hủy quy trình")]
    history_pdf = pdf_text(client.get(reverse("history:task_pdf", args=[run.pk])).content)
    assert NAME in history_pdf and "Hủy quy trình" in history_pdf
    dossier = client.get(reverse("reports:dossier_pdf", args=[run.pk]))
    assert dossier.status_code == 200
    dossier_text = pdf_text(dossier.content)
    assert NAME in dossier_text and "Hủy quy trình" in dossier_text

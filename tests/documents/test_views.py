"""The register page, issuing from it, the frozen download and the .docx rendition."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from docx import Document

from documents import services
from documents.models import IssuedDocument
from tests.helpers import client_for

REGISTER = "/van-ban/so-van-ban-di/"
ISSUE = "/van-ban/ban-hanh/"


def test_the_office_issues_from_the_register_page_and_downloads_the_frozen_pdf(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    office = client_for(personas["office_reviewer"])
    page = office.get(REGISTER)
    assert page.status_code == 200 and "Cấp số và ký số" in page.content.decode()

    response = office.post(ISSUE, {"kind": "period", "period": period.pk, "signer": leaders["director"].pk})

    assert response.status_code == 302
    document = IssuedDocument.objects.get()
    listing = office.get(REGISTER).content.decode()
    assert "Đã ban hành văn bản số 01/BC-SCT" in listing and document.sha256 in listing
    download = client_for(personas["auditor"]).get(f"/van-ban/{document.pk}/pdf/")
    body = b"".join(download.streaming_content) if download.streaming else download.content
    assert download.status_code == 200 and hashlib.sha256(body).hexdigest() == document.sha256
    assert "01-BC-SCT" in download["Content-Disposition"]


def test_the_register_shows_a_cancelled_number_as_such(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents import rendering

    monkeypatch.setattr(rendering, "render_issued", lambda *a, **k: (_ for _ in ()).throw(OSError("lỗi in")))
    office = client_for(personas["office_reviewer"])
    response = office.post(
        ISSUE, {"kind": "period", "period": period.pk, "signer": leaders["director"].pk}, follow=True
    )
    text = response.content.decode()
    assert "hủy số" in text and "Hủy số" in text and "lỗi in" in text


@pytest.mark.parametrize("persona", ["auditor", "director", "deputy"])
def test_leadership_and_auditors_read_the_register_without_the_issue_form(
    personas: dict[str, Any], persona: str
) -> None:
    response = client_for(personas[persona]).get(REGISTER)
    assert response.status_code == 200 and "Cấp số và ký số" not in response.content.decode()


@pytest.mark.parametrize("persona", ["staff", "unit_head", "other_staff"])
def test_units_may_not_read_the_register_nor_download(
    personas: dict[str, Any], persona: str, period: Any
) -> None:
    client = client_for(personas[persona])
    assert client.get(REGISTER).status_code == 403
    assert client.get(f"/van-ban/ky/{period.pk}/docx/").status_code == 403


@pytest.mark.parametrize("persona", ["director", "auditor", "staff"])
def test_only_the_office_may_post_an_issue(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], persona: str
) -> None:
    response = client_for(personas[persona]).post(
        ISSUE, {"kind": "period", "period": period.pk, "signer": leaders["director"].pk}
    )
    assert response.status_code == 403 and IssuedDocument.objects.count() == 0


def test_a_bad_issue_form_is_400_in_vietnamese(personas: dict[str, Any], leaders: dict[str, Any]) -> None:
    office = client_for(personas["office_reviewer"])
    missing_period = office.post(ISSUE, {"kind": "period", "signer": leaders["director"].pk})
    not_a_leader = office.post(ISSUE, {"kind": "period", "signer": personas["staff"].pk})
    assert (
        missing_period.status_code == 400
        and "Chọn kỳ báo cáo cần ban hành." in missing_period.content.decode()
    )
    assert not_a_leader.status_code == 400
    assert IssuedDocument.objects.count() == 0


def test_the_register_page_costs_a_fixed_number_of_queries(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    office = personas["office_reviewer"]
    client = client_for(personas["office_reviewer"])

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(REGISTER).status_code == 200
        return len(queries)

    first = services.issue_period_report(period_id=period.pk, signer=leaders["director"], actor=office)
    client.get(REGISTER)
    one = cost()
    for _ in range(2):
        first = services.issue_period_report(
            period_id=period.pk, signer=leaders["deputy"], actor=office, replaces=first
        )
    three = cost()

    assert one == three <= 12
    assert client.get(REGISTER).content.decode().count("Tải PDF đã ký") == 3


def test_the_docx_rendition_has_the_nd30_layout(period: Any, personas: dict[str, Any]) -> None:
    response = client_for(personas["office_reviewer"]).get(f"/van-ban/ky/{period.pk}/docx/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml"
    )
    document = Document(io.BytesIO(response.content))
    head = document.tables[0]
    assert "SỞ CÔNG THƯƠNG" in head.cell(0, 0).text.upper()
    assert head.cell(0, 1).text.splitlines() == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert head.cell(1, 0).text.startswith("Số: …/") and ", ngày" in head.cell(1, 1).text
    body = "\n".join(p.text for p in document.paragraphs)
    assert "BÁO CÁO" in body and "I. TỔNG HỢP KẾT QUẢ" in body and "PHỤ LỤC" in body
    signature = next(t for t in document.tables if "Nơi nhận:" in t.cell(0, 0).text)
    assert "Lưu: VT, VP." in signature.cell(0, 0).text
    # signed as the PDF is: the director in his own right, with his name (workflow.reports.signature)
    from plans.roles import display_name

    lines = [line for line in signature.cell(0, 1).text.splitlines() if line.strip()]
    assert lines == ["GIÁM ĐỐC", display_name(personas["director"])]
    assert document.sections[0].left_margin.mm == pytest.approx(30, abs=0.1)
    assert document.sections[-1].orientation == 1  # the appendix is landscape


def test_demo_pki_makes_a_labelled_authority_and_a_key_per_leader(
    personas: dict[str, Any], pki_dir: Any, settings: Any, tmp_path: Any
) -> None:
    from cryptography import x509
    from django.core.management import call_command

    settings.DOCUMENT_PKI_DIR = tmp_path / "demo"
    call_command("demo_pki", stdout=io.StringIO())

    ca = x509.load_pem_x509_certificate((tmp_path / "demo" / "ca.pem").read_bytes())
    assert "CCHC DEMO CA – KHÔNG DÙNG THẬT" in ca.subject.rfc4514_string()
    made = sorted(p.stem for p in (tmp_path / "demo").glob("*.p12"))
    assert made == sorted(
        [personas["director"].username, personas["deputy"].username, personas["other_deputy"].username]
    )
    assert oct((tmp_path / "demo" / "ca.key").stat().st_mode & 0o777) == "0o600"
    # run again: the same authority is kept
    call_command("demo_pki", stdout=io.StringIO())
    assert x509.load_pem_x509_certificate((tmp_path / "demo" / "ca.pem").read_bytes()) == ca


def test_the_dossier_has_a_docx_rendition_for_whoever_sees_the_task(
    period: Any, personas: dict[str, Any], units: dict[str, Any]
) -> None:
    from workflow.models import PeriodTask

    run = PeriodTask.objects.filter(period=period).order_by("pk").first()
    # Whoever may see the task gets the dossier as .docx: the header, the task, its steps, the log
    response = client_for(personas["office_reviewer"]).get(f"/van-ban/ho-so/{run.pk}/docx/")
    assert response.status_code == 200
    document = Document(io.BytesIO(response.content))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "HỒ SƠ NHIỆM VỤ" in body and "I. CÁC BƯỚC XỬ LÝ" in body and "III. NHẬT KÝ" in body
    facts = document.tables[1]
    assert facts.cell(1, 0).text == "Nhiệm vụ" and facts.cell(1, 1).text == run.plan_task.task
    assert any("Nơi nhận:" in t.cell(0, 0).text for t in document.tables)
    # A person of a unit that has no part in the task (QLCN; the task is QLTM's with ATNL) may not
    assert client_for(personas["staff"]).get(f"/van-ban/ho-so/{run.pk}/docx/").status_code == 403

"""Issuing: numbers from the year's register, the frozen signed PDF, corrections, cancelled numbers,
permissions, audit events, and the two commands end to end."""

from __future__ import annotations

import datetime
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.template.loader import render_to_string
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from audit.models import AuditEvent, action_label
from audit.services import verify_chain
from documents import rendering, services, signing
from documents.models import IssuedDocument, Register
from tests.documents.helpers import flip_byte, pages_text
from tests.helpers import at
from workflow.models import PeriodTask

DAY = datetime.date(2026, 12, 20)


def verify_command(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_document", str(path), stdout=out)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue()


def issue(period: Any, signer: Any, actor: Any, **kwargs: Any) -> IssuedDocument:
    return services.issue_period_report(period_id=period.pk, signer=signer, actor=actor, **kwargs)


def test_issue_report_then_verify_document_exits_0_and_pyhanko_with_the_demo_ca_says_intact_and_valid(
    leaders: dict[str, Any], period: Any, pki_dir: Path, tmp_path: Path
) -> None:
    # Given the demo authority and the deputy's key; When the command issues the period report
    out = tmp_path / "bao-cao.pdf"
    with at(DAY):
        call_command(
            "issue_report",
            "--period",
            period.pk,
            "--signer",
            leaders["deputy"].username,
            "-o",
            out,
            stdout=io.StringIO(),
        )

    # Then the file is the stored, frozen document: number 01 of BC-SCT in 2026
    document = IssuedDocument.objects.get()
    data = out.read_bytes()
    assert (document.number_text, document.state) == ("01/BC-SCT", IssuedDocument.State.ISSUED)
    assert bytes(document.pdf) == data and document.sha256 == hashlib.sha256(data).hexdigest()
    # and it carries the number, the date, the deputy's signature block
    first_page = pages_text(data)[0]
    assert "Số: 01/BC-SCT" in first_page and "ngày 20 tháng 12 năm 2026" in first_page
    # and verify_document accepts it (exit 0), naming the signer and the document
    code, text = verify_command(out)
    assert code == 0, text
    assert "HỢP LỆ" in text and "Trần Thị Phó" in text and "01/BC-SCT" in text and "20/12/2026" in text
    # and pyHanko's own validation, trusting only the demo authority, says intact and valid
    _, _, der = asn1_pem.unarmor((pki_dir / "ca.pem").read_bytes())
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)], allow_fetching=False)
    (embedded,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    status = validate_pdf_signature(embedded, context)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES


def test_one_flipped_byte_makes_verify_document_exit_1_naming_the_cause(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], tmp_path: Path
) -> None:
    document = issue(period, leaders["director"], personas["office_reviewer"])
    tampered = tmp_path / "sua.pdf"
    tampered.write_bytes(flip_byte(bytes(document.pdf)))

    code, text = verify_command(tampered)

    assert code == 1
    assert "KHÔNG HỢP LỆ" in text and "nội dung tệp đã bị thay đổi sau khi ký" in text


def test_numbers_are_consecutive_per_register_and_start_again_each_year(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    office, director = personas["office_reviewer"], leaders["director"]
    with at(datetime.date(2026, 12, 30)):
        first, second = (issue(period, director, office) for _ in range(2))
    with at(datetime.date(2027, 1, 2)):
        third = issue(period, director, office)

    assert [first.number_text, second.number_text, third.number_text] == [
        "01/BC-SCT",
        "02/BC-SCT",
        "01/BC-SCT",
    ]
    assert [(r.year, r.last_number) for r in Register.objects.order_by("year")] == [(2026, 2), (2027, 1)]
    # the date on the document is the issue date, written as Nghị định 30 wants it
    assert "ngày 02 tháng 01 năm 2027" in pages_text(bytes(third.pdf))[0]


def test_a_correction_is_a_new_document_with_a_new_number_naming_the_one_it_replaces(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    office = personas["office_reviewer"]
    original = issue(period, leaders["deputy"], office)
    frozen = bytes(original.pdf)

    correction = issue(period, leaders["director"], office, replaces=original)

    original.refresh_from_db()
    assert bytes(original.pdf) == frozen  # never regenerated
    assert correction.number == original.number + 1 and correction.replaces == original
    assert correction.sha256 != original.sha256
    # a correction of a correction is fine, of a cancelled number not
    with pytest.raises(ValidationError):
        issue(
            period, leaders["director"], office, replaces=IssuedDocument(state=IssuedDocument.State.CANCELLED)
        )


def test_a_rendering_failure_records_the_number_as_cancelled_so_the_register_has_no_gap(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    office, director = personas["office_reviewer"], leaders["director"]
    original = rendering.render_issued

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("hết dung lượng đĩa")

    monkeypatch.setattr(rendering, "render_issued", broken)
    with pytest.raises(services.IssueFailed, match="hủy số"):
        issue(period, director, office)
    monkeypatch.setattr(rendering, "render_issued", original)
    after = issue(period, director, office)

    cancelled = IssuedDocument.objects.get(number=1)
    assert (
        cancelled.state == IssuedDocument.State.CANCELLED and "hết dung lượng đĩa" in cancelled.cancel_reason
    )
    assert cancelled.sha256 == "" and bytes(cancelled.pdf) == b""
    assert after.number == 2
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == [services.CANCELLED, services.ISSUED]


def test_a_missing_key_takes_no_number(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], pki_dir: Path
) -> None:
    (pki_dir / f"{leaders['director'].username}.p12").unlink()

    with pytest.raises(signing.KeyUnavailable, match="demo_pki"):
        issue(period, leaders["director"], personas["office_reviewer"])

    assert IssuedDocument.objects.count() == 0 and Register.objects.filter(last_number__gt=0).count() == 0


@pytest.mark.parametrize("persona", ["staff", "unit_head", "director", "deputy", "auditor"])
def test_only_the_office_may_issue(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], persona: str
) -> None:
    with pytest.raises(PermissionDenied):
        issue(period, leaders["director"], personas[persona])
    assert IssuedDocument.objects.count() == 0


@pytest.mark.parametrize("persona", ["office_reviewer", "auditor", "staff"])
def test_only_leadership_may_sign(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], persona: str
) -> None:
    with pytest.raises(ValidationError, match="không thuộc Ban Giám đốc"):
        issue(period, personas[persona], personas["office_reviewer"])
    assert IssuedDocument.objects.count() == 0


def test_each_issue_is_an_audit_event_with_its_number_and_hash(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    document = issue(period, leaders["director"], personas["office_reviewer"])

    event = AuditEvent.objects.get(action=services.ISSUED)
    assert (
        event.actor_name and event.data["number"] == "01/BC-SCT" and event.data["sha256"] == document.sha256
    )
    assert action_label(services.ISSUED) == "Ban hành văn bản (cấp số, ký số)"
    assert verify_chain() is None


def test_the_visible_signature_sits_on_the_page_of_the_signature_block(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    document = issue(period, leaders["deputy"], personas["office_reviewer"])
    data = bytes(document.pdf)

    reader = PdfFileReader(io.BytesIO(data))
    (embedded,) = reader.embedded_signatures
    widget = embedded.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    page_index = next(
        i
        for i, page in enumerate(reader.root["/Pages"]["/Kids"])
        if any(annot.get_object() == widget for annot in page.get_object().get("/Annots", []))
    )
    text = pages_text(data)[page_index]
    assert "KT. GIÁM ĐỐC" in text and "Nơi nhận" in text
    assert rect[2] - rect[0] > 100 and rect[3] - rect[1] > 40  # a block, not an invisible field
    # the stamp states authority, title, name and time (its text as pyHanko drew it)
    assert embedded.sig_object["/Name"] == "Trần Thị Phó"


def test_a_task_dossier_is_issued_on_request(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    run = PeriodTask.objects.get(period=period)

    document = services.issue_dossier(
        period_task_id=run.pk, signer=leaders["director"], actor=personas["office_reviewer"]
    )

    assert document.kind == IssuedDocument.Kind.DOSSIER and document.period_task == run
    assert f"Số: {document.number_text}" in pages_text(bytes(document.pdf))[0]


def test_issue_report_refuses_an_unknown_period_or_signer_in_vietnamese(
    leaders: dict[str, Any], period: Any, tmp_path: Path
) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Không có kỳ báo cáo"):
        call_command("issue_report", "--period", 999999, "-o", tmp_path / "x.pdf")
    with pytest.raises(CommandError, match="Không có tài khoản"):
        call_command("issue_report", "--period", period.pk, "--signer", "khongco", "-o", tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists() and IssuedDocument.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_signing_runs_outside_any_transaction(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    seen = []
    original = signing.sign_pdf

    def watching(*args: Any, **kwargs: Any) -> bytes:
        seen.append(transaction.get_connection().in_atomic_block)
        return original(*args, **kwargs)

    monkeypatch.setattr(signing, "sign_pdf", watching)
    issue(period, leaders["director"], personas["office_reviewer"])
    assert seen == [False]


def test_the_visible_block_states_authority_title_full_name_and_time() -> None:
    moment = datetime.datetime(2026, 12, 20, 9, 5, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=7)))
    block = signing.Signature("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Trần Thị Phó", "r", "Bắc Kạn")

    (text,) = pages_text(signing.stamp_pdf(block, moment, width=190, height=54))

    assert text == "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC Trần Thị Phó Ký số: 20/12/2026 09:05:07 (GMT+07:00)"


def test_a_number_left_reserved_by_a_dead_issue_is_cancelled_by_the_next_issue(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any], time_machine: Any
) -> None:
    # Given an issue whose process died after taking number 01 (nothing else happened to it)
    office, director = personas["office_reviewer"], leaders["director"]
    time_machine.move_to(datetime.datetime(2026, 12, 20, 9, 0, tzinfo=datetime.UTC), tick=False)
    source = services.period_source(period.pk)
    block = services.signer_block(director)
    dead = services._reserve(source, signer=director, block=block, actor=office, day=DAY, replaces=None)
    # When, five minutes later, another issue runs, the reservation may still be alive
    time_machine.move_to(datetime.datetime(2026, 12, 20, 9, 5, tzinfo=datetime.UTC), tick=False)
    second = issue(period, director, office)
    dead.refresh_from_db()
    assert (second.number, dead.state) == (2, IssuedDocument.State.RESERVED)
    # Then, after the quarter of an hour, the next issue records it as a cancelled number
    time_machine.move_to(datetime.datetime(2026, 12, 20, 9, 20, tzinfo=datetime.UTC), tick=False)
    third = issue(period, director, office)
    dead.refresh_from_db()
    assert third.number == 3
    assert (dead.state, dead.cancel_reason) == (IssuedDocument.State.CANCELLED, services.STALE_REASON)
    assert AuditEvent.objects.filter(action=services.CANCELLED, data__number="01/BC-SCT").count() == 1


def test_the_signed_pdf_is_the_reports_own_rendering_with_only_the_number_filled_in(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    # The draft the reports app renders today, and the issued document of the same day
    from workflow.reports import pdf as report_pdf
    from workflow.reports import selectors

    with at(DAY):
        draft = report_pdf.render_pdf(
            render_to_string("reports/period.html", {"doc": selectors.period_report(period, today=DAY)})
        )
        document = issue(period, leaders["director"], personas["office_reviewer"])

    draft_pages, issued_pages = pages_text(draft), pages_text(bytes(document.pdf))
    # Same pages (the ND30 layout checks of the reports hold for both); only the number is filled in
    assert len(draft_pages) == len(issued_pages)
    filled = [
        page.replace("Số: 01/BC-SCT", "Số: …/BC-SCT").replace(
            "(Kèm theo Báo cáo 01/BC-SCT)", "(Kèm theo Báo cáo …/BC-SCT)"
        )
        for page in issued_pages
    ]
    assert filled == draft_pages


def test_the_signed_pdf_keeps_the_nd30_layout_checks(
    leaders: dict[str, Any], period: Any, personas: Any
) -> None:
    # Given the period report issued and signed (the visible stamp drawn into the signer block)
    from tests.reports.test_layout import BOTTOM, LEFT, RIGHT, SLACK, TOP, is_page_number, pages_of

    with at(DAY):
        document = issue(period, leaders["deputy"], personas["office_reviewer"])
    # Then, measured as the unsigned reports are (tests/reports/test_layout.py): every character
    # and table border inside the ND30 margins, body and tables at 12–14 pt
    outside, sizes = [], set()
    for page in pages_of(bytes(document.pdf)):
        for char in page.chars:
            if not char["text"].strip() or is_page_number(char, page):
                continue
            sizes.add(round(char["size"]))
            if (
                char["x0"] < LEFT - SLACK
                or char["x1"] > page.width - RIGHT + SLACK
                or char["top"] < TOP - SLACK
                or char["bottom"] > page.height - BOTTOM + SLACK
            ):
                outside.append((page.number, char["text"], round(char["x0"]), round(char["top"])))
        for edge in page.edges:
            if edge["x0"] < LEFT - SLACK or edge["x1"] > page.width - RIGHT + SLACK:
                outside.append((page.number, "border", round(edge["x0"]), round(edge["top"])))
    assert outside == []
    assert 13 in sizes and sizes - {11} <= {12, 13, 14}  # 11 pt: the recipients list, as the decree sets it

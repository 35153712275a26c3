"""The plan upload page in a browser: static/js/plan-upload.js shows the upload's progress and
"Đang đọc tệp…", shows a refusal in place, and opens the preview once the file is read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import ROOT
from tests.faults.test_hostile_imports import docx_tiny_elements

pytestmark = pytest.mark.e2e

SEED_TXT = ROOT / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"


def test_the_upload_page_refuses_a_hostile_file_in_place_then_previews_the_seed(
    story: Any, person: Any, e2e_task: Any
) -> None:
    office = person("vanphong")
    page, expect = office.page, office.expect
    file_input = page.get_by_label("Tệp kế hoạch (.docx, .doc, .odt hoặc .txt) hoặc bảng tính (.xlsx)")

    with story.step("hostile-file-refused-in-place"):
        office.nav("Nhập kế hoạch")
        upload_url = page.url
        status = page.locator("[data-upload-status]")
        expect(status).to_be_hidden()
        file_input.set_input_files(
            files=[
                {
                    "name": "ke-hoach.docx",
                    "mimeType": "application/octet-stream",
                    "buffer": docx_tiny_elements(),
                }
            ]
        )
        page.evaluate("window.stillThisPage = true")  # gone if the browser loaded another page
        office.click("Đọc tệp và xem trước")
        expect(page.locator("main .errorlist[role=alert]")).to_contain_text("có quá nhiều phần tử XML")
        assert page.url == upload_url
        assert page.evaluate("window.stillThisPage === true")  # shown in place, by the script
        expect(page.get_by_role("button", name="Đọc tệp và xem trước")).to_be_enabled()

    with story.step("seed-read-then-preview"):
        file_input.set_input_files(str(SEED_TXT))
        office.click("Đọc tệp và xem trước")
        page.wait_for_url("**/nhap/xem-truoc/")
        office.sees_heading(f"Xem trước: “{SEED_TXT.name}”")
        expect(page.locator("dl.facts").first).to_contain_text("77 nhiệm vụ")

    assert story.problems() == []

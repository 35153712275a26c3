"""One task of the seed plan from launch to sign-off, by six people in six browsers on a phone,
with one return on the way; the lead asks two partner units, and both give input.

Everything the people do is a click or a keystroke on the pages; the fixtures only seed the
department, the demo accounts and the plan (tests/e2e/conftest.py). Every browser is 390 px wide
and every page anyone loads must fit it (browser.Story.on_a_phone).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.browser import PHONE, SEED_TASK_TEXT, orm_in_test_body

pytestmark = pytest.mark.e2e

QLCN = "Phòng Quản lý công nghiệp"
QLTM = "Phòng Quản lý thương mại"
ATNL = "Phòng An toàn - Năng lượng"
# The six units "Các phòng, đơn vị thuộc sở" covers, less the lead: offered, none ticked in round 1.
PARTNER_UNITS = (
    "Văn phòng Sở",
    "Thanh tra Sở",
    QLTM,
    ATNL,
    "Phòng Kế hoạch - Tài chính",
    "Trung tâm Khuyến công và Xúc tiến Thương mại",
)
PERIOD = "Quý I/2024"

RESULT_1 = "Đã rà soát 12 thủ tục hành chính lĩnh vực công nghiệp; đang tổng hợp đề xuất cắt giảm."
EXPLANATION = "Văn bản đề xuất đang trình ký nên chưa có tài liệu kiểm chứng; sẽ bổ sung ở kỳ 6 tháng."
OPINION = "Thống nhất; đề nghị bổ sung 2 thủ tục lĩnh vực xúc tiến thương mại vào danh mục rà soát."
OPINION_ATNL = "Thống nhất; đề nghị rà soát thêm thủ tục cấp giấy chứng nhận huấn luyện kỹ thuật an toàn."
REASON = "Chưa nêu số thủ tục đề xuất cắt giảm và văn bản đề xuất; đề nghị bổ sung số liệu cụ thể."
RESULT_2 = RESULT_1 + "\nĐã đề xuất cắt giảm 3 thủ tục (Tờ trình số 45/TTr-SCT ngày 05/3/2024)."
STEP_BUTTONS = ("Nhận việc", "Lưu nháp", "Gửi báo cáo", "Gửi quyết định", "Giao việc", "Hủy quy trình")
EVIDENCE_NAME = "Danh mục TTHC đề xuất cắt giảm.pdf"
EVIDENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _login_error_in_vietnamese() -> str:
    """The error the login form gives for a wrong password, in Vietnamese (Django's own text)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.forms import AuthenticationForm
    from django.utils import translation

    user_model = get_user_model()
    with translation.override("vi"):
        username = user_model._meta.get_field(user_model.USERNAME_FIELD).verbose_name
        return str(AuthenticationForm.error_messages["invalid_login"]) % {"username": username}


def test_one_task_from_launch_to_sign_off_with_a_return(seed_task: Any, story: Any, person: Any) -> None:
    task = seed_task
    story.on_a_phone()  # every browser 390 x 844; every page loaded is measured (Story.step)
    visitor = story.person("khach-tieng-anh", language="en-US")
    office = person("vanphong")
    lead = person("qlcn.cv")
    partner = person("qltm.cv")
    partner_2 = person("atnl.cv")
    director = person("giamdoc")
    auditor = person("kiemtra")
    expect = office.expect

    with story.step("an-english-browser-gets-the-login-error-in-vietnamese"):
        visitor.open_site()
        assert visitor.page.evaluate("() => navigator.language") == "en-US"
        visitor.page.get_by_label("Tên đăng nhập").fill("qlcn.cv")
        visitor.page.get_by_label("Mật khẩu").fill("sai-mat-khau")
        visitor.page.get_by_role("button", name="Đăng nhập").click()
        error = visitor.page.locator("main ul.errorlist")
        expect(error).to_have_text(_login_error_in_vietnamese())
        expect(error).to_contain_text("mật khẩu chính xác")
        visitor.has_no_text("Please enter")
        expect(visitor.page.get_by_role("button", name="Đăng xuất")).to_have_count(0)

    with story.step("css-and-js-load"):
        topbar = office.page.locator("header.topbar")
        expect(topbar).to_have_css("background-color", "rgb(11, 92, 171)")  # static/css/app.css
        expect(office.nav_bar()).to_contain_text("Khởi tạo kỳ báo cáo")
        expect(auditor.nav_bar()).not_to_contain_text("Khởi tạo kỳ báo cáo")
        expect(auditor.nav_bar()).not_to_contain_text("Việc của đơn vị")

    with story.step("office-previews-the-launch"):
        office.nav("Khởi tạo kỳ báo cáo")
        office.sees_heading("Khởi tạo kỳ báo cáo")
        office.page.get_by_label("Kỳ báo cáo").select_option(label="Quý I")
        option = f"{task.key} – {task.task[:90]} ({task.timeline_text})"
        office.page.get_by_label("Chỉ khởi tạo các nhiệm vụ sau").select_option(label=option)
        office.click("Xem trước")
        office.sees(f"Sẽ khởi tạo 1 quy trình cho kỳ {PERIOD} (hạn nộp 10/03/2024)")

    with story.step("office-confirms-the-launch"):
        office.click("Xác nhận khởi tạo 1 quy trình")
        office.sees_heading("Chờ thẩm định, phê duyệt")
        office.sees_message(f"Đã khởi tạo 1 quy trình cho kỳ {PERIOD}.")

    with story.step("lead-finds-the-task-in-the-unit-queue"):
        lead.nav("Việc của đơn vị")
        lead.sees_heading(f"Việc của đơn vị – {QLCN}")
        row = lead.page.locator("table.grid tbody tr").filter(has_text=SEED_TASK_TEXT)
        expect(row).to_contain_text("Chủ trì thực hiện")
        expect(row).to_contain_text("Chưa nhận")
        expect(row).to_contain_text(PERIOD)
        lead.open_task(SEED_TASK_TEXT, kind="Chủ trì thực hiện")
        lead.sees_heading(f"Chủ trì thực hiện – {QLCN}")
        lead.sees("Chưa có người nhận", SEED_TASK_TEXT, *PARTNER_UNITS)  # the units the text covers
        lead_step_url = lead.page.url

    with story.step("auditor-sees-the-open-step-without-buttons"):
        auditor.page.goto(lead_step_url)
        auditor.sees_heading(f"Chủ trì thực hiện – {QLCN}")
        auditor.sees("Chưa có người nhận")
        auditor.has_no_button(*STEP_BUTTONS)
        expect(auditor.page.locator("main form")).to_have_count(0)

    with story.step("lead-claims"):
        lead.click("Nhận việc")
        lead.sees_message("Đã nhận việc.")
        lead.has_no_button("Nhận việc")
        lead.sees_form("Báo cáo kết quả thực hiện")

    with story.step("lead-forgets-the-explanation"):
        lead.page.get_by_label("Kết quả thực hiện").fill(RESULT_1)
        lead.page.get_by_label("Tự đánh giá").select_option(label="Đang thực hiện")
        lead.click("Gửi báo cáo")
        lead.sees("Chưa có tài liệu kiểm chứng: hãy đính kèm tệp hoặc viết giải trình.")
        expect(lead.page.get_by_label("Kết quả thực hiện")).to_have_value(RESULT_1)

    with story.step("over-long-text-is-counted-and-refused-never-cut"):
        box = lead.page.get_by_label("Kết quả thực hiện")
        counter = lead.page.locator("main textarea[name=report-result] + .counter")
        expect(counter).to_have_text(f"{len(RESULT_1)} / 20 000")
        box.fill("x" * 20_001)
        expect(box).to_have_value("x" * 20_001)  # no maxlength: the browser kept it all
        expect(counter).to_have_text("20 001 / 20 000 – vượt giới hạn, hãy rút gọn")
        lead.click("Gửi báo cáo")
        lead.sees("Chưa gửi: có nội dung vượt giới hạn ký tự.")
        box.fill(RESULT_1)
        expect(counter).to_have_text(f"{len(RESULT_1)} / 20 000")

    with story.step("lead-attaches-a-file-and-the-text-stays"):
        lead.page.get_by_label("Giải trình").fill(EXPLANATION)
        lead.page.get_by_label("Thêm tệp").set_input_files(
            files=[{"name": EVIDENCE_NAME, "mimeType": "application/pdf", "buffer": EVIDENCE_PDF}]
        )
        lead.click("Đính kèm")
        lead.sees_message(f"Đã đính kèm “{EVIDENCE_NAME}”.")
        lead.sees(EVIDENCE_NAME)
        expect(lead.page.get_by_label("Kết quả thực hiện")).to_have_value(RESULT_1)
        expect(lead.page.get_by_label("Giải trình")).to_have_value(EXPLANATION)
        expect(lead.page.get_by_label("Tự đánh giá")).to_have_value("in_progress")

    with story.step("the-draft-saves-itself-while-typing"):
        lead.page.get_by_label("Giải trình").fill(EXPLANATION + " Bổ sung.")
        expect(lead.page.locator("main [data-autosave-status]")).to_contain_text("Đã tự động lưu nháp lúc")
        lead.page.reload()
        expect(lead.page.get_by_label("Giải trình")).to_have_value(EXPLANATION + " Bổ sung.")
        lead.page.get_by_label("Giải trình").fill(EXPLANATION)

    with story.step("lead-saves-a-draft-with-one-partner-ticked"):
        # The plan names no partner one by one ("Các phòng, đơn vị thuộc sở"): all offered, none ticked.
        for name in PARTNER_UNITS:
            expect(lead.page.get_by_role("checkbox", name=name, exact=True)).not_to_be_checked()
        lead.page.get_by_role("checkbox", name=QLTM, exact=True).check()
        lead.click("Lưu nháp")
        lead.sees_message("Đã lưu nháp.")
        expect(lead.page.get_by_label("Giải trình")).to_have_value(EXPLANATION)
        expect(lead.page.get_by_label("Tự đánh giá")).to_have_value("in_progress")
        expect(lead.page.get_by_role("checkbox", name=QLTM, exact=True)).to_be_checked()  # kept by the draft

    with story.step("lead-asks-two-partners-and-submits"):
        lead.page.get_by_role("checkbox", name=ATNL, exact=True).check()
        for name in PARTNER_UNITS:
            box = lead.page.get_by_role("checkbox", name=name, exact=True)
            if name in (QLTM, ATNL):
                expect(box).to_be_checked()
            else:
                expect(box).not_to_be_checked()
        lead.click("Gửi báo cáo")
        lead.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")
        lead.sees_heading("Việc của tôi")
        lead.sees("Không có việc nào.")

    with story.step("partner-claims-from-the-unit-queue"):
        partner.nav("Việc của đơn vị")
        partner.sees_heading(f"Việc của đơn vị – {QLTM}")
        partner.page.get_by_label("Chọn tất cả").check()  # static/js/app.js ticks the rows
        expect(partner.page.get_by_label("Chọn", exact=True)).to_be_checked()
        partner.click("Nhận các việc đã chọn")
        partner.sees_message("Đã nhận 1 việc.")

    with story.step("partner-gives-input"):
        partner.open_task(SEED_TASK_TEXT, kind="Phối hợp cho ý kiến")
        partner.sees_heading(f"Phối hợp cho ý kiến – {QLTM}")
        partner.sees(RESULT_1, EXPLANATION)
        partner.sees_form("Ý kiến phối hợp")
        partner.page.get_by_label("Ý kiến phối hợp").fill(OPINION)
        partner.click("Gửi báo cáo")
        partner.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("second-partner-claims-on-the-step-page-and-gives-input"):
        partner_2.nav("Việc của đơn vị")
        partner_2.sees_heading(f"Việc của đơn vị – {ATNL}")
        partner_2.open_task(SEED_TASK_TEXT, kind="Phối hợp cho ý kiến")
        partner_2.sees_heading(f"Phối hợp cho ý kiến – {ATNL}")
        partner_2.click("Nhận việc")
        partner_2.sees_message("Đã nhận việc.")
        partner_2.sees(RESULT_1, EXPLANATION)
        partner_2.page.get_by_label("Ý kiến phối hợp").fill(OPINION_ATNL)
        partner_2.click("Gửi báo cáo")
        partner_2.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("office-returns-with-a-reason"):
        office.nav("Chờ phê duyệt")
        office.sees_heading("Chờ thẩm định, phê duyệt")
        office.open_task(SEED_TASK_TEXT, kind="Văn phòng Sở thẩm định")
        office.sees_heading("Văn phòng Sở thẩm định")
        office.sees(RESULT_1, EXPLANATION, OPINION, OPINION_ATNL, "Tự đánh giá: Đang thực hiện")
        office.click("Nhận việc")
        office.sees_message("Đã nhận việc.")
        office.sees_form("Thẩm định")
        office.page.get_by_label("Trả lại đơn vị chủ trì").check()
        office.page.get_by_label("Lý do trả lại").fill(REASON)
        office.page.get_by_label("Xin lại ý kiến các cơ quan phối hợp").check()
        office.click("Gửi quyết định")
        office.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("lead-is-told-with-a-link-to-the-returned-step"):
        lead.follow(lead.page.locator("header a.bell"))
        lead.sees_heading("Thông báo")
        note = lead.page.locator("main ul.timeline > li").filter(has_text="Việc mới – bị trả lại (vòng 2)")
        expect(note).to_have_count(1)
        expect(note).to_contain_text(f"Lý do: {REASON}")
        note.get_by_role("button").click()  # the notification itself opens it (and marks it read)
        lead.page.wait_for_url("**/quy-trinh/buoc/**")
        lead.sees_heading(f"Chủ trì thực hiện – {QLCN}")
        lead.sees_form("Báo cáo kết quả thực hiện")

    with story.step("lead-finds-the-returned-task-first-in-my-steps"):
        lead.nav("Việc của tôi")
        lead.sees_heading("Việc của tôi")
        first = lead.page.locator("table.grid tbody tr").first
        expect(first).to_contain_text(SEED_TASK_TEXT)
        expect(first).to_contain_text("(vòng 2, bị trả lại)")
        expect(first).to_contain_text(f"Bị trả lại – lý do: {REASON}")
        expect(first).not_to_contain_text("Chưa nhận")
        lead.open_task(SEED_TASK_TEXT, kind="Chủ trì thực hiện")

    with story.step("lead-resubmits-from-the-previous-text-and-file"):
        lead.has_no_button("Nhận việc")  # it came back to them: nothing to claim
        lead.sees_form("Báo cáo kết quả thực hiện")
        warning = lead.page.locator("main .msg-warning")
        expect(warning).to_contain_text("Đã bị trả lại")
        expect(warning).to_contain_text(f"Lý do: {REASON}")
        # The returned report starts from the text and the file sent in round 1.
        expect(lead.page.get_by_label("Kết quả thực hiện")).to_have_value(RESULT_1)
        expect(lead.page.get_by_label("Giải trình")).to_have_value(EXPLANATION)
        kept = lead.page.locator("main ul.evidence li")
        expect(kept).to_have_count(1)
        expect(kept).to_contain_text(EVIDENCE_NAME)
        expect(kept).to_contain_text("từ vòng trước")
        # "Xin lại ý kiến": the two partners asked in round 1 are proposed again, and only they.
        for name in PARTNER_UNITS:
            box = lead.page.get_by_role("checkbox", name=name, exact=True)
            if name in (QLTM, ATNL):
                expect(box).to_be_checked()
            else:
                expect(box).not_to_be_checked()
        second_tab = lead.page.context.new_page()  # the same step, open in another tab
        second_tab.goto(lead.page.url)
        lead.page.get_by_label("Kết quả thực hiện").fill(RESULT_2)
        lead.page.get_by_label("Tự đánh giá").select_option(label="Đã hoàn thành")
        lead.click("Gửi báo cáo")
        lead.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("the-second-tab-keeps-its-text-and-says-what-happened"):
        typed = "Bản soạn ở tab thứ hai, chưa gửi."
        second_tab.get_by_label("Kết quả thực hiện").fill(typed)
        second_tab.get_by_role("button", name="Gửi báo cáo", exact=True).click()
        expect(second_tab.locator("main .msg-warning")).to_have_text("Bạn đã gửi bước này ở một tab khác.")
        expect(second_tab.locator("main textarea[readonly]").first).to_have_value(typed)
        second_tab.close()

    with story.step("partner-asked-again-has-no-opinion"):
        partner.nav("Việc của đơn vị")
        partner.open_task(SEED_TASK_TEXT, kind="Phối hợp cho ý kiến")
        partner.sees("(vòng 2")
        partner.click("Nhận việc")
        partner.sees_form("Ý kiến phối hợp")
        expect(partner.page.get_by_label("Ý kiến phối hợp")).to_have_value(OPINION)  # its round-1 opinion
        partner.page.get_by_label("Ý kiến phối hợp").fill("")
        partner.page.get_by_label("Không có ý kiến").check()
        partner.click("Gửi báo cáo")
        partner.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("second-partner-asked-again-keeps-its-opinion"):
        partner_2.nav("Việc của đơn vị")
        partner_2.open_task(SEED_TASK_TEXT, kind="Phối hợp cho ý kiến")
        partner_2.sees("(vòng 2")
        partner_2.click("Nhận việc")
        expect(partner_2.page.get_by_label("Ý kiến phối hợp")).to_have_value(OPINION_ATNL)
        partner_2.click("Gửi báo cáo")
        partner_2.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("office-approves"):
        office.nav("Chờ phê duyệt")
        office.open_task(SEED_TASK_TEXT, kind="Văn phòng Sở thẩm định")
        office.sees("Đã đề xuất cắt giảm 3 thủ tục", "Không có ý kiến.", OPINION_ATNL)
        office.click("Nhận việc")
        office.sees_form("Thẩm định")
        office.page.get_by_label("Đạt – trình Lãnh đạo Sở").check()
        office.click("Gửi quyết định")
        office.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")

    with story.step("director-opens-the-sign-off"):
        director.nav("Chờ phê duyệt")
        director.sees_heading("Chờ thẩm định, phê duyệt")
        director.open_task(SEED_TASK_TEXT, kind="Lãnh đạo Sở phê duyệt")
        director.sees_heading(f"Lãnh đạo Sở phê duyệt – {QLCN}")
        director.sees("Quyết định: Đồng ý", "Đã đề xuất cắt giảm 3 thủ tục")

    with story.step("director-reads-the-report-above-the-sign-off-form"):
        director.click("Nhận việc")
        director.sees_form("Phê duyệt")
        # Only about this step: the sign-off was never returned, so no return banner.
        expect(director.page.locator("main .msg-warning")).to_have_count(0)
        director.has_no_text("Đã bị trả lại")
        # The report and its evidence come before the decision form.
        summary = director.page.locator("main section.reports")
        expect(summary).to_contain_text("Đã đề xuất cắt giảm 3 thủ tục")
        expect(summary).to_contain_text(EVIDENCE_NAME)
        assert director.page.evaluate(
            "() => { const s = document.querySelector('main section.reports');"
            " const f = document.querySelector('main form[data-report-form]');"
            " return !!(s && f && (s.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING)); }"
        )

    with story.step("director-signs-off"):
        director.page.get_by_label("Phê duyệt", exact=True).check()
        director.click("Gửi quyết định")
        director.sees_message("Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")
        director.nav("Chờ phê duyệt")
        director.sees("Không có việc nào.")

    with story.step("auditor-reads-the-dossier"):
        # No page lists period tasks for an auditor yet: they open the link to the dossier.
        lead.page.goto(lead_step_url)
        dossier_url = lead.page.get_by_role("link", name="Xem toàn bộ hồ sơ").get_attribute("href")
        auditor.page.goto(auditor.base_url + dossier_url)
        auditor.sees_heading(f"Hồ sơ nhiệm vụ – kỳ {PERIOD}")
        auditor.sees(SEED_TASK_TEXT, QLCN, QLTM, ATNL, "bước hiện tại: Hoàn thành")
        expect(auditor.page.locator("main .pill")).to_have_text(
            re.compile(r"^Hoàn thành (đúng hạn|quá hạn)$")
        )
        steps = auditor.page.locator("ol.timeline > li")
        expected = [
            (
                f"Chủ trì thực hiện – {QLCN}",
                "vòng 1",
                RESULT_1,
                "Tự đánh giá: Đang thực hiện",
                EXPLANATION,
                EVIDENCE_NAME,
            ),
            (f"Phối hợp cho ý kiến – {QLTM}", "vòng 1", OPINION),
            (f"Phối hợp cho ý kiến – {ATNL}", "vòng 1", OPINION_ATNL),
            (
                "Văn phòng Sở thẩm định",
                "vòng 1",
                "Quyết định: Trả lại đơn vị chủ trì",
                "Lý do trả lại:",
                REASON,
            ),
            (
                f"Chủ trì thực hiện – {QLCN}",
                "vòng 2",
                "Đã đề xuất cắt giảm 3 thủ tục",
                "Đã hoàn thành",
                EVIDENCE_NAME,
                "giữ từ vòng trước",
            ),
            (f"Phối hợp cho ý kiến – {QLTM}", "vòng 2", "Không có ý kiến."),
            (f"Phối hợp cho ý kiến – {ATNL}", "vòng 2", OPINION_ATNL),
            ("Văn phòng Sở thẩm định", "vòng 2", "Quyết định: Đồng ý"),
            (f"Lãnh đạo Sở phê duyệt – {QLCN}", "vòng 2", "Quyết định: Đồng ý"),
        ]
        expect(steps).to_have_count(len(expected))
        for item, texts in zip(steps.all(), expected, strict=True):
            for text in texts:
                expect(item).to_contain_text(text)
            expect(item).to_contain_text("đã xong")
        auditor.has_no_button(*STEP_BUTTONS)
        expect(auditor.page.locator("main form")).to_have_count(0)
        expect(auditor.page.locator("main textarea")).to_have_count(0)

    with story.step("no-broken-assets-or-script-errors-and-every-page-fits-the-phone"):
        assert story.problems() == []
        measured = story.pages_measured()
        assert len(measured) >= 60, measured  # every page load of every person was measured
        assert max(width for width, _, _ in measured) <= PHONE["width"]
        print(f"{len(measured)} page loads measured, widest {max(w for w, _, _ in measured)} px")

    # What the people did is what the database holds.
    with orm_in_test_body():
        from workflow.models import PeriodTask

        run = PeriodTask.objects.get(plan_task=task)
        assert run.stage == "done"
        assert list(run.steps.order_by("pk").values_list("kind", "round", "state", "decision")) == [
            ("lead", 1, "done", ""),
            ("partner", 1, "done", ""),
            ("partner", 1, "done", ""),
            ("review", 1, "done", "lead"),
            ("lead", 2, "done", ""),
            ("partner", 2, "done", ""),
            ("partner", 2, "done", ""),
            ("review", 2, "done", "approve"),
            ("sign_off", 2, "done", "approve"),
        ]
        # One file, uploaded once in round 1 and carried into round 2: the same stored bytes.
        import hashlib

        from workflow.models import Evidence

        first, carried = Evidence.objects.filter(step__period_task=run).order_by("pk")
        assert (first.step.round, carried.step.round, carried.carried_from_id) == (1, 2, first.pk)
        assert first.sha256 == carried.sha256 == hashlib.sha256(EVIDENCE_PDF).hexdigest()
        assert first.stored_name == carried.stored_name
        assert first.removed_at is None and carried.removed_at is None
        assert list(run.steps.order_by("pk").values_list("submitted_by__username", flat=True)) == [
            "qlcn.cv",
            "qltm.cv",
            "atnl.cv",
            "vanphong",
            "qlcn.cv",
            "qltm.cv",
            "atnl.cv",
            "vanphong",
            "giamdoc",
        ]


def test_the_header_shows_a_vietnamese_name_in_vietnamese_order(person: Any) -> None:
    office = person("vanphong")
    office.expect(office.page.locator("header .user")).to_have_text("Lê Thị Đầu Mối", timeout=1_000)

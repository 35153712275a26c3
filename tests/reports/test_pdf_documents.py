"""The three official documents of the seed plan (77 tasks), rendered once for this module.

Texts are read back from the PDFs with pypdf: what a reader (or a search) gets out of them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import pytest
from pypdf import PdfReader

from plans.models import PlanTask
from plans.selectors import AppendixTable, HeadingRow, PlanFilters, TaskRow, plan_tasks_for_page
from tests.reports.conftest import (
    DONE_ON_TIME,
    REPORT_DAY,
    SCRIPT,
    at,
    department,
    flat,
    import_seed,
    module_db,
    pdf_pages,
    run_quarter,
)
from workflow.reports import pdf, selectors

pytestmark = pytest.mark.django_db  # the test database must exist for the module fixture

A4 = (595.28, 841.89)  # points, portrait
TOP_MARGIN = 20 / 25.4 * 72  # 20 mm
LEFT, RIGHT = 30 / 25.4 * 72, 15 / 25.4 * 72


@dataclass
class Rendered:
    plan: bytes
    period: bytes
    dossier: bytes
    tasks: list[str]  # every task text of the plan, in order
    period_data: selectors.PeriodReport
    plan_tables: list[AppendixTable]  # the plan page's tables of the same plan


@pytest.fixture(scope="module")
def rendered(django_db_setup: Any, django_db_blocker: Any) -> Rendered:
    with module_db(django_db_blocker):
        people = department()
        scenario = run_quarter(import_seed(), people)
        with at(REPORT_DAY):
            period_data = selectors.period_report(scenario.period)
            return Rendered(
                plan=pdf.document_pdf(
                    "reports/plan.html", selectors.plan_document(scenario.plan), kind="plan"
                ),
                period=pdf.document_pdf("reports/period.html", period_data, kind="period"),
                dossier=pdf.document_pdf(
                    "reports/dossier.html", selectors.dossier(scenario.runs[DONE_ON_TIME].pk), kind="dossier"
                ),
                tasks=list(
                    PlanTask.objects.filter(plan=scenario.plan)
                    .order_by("position")
                    .values_list("task", flat=True)
                ),
                period_data=period_data,
                plan_tables=plan_tasks_for_page(scenario.plan, PlanFilters()),
            )


@pytest.fixture(scope="module")
def texts(rendered: Rendered) -> dict[str, list[str]]:
    return {name: pdf_pages(getattr(rendered, name)) for name in ("plan", "period", "dossier")}


def sizes(data: bytes) -> list[tuple[float, float]]:
    return [
        (round(float(p.mediabox.width), 2), round(float(p.mediabox.height), 2))
        for p in PdfReader(io.BytesIO(data)).pages
    ]


def top_margin_texts(data: bytes) -> list[list[tuple[str, float, float]]]:
    """Per page: (text, x, centre of the text column) of every text run in the top margin."""
    pages = []
    for page in PdfReader(io.BytesIO(data)).pages:
        runs: list[tuple[str, float, float]] = []

        def visit(text: str, cm: list[float], tm: list[float], *_: Any, runs: list[Any] = runs) -> None:
            # the text matrix times the current matrix: where the run starts, from the bottom left
            runs.append(
                (text.strip(), tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
            )

        page.extract_text(visitor_text=visit)
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        centre = LEFT + (width - LEFT - RIGHT) / 2
        pages.append([(text, x, centre) for text, x, y in runs if text and y > height - TOP_MARGIN])
    return pages


# --- layout ----------------------------------------------------------------------------------


def test_plan_is_a4_landscape_and_report_portrait_with_its_task_tables_landscape(
    rendered: Rendered, texts: dict[str, list[str]]
) -> None:
    landscape = (A4[1], A4[0])
    assert set(sizes(rendered.plan)) == {landscape}
    period_sizes = sizes(rendered.period)
    first_table = next(i for i, t in enumerate(texts["period"]) if t.startswith("PHỤ LỤC"))
    assert period_sizes[:first_table] == [A4] * first_table
    assert set(period_sizes[first_table:]) == {landscape}
    assert set(sizes(rendered.dossier)) == {A4}


@pytest.mark.parametrize("name", ["plan", "period", "dossier"])
def test_page_numbers_are_centred_at_the_top_from_page_2(rendered: Rendered, name: str) -> None:
    pages = top_margin_texts(getattr(rendered, name))
    assert len(pages) >= 3
    assert pages[0] == []  # none on the first page
    for index, found in enumerate(pages[1:], start=2):
        ((number, x, centre),) = found
        assert number == str(index)
        assert abs(x - centre) < 8  # the digits start within a few points of the text column's centre


@pytest.mark.parametrize("name", ["plan", "period", "dossier"])
def test_fonts_are_the_bundled_liberation_serif(rendered: Rendered, name: str) -> None:
    fonts = set()
    for page in PdfReader(io.BytesIO(getattr(rendered, name))).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+", 1)[1])
    assert fonts <= {"CCHC-Serif", "CCHC-Serif-Bold", "CCHC-Serif-Italic", "CCHC-Serif-Bold-Italic"}
    assert "CCHC-Serif" in fonts


# --- the header block and the closing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "number_and_date"),
    [
        ("plan", "Số: …/KH-SCT Bắc Kạn, ngày … tháng … năm 2024"),
        ("period", "Số: …/BC-SCT Bắc Kạn, ngày 12 tháng 3 năm 2024"),
        ("dossier", "Số: …/BC-SCT Bắc Kạn, ngày 12 tháng 3 năm 2024"),
    ],
)
def test_every_document_opens_with_the_header_block_and_closes_with_signature_and_recipients(
    texts: dict[str, list[str]], name: str, number_and_date: str
) -> None:
    first = texts[name][0]
    head = [line.strip() for line in first.splitlines()[:5]]
    assert head == [
        "UBND TỈNH BẮC KẠN",
        "SỞ CÔNG THƯƠNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        number_and_date,
    ]
    whole = "\n".join(texts[name])
    lines = whole.splitlines()
    for line in ("Nơi nhận:", "- Lưu: VT, VP."):
        assert line in lines
    # no leader named (the selectors' default): the director's form (test_layout.py names signers)
    assert any(line.endswith("GIÁM ĐỐC") for line in lines)


@pytest.mark.parametrize("name", ["plan", "period", "dossier"])
def test_vietnamese_text_comes_out_intact_and_nfc(texts: dict[str, list[str]], name: str) -> None:
    whole = "\n".join(texts[name])
    assert unicodedata.is_normalized("NFC", whole)
    assert "\ufffd" not in whole  # no glyph without its character


def test_titles_of_the_three_documents(texts: dict[str, list[str]]) -> None:
    assert "KẾ HOẠCH CẢI CÁCH HÀNH CHÍNH NĂM 2024" in texts["plan"][0].splitlines()
    period = texts["period"][0].splitlines()
    assert period[period.index("BÁO CÁO") : period.index("BÁO CÁO") + 3] == [
        "BÁO CÁO",
        "Kết quả thực hiện Kế hoạch cải cách hành chính năm 2024",
        "Quý I/2024",
    ]
    assert "HỒ SƠ NHIỆM VỤ" in texts["dossier"][0].splitlines()


# --- contents ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plan", "period"])
def test_every_task_of_the_plan_is_in_the_document(
    rendered: Rendered, texts: dict[str, list[str]], name: str
) -> None:
    # compared without whitespace: the layout breaks lines anywhere, even after a "/"
    whole = "".join("".join(texts[name]).split())
    assert len(rendered.tasks) == 77
    missing = [task[:60] for task in rendered.tasks if "".join(task.split()) not in whole]
    assert missing == []


def test_period_report_counts_per_bucket_and_per_unit(
    rendered: Rendered, texts: dict[str, list[str]]
) -> None:
    # Counted by hand: 77 tasks (70 "Thường xuyên", 5 "Năm 2024", 2 "Khi tham mưu…"); 4 runs
    # launched in Quý I. The buckets count the 4 runs; the 73 others are on their own lines.
    data = rendered.period_data
    assert [(b.label, b.count, b.share) for b in data.buckets] == [
        ("Hoàn thành đúng hạn", 1, "25%"),
        ("Hoàn thành quá hạn", 1, "25%"),
        ("Chưa hoàn thành – trong hạn", 0, "0%"),
        ("Chưa hoàn thành – quá hạn", 2, "50%"),
        ("Chưa thực hiện", 0, "0%"),
    ]
    assert [(x.label, x.count, x.share) for x in data.lines] == [
        ("Thực hiện trong năm, chưa đến hạn", 5, "6,5%"),
        ("Không phát sinh trong kỳ", 2, "2,6%"),
        ("Chưa khởi tạo trong kỳ", 66, "85,7%"),
        ("Đã hủy quy trình", 0, "0%"),
    ]
    assert (data.total, data.plan_total) == (4, 77)
    assert [(u.name, u.counts, u.total, u.lines, u.everything) for u in data.units] == [
        ("Văn phòng Sở", [1, 1, 0, 0, 0], 2, [2, 2, 57, 0], 63),
        ("Thanh tra Sở", [0, 0, 0, 1, 0], 1, [3, 0, 6, 0], 10),
        ("Phòng Quản lý công nghiệp", [0, 0, 0, 0, 0], 0, [2, 0, 2, 0], 4),
        ("Phòng Quản lý thương mại", [0, 0, 0, 0, 0], 0, [2, 0, 1, 0], 3),
        ("Phòng An toàn - Năng lượng", [0, 0, 0, 1, 0], 1, [2, 0, 3, 0], 6),
        ("Phòng Kế hoạch - Tài chính", [0, 0, 0, 0, 0], 0, [2, 0, 1, 0], 3),
        ("Trung tâm Khuyến công và Xúc tiến Thương mại", [0, 0, 0, 0, 0], 0, [4, 0, 2, 0], 6),
    ]
    first_table = next(i for i, t in enumerate(texts["period"]) if t.startswith("PHỤ LỤC"))
    summary = flat("\n".join(texts["period"][:first_table]))  # the portrait pages
    for row in (
        "1 Hoàn thành đúng hạn 1 25%",
        "2 Hoàn thành quá hạn 1 25%",
        "3 Chưa hoàn thành – trong hạn 0 0%",
        "4 Chưa hoàn thành – quá hạn 2 50%",
        "5 Chưa thực hiện 0 0%",
        "Cộng (tính kết quả kỳ) 4 100%",
        "6 Thực hiện trong năm, chưa đến hạn 5 6,5%",
        "7 Không phát sinh trong kỳ 2 2,6%",
        "8 Chưa khởi tạo trong kỳ 66 85,7%",
        "9 Đã hủy quy trình 0 0%",
        "Tổng số nhiệm vụ của kế hoạch 77 100%",
        "Văn phòng Sở 1 1 0 0 0 2 2 2 57 0 63",
        "Thanh tra Sở 0 0 0 1 0 1 3 0 6 0 10",
        "Phòng An toàn - Năng lượng 0 0 0 1 0 1 2 0 3 0 6",
        "Trung tâm Khuyến công và Xúc tiến Thương mại 0 0 0 0 0 0 4 0 2 0 6",
    ):
        assert row in summary


def test_period_report_shows_each_tasks_latest_result_bucket_and_evidence(rendered: Rendered) -> None:
    rows = {r.task.key: r for a in rendered.period_data.appendices for r in a.rows if r.kind == "task"}
    assert len(rows) == 77
    done = rows[DONE_ON_TIME]
    assert (done.bucket_label, done.evidence_count) == ("Hoàn thành đúng hạn", 1)
    # the second version of the lead report, not the returned first one
    assert [(r.unit, r.text) for r in done.results] == [
        ("Văn phòng Sở", "Đã bổ sung số liệu: 12/12 nhiệm vụ đúng tiến độ")
    ]
    never = rows["3/I/4/4.1/1"]  # "Khi tham mưu xây dựng chính sách": not launched in Quý I
    assert (never.launched, never.bucket_label, never.results, never.evidence_count) == (
        False,
        "Không phát sinh trong kỳ",
        [],
        0,
    )
    year_tasks = [r for r in rows.values() if r.bucket == "not_due"]
    assert [r.bucket_label for r in year_tasks] == ["Thực hiện trong năm, chưa đến hạn (hạn 31/12/2024)"] * 5


def test_period_report_tables_are_the_plans_tables(rendered: Rendered) -> None:
    """The report reads the plan's rows itself (plain values, one query): the same tables,
    headings, rowspans and cells as the plan page, and per-unit counts by the lead units."""
    report = rendered.period_data

    def plan_row(row: HeadingRow | TaskRow) -> tuple[Any, ...]:
        if isinstance(row, HeadingRow):
            return (row.kind, row.code, row.title)
        cells = (row.key, row.first, row.span, row.ordinal, row.criterion, row.task, row.lead_text)
        return ("task", *cells, row.partner_text)

    def report_row(row: Any) -> tuple[Any, ...]:
        if isinstance(row, HeadingRow):
            return (row.kind, row.code, row.title)
        t = row.task
        return ("task", t.key, t.first, t.span, t.ordinal, t.criterion, t.task, t.lead_text, t.partner_text)

    assert [(a.number, a.title, [report_row(r) for r in a.rows]) for a in report.appendices] == [
        (t.number, t.title, [plan_row(r) for r in t.rows]) for t in rendered.plan_tables
    ]
    buckets = {r.task.key: r.bucket for a in report.appendices for r in a.rows if r.kind == "task"}
    order = [*selectors.BUCKET_ORDER, *selectors.LINE_ORDER]
    expected = {u.name: [0] * len(order) for u in report.units}
    for table in rendered.plan_tables:
        for row in table.rows:
            for unit in getattr(row, "lead_units", []):
                expected[unit.name][order.index(buckets[row.key])] += 1
    assert {u.name: u.counts + u.lines for u in report.units} == expected
    assert any(len(r.lead_units) > 1 for t in rendered.plan_tables for r in t.rows if r.kind == "task")


def test_period_report_table_rows_read_in_order(texts: dict[str, list[str]]) -> None:
    tables = flat("\n".join(texts["period"][2:]))
    assert (
        "TC 1.1. Thực hiện kế hoạch CCHC Triển khai thực hiện có hiệu quả, đúng tiến độ các nhiệm vụ kế hoạch "
        "CCHC năm 2024 đề ra Chủ trì: Văn phòng Sở Phối hợp: Các phòng, đơn vị thuộc sở Đã bổ sung số liệu: "
        "12/12 nhiệm vụ đúng tiến độ Hoàn thành đúng hạn 1"
    ) in tables


def test_dossier_has_every_step_version_reason_sign_off_and_evidence_hash(
    texts: dict[str, list[str]],
) -> None:
    whole = flat("\n".join(texts["dossier"]))
    steps = [
        # due dates in working days before Friday 08/03 (the Sunday deadline 10/03 moved back)
        "1. Chủ trì thực hiện – Văn phòng Sở (vòng 1, hạn 29/02/2024, đã xong)",
        "8. Văn phòng Sở thẩm định (vòng 1, hạn 06/03/2024, đã xong)",
        "9. Chủ trì thực hiện – Văn phòng Sở (vòng 2, hạn 29/02/2024, đã xong)",
        "11. Lãnh đạo Sở phê duyệt – Văn phòng Sở (vòng 2, hạn 08/03/2024, đã xong)",
    ]
    for line in steps:
        assert line in whole
    assert "Kết quả: Đã bổ sung số liệu: 12/12 nhiệm vụ đúng tiến độ" in whole
    assert "Quyết định: Trả lại đơn vị chủ trì Lý do trả lại: Thiếu số liệu quý I" in whole
    assert "Gửi lúc 05/03/2024 09:00 bởi Director. Quyết định: Đồng ý" in whole
    assert "Kết quả kỳ Hoàn thành đúng hạn (hoàn thành lúc 05/03/2024 09:00)" in whole
    assert "Báo cáo kết quả tháng 2.pdf" in whole
    assert "ab" * 32 in "".join(whole.split())  # the full SHA-256, however the cell wraps it
    assert "Trả lại" in whole and "Phê duyệt" in whole  # the audit trail's actions


def test_user_text_is_escaped_and_shows_as_text(texts: dict[str, list[str]]) -> None:
    whole = flat("\n".join(texts["dossier"]))
    assert f"Kết quả: Đã ban hành kế hoạch; {SCRIPT} được hiển thị như chữ" in whole


def test_cache_key_text_is_the_whole_data_as_asdict_gives_it(rendered: Rendered) -> None:
    """``canonical_json`` skips ``asdict``'s deep copy, not any of the data."""
    data = rendered.period_data
    whole = json.dumps(dataclasses.asdict(data), sort_keys=True, ensure_ascii=False, default=str)
    assert pdf.canonical_json(data) == whole
    assert pdf.content_key("period", data) != pdf.content_key("period_xlsx", data)

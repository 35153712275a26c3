"""The plan as an Excel workbook (.xlsx), written by ``plan_workbook``; read back by
``plans.parsing.xlsx.parse_xlsx``.

One layout, so that a plan exported, edited in Excel and uploaded again is the same plan:

* one sheet per appendix, named "Phụ lục N"; the appendix heading ("Phụ lục N. TITLE")
  is the sheet's printed page header, so it shows on every printed page and the table
  itself starts at row 1 (a heading typed in rows above the table is read as well);
* row 1: the document's own column titles (TT, tiêu chí, [mục tiêu], nhiệm vụ, chủ trì,
  phối hợp, thời gian), frozen, printed on every page;
* a section (I, II ...) or group (1, 2 ...) row: its code in column A, its title in B;
* a criterion's TT and "TC 1.1. name" on its first task row, merged down over its other
  tasks; other task cells merged vertically are copies of the cell above (as in Word);
* a task cell that came from a merged cell of the original is filled pale yellow
  (``INHERITED_FILL``), and the reader marks it inherited again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from plans.parsing.xlsx import INHERITED_FILL

__all__ = [
    "DATE_FORMAT",
    "INHERITED_FILL",
    "PERCENT_FORMAT",
    "WorkbookStyles",
    "cell_text_safe",
    "header_row",
    "heading_row",
    "page_title",
    "plan_workbook",
    "plan_xlsx",
    "print_setup",
    "rows_fit",
    "title_block",
    "workbook_styles",
]

DATE_FORMAT = "dd/mm/yyyy"
PERCENT_FORMAT = "0.0%"
# Text a spreadsheet program would take for a formula (or a DDE/command) when it starts a cell.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Excel refuses page headers longer than 255 characters (codes included).
_MAX_PAGE_HEADER = 255


# ---------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class WorkbookStyles:
    """The look shared by every workbook we write (plan and period report)."""

    header_fill: Any
    section_fill: Any
    group_fill: Any
    inherited_fill: Any
    border: Any
    wrap: Any
    header_alignment: Any
    bold: Any
    header_font_name: str = "Times New Roman,Bold"


def workbook_styles() -> WorkbookStyles:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return WorkbookStyles(
        header_fill=PatternFill("solid", fgColor="D9DEE7"),
        section_fill=PatternFill("solid", fgColor="E3EBF5"),
        group_fill=PatternFill("solid", fgColor="F0F4F9"),
        inherited_fill=PatternFill("solid", fgColor=INHERITED_FILL),
        border=Border(left=thin, right=thin, top=thin, bottom=thin),
        wrap=Alignment(wrap_text=True, vertical="top"),
        header_alignment=Alignment(wrap_text=True, vertical="center", horizontal="center"),
        bold=Font(bold=True),
    )


def cell_text_safe(cell: Any) -> Any:
    """THE rule for every workbook the product writes (plan, period report, history): a text
    that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return stays text.

    openpyxl stores a text starting with "=" as a live formula; Excel and Calc evaluate the
    others when the cell is edited or the sheet re-saved as CSV. The cell is written as a
    string with Excel's own "quote prefix" (what typing ``'=…`` does): the program shows and
    keeps the text as typed, never evaluates it, and a reader gets the exact text back (the
    plan workbook round-trips through ``plans.parsing.xlsx``)."""
    value = cell.value
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def title_block(sheet: Any, lines: list[Any], n_cols: int, styles: WorkbookStyles) -> int:
    """Rows at the top of a sheet: each line a text (bold, merged over the table's width) or a
    (label, value) pair (a date as a real date cell, dd/mm/yyyy); then an empty row. Returns
    the number of rows written (the table's header row comes next)."""
    import datetime

    from openpyxl.styles import Alignment, Font

    written = 0
    for line in lines:
        if isinstance(line, tuple):
            label, value = line
            sheet.append([label, value])
            row = sheet.max_row
            value_cell = sheet.cell(row=row, column=2)
            if isinstance(value, datetime.date):
                value_cell.number_format = DATE_FORMAT
                value_cell.alignment = Alignment(horizontal="left")
            cell_text_safe(value_cell)
            sheet.cell(row=row, column=1).font = styles.bold
        else:
            sheet.append([line])
            row = sheet.max_row
            cell_text_safe(sheet.cell(row=row, column=1))
            sheet.cell(row=row, column=1).font = Font(bold=True, size=13)
            sheet.cell(row=row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
            if n_cols > 1:
                sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n_cols)
        written += 1
    sheet.append([])
    return written + 1


# Row heights: openpyxl cannot measure text, so lines are estimated from the column's width (in
# widths of "0" of the default 11 pt font) and the text's length; a line is 15 points.
LINE_HEIGHT = 15.0
_ROW_PADDING = 3.0
_CHARS_PER_WIDTH = 0.92  # a line of text holds a little less than the width in "0"s: words wrap whole


def text_lines(text: str, width: float, *, bold: bool = False) -> int:
    """How many lines a wrapped cell of ``width`` needs for ``text`` (an estimate, on the safe side)."""
    per_line = max(1, int((width - 1) * _CHARS_PER_WIDTH * (0.9 if bold else 1.0)))
    lines = 0
    for paragraph in str(text).split("\n"):
        words = paragraph.split()
        used, count = 0, 1
        for word in words:
            length = len(word)
            while length > per_line:  # a word longer than the line is cut
                if used:
                    count, used = count + 1, 0
                length -= per_line
                count += 1
            if used and used + 1 + length > per_line:
                count, used = count + 1, length
            else:
                used = used + 1 + length if used else length
        lines += count
    return max(lines, 1)


def rows_fit(sheet: Any, first_row: int = 1) -> None:
    """Set every row's height (from ``first_row``) to fit its wrapped text; a cell merged down
    over several rows gets the room it lacks on its last row. The title block's merged lines
    count the whole merged width."""
    from openpyxl.cell.cell import MergedCell
    from openpyxl.utils import get_column_letter

    def width_of(column: int) -> float:
        dimension = sheet.column_dimensions.get(get_column_letter(column))
        return float(dimension.width) if dimension is not None and dimension.width else 8.43

    spans = {}
    for merged in sheet.merged_cells.ranges:
        spans[(merged.min_row, merged.min_col)] = (merged.max_row, merged.max_col)
    heights: dict[int, float] = {}
    tall: list[tuple[int, int, float]] = []  # (first row, last row, height needed)
    for row in sheet.iter_rows(min_row=first_row):
        need: float = 1
        for cell in row:
            if isinstance(cell, MergedCell) or cell.value is None or not isinstance(cell.value, str):
                continue
            last_row, last_col = spans.get((cell.row, cell.column), (cell.row, cell.column))
            width = sum(width_of(c) for c in range(cell.column, last_col + 1))
            lines = text_lines(cell.value, width, bold=bool(cell.font and cell.font.b))
            if last_row > cell.row:
                tall.append((cell.row, last_row, lines * LINE_HEIGHT + _ROW_PADDING))
            else:
                size = float(cell.font.sz or 11) if cell.font else 11.0
                need = max(need, lines * size / 11.0) if size > 11 else max(need, lines)
        heights[row[0].row] = need * LINE_HEIGHT + _ROW_PADDING
    for first, last, needed in tall:
        have = sum(heights.get(r, LINE_HEIGHT) for r in range(first, last + 1))
        if needed > have:
            heights[last] = heights.get(last, LINE_HEIGHT) + needed - have
    for number, height in heights.items():
        sheet.row_dimensions[number].height = round(height, 1)


def header_row(sheet: Any, headers: list[str], widths: list[int], styles: WorkbookStyles) -> None:
    """The column titles (the sheet's next row: row 1, or the row after the title block), bold,
    wrapped, frozen, repeated on every printed page; A4 landscape, fitted to the page's width."""
    sheet.append(headers)
    row = sheet.max_row
    for cell in sheet[row]:
        cell.font = styles.bold
        cell.fill = styles.header_fill
        cell.alignment = styles.header_alignment
        cell.border = styles.border
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=row, column=index).column_letter].width = width
    print_setup(sheet, row)


def print_setup(sheet: Any, header_row_number: int) -> None:
    """Every workbook's print set-up: A4 landscape, fitted to one page wide, the header row
    repeated on every printed page and frozen on screen."""
    sheet.freeze_panes = f"A{header_row_number + 1}"
    sheet.print_title_rows = f"{header_row_number}:{header_row_number}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def page_title(sheet: Any, text: str, styles: WorkbookStyles) -> None:
    """The sheet's printed page header (centre), within Excel's 255-character limit."""
    text = " ".join(text.split()).replace("&", "&&")
    room = _MAX_PAGE_HEADER - len(f'&"{styles.header_font_name}"&12')
    if len(text) > room:
        text = text[: room - 1].rstrip("&") + "…"
    sheet.oddHeader.center.text = text
    sheet.oddHeader.center.font = styles.header_font_name
    sheet.oddHeader.center.size = 12


def heading_row(sheet: Any, values: list[Any], fill: Any, n_cols: int, styles: WorkbookStyles) -> None:
    """A section or group row: ``values`` (..., code, title), the title merged to the last column."""
    sheet.append(values + [None] * (n_cols - len(values)))
    row = sheet.max_row
    sheet.merge_cells(start_row=row, start_column=len(values), end_row=row, end_column=n_cols)
    for cell in sheet[row]:
        cell_text_safe(cell)
        cell.font = styles.bold
        cell.fill = fill
        cell.alignment = styles.wrap
        cell.border = styles.border


_WIDTHS_PAR = [6, 40, 34, 60, 26, 26, 16]
_WIDTHS_OTHER = [6, 44, 64, 26, 26, 16]
_FIELDS_PAR = ["target", "task", "lead", "partners", "timeline"]
_FIELDS_OTHER = ["task", "lead", "partners", "timeline"]


def _date(value: Any) -> Any:
    import datetime

    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def workbook_data(plan: Any) -> dict[str, Any]:
    """What the plan's workbook shows: the export data (``plans.selectors.plan_export_data``)
    and, for its title block, the plan's number and symbol and its date of adoption."""
    from plans.selectors import plan_export_data
    from plans.text import document_number

    data = plan_export_data(plan)
    data["plan"] = {
        **data["plan"],
        "number": document_number(plan.number, plan.symbol),
        "adopted_on": plan.adopted_on.isoformat() if plan.adopted_on else "",
    }
    return data


def plan_xlsx(plan: Any) -> bytes:
    """The plan's workbook (reads the plan through ``workbook_data``)."""
    return plan_workbook(workbook_data(plan))


def plan_workbook(data: dict[str, Any]) -> bytes:
    """Write the workbook from the plan's export data (docs/plan-json.md)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from plans.selectors import criterion_label, headers_for

    styles = workbook_styles()
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = data["plan"]["title"]
    for appendix in data["appendices"]:
        sheet = workbook.create_sheet(title=f"Phụ lục {appendix['number']}")
        has_target = appendix["index"] == "par"
        headers = headers_for(has_target, appendix["columns"])
        fields = _FIELDS_PAR if has_target else _FIELDS_OTHER
        n_cols = len(headers)
        widths = _WIDTHS_PAR if has_target else _WIDTHS_OTHER
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        # The title block: the plan (number and date of adoption) above the appendix's heading,
        # which the reader takes as the appendix's title (plans.parsing.xlsx).
        plan = data["plan"]
        block: list[Any] = [plan["title"]]
        if plan.get("number"):
            block.append(("Số, ký hiệu", plan["number"]))
        if plan.get("adopted_on"):
            block.append(("Ngày ban hành", _date(plan["adopted_on"])))
        title_block(sheet, block, n_cols, styles)
        sheet.append([f"Phụ lục {appendix['number']}. {appendix['title']}"])
        sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=n_cols)
        heading = sheet.cell(row=sheet.max_row, column=1)
        heading.font = styles.bold
        heading.alignment = styles.wrap
        cell_text_safe(heading)
        header_row(sheet, headers, widths, styles)
        page_title(sheet, f"Phụ lục {appendix['number']}. {appendix['title']}", styles)
        for section in appendix["sections"]:
            if section["code"] or section["title"]:
                heading_row(sheet, [section["code"], section["title"]], styles.section_fill, n_cols, styles)
            groups = {g["code"]: g["title"] for g in section["groups"]}
            group_code = None
            for criterion in section["criteria"]:
                if criterion["group"] and criterion["group"] != group_code:
                    group_code = criterion["group"]
                    heading_row(
                        sheet, [group_code, groups.get(group_code, "")], styles.group_fill, n_cols, styles
                    )
                start = sheet.max_row + 1
                for i, task in enumerate(criterion["tasks"]):
                    texts = {
                        "target": task["target"],
                        "task": task["task"],
                        "lead": task["lead_text"],
                        "partners": task["partner_text"],
                        "timeline": task["timeline_text"],
                    }
                    first = [criterion["ordinal"], criterion_label(criterion["code"], criterion["name"])]
                    sheet.append((first if i == 0 else [None, None]) + [texts[f] or None for f in fields])
                    row = sheet.max_row
                    for col, cell in enumerate(sheet[row], start=1):
                        cell.alignment = styles.wrap
                        cell.border = styles.border
                        cell_text_safe(cell)
                        if col > 2 and fields[col - 3] in task["inherited"]:
                            cell.fill = styles.inherited_fill
                if len(criterion["tasks"]) > 1:
                    for col in (1, 2):
                        sheet.merge_cells(
                            start_row=start, start_column=col, end_row=sheet.max_row, end_column=col
                        )
        rows_fit(sheet, 1)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

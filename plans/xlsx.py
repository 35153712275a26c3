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
    "INHERITED_FILL",
    "WorkbookStyles",
    "header_row",
    "heading_row",
    "page_title",
    "plan_workbook",
    "plan_xlsx",
    "workbook_styles",
]

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


def header_row(sheet: Any, headers: list[str], widths: list[int], styles: WorkbookStyles) -> None:
    """Row 1: the column titles, bold, wrapped, frozen, repeated on printed pages."""
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = styles.bold
        cell.fill = styles.header_fill
        cell.alignment = styles.header_alignment
        cell.border = styles.border
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
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
        cell.font = styles.bold
        cell.fill = fill
        cell.alignment = styles.wrap
        cell.border = styles.border


_WIDTHS_PAR = [6, 40, 34, 60, 26, 26, 16]
_WIDTHS_OTHER = [6, 44, 64, 26, 26, 16]
_FIELDS_PAR = ["target", "task", "lead", "partners", "timeline"]
_FIELDS_OTHER = ["task", "lead", "partners", "timeline"]


def plan_xlsx(plan: Any) -> bytes:
    """The plan's workbook (reads the plan through ``plans.selectors.plan_export_data``)."""
    from plans.selectors import plan_export_data

    return plan_workbook(plan_export_data(plan))


def plan_workbook(data: dict[str, Any]) -> bytes:
    """Write the workbook from the plan's export data (docs/plan-json.md)."""
    from openpyxl import Workbook

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
        header_row(sheet, headers, _WIDTHS_PAR if has_target else _WIDTHS_OTHER, styles)
        page_title(sheet, f"Phụ lục {appendix['number']}. {appendix['title']}", styles)
        n_cols = len(headers)
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
                        if col > 2 and fields[col - 3] in task["inherited"]:
                            cell.fill = styles.inherited_fill
                if len(criterion["tasks"]) > 1:
                    for col in (1, 2):
                        sheet.merge_cells(
                            start_row=start, start_column=col, end_row=sheet.max_row, end_column=col
                        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

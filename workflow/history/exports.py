"""Lịch sử xử lý downloads: the PDF (WeasyPrint, nothing fetched) and the .xlsx workbook."""

from __future__ import annotations

import io
from typing import Any

from django.template.loader import render_to_string

from workflow.history.selectors import Entry

# --- downloads ------------------------------------------------------------------------------


def _refuse_every_url() -> Any:
    """A WeasyPrint fetcher that fetches nothing: the PDF is built from the string alone.

    A subclass, not a plain function: WeasyPrint 70 reads ``_fail_on_errors`` from the
    fetcher when it raises, which a function does not have.
    """
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"external resources are not loaded: {url[:100]}")

    return RefuseAll()


def history_pdf(context: dict[str, Any]) -> bytes:
    import weasyprint

    html = render_to_string("history/task_pdf.html", context)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_refuse_every_url()).write_pdf()


XLSX_HEADERS = [
    "STT sự kiện",
    "Thời gian",
    "Người thực hiện",
    "Đơn vị",
    "Vai trò",
    "Thao tác",
    "Bước",
    "Lý do",
    "Chi tiết",
    "Tài liệu kiểm chứng (SHA-256)",
    "Nội dung đã gửi",
    "Trường đã sửa",
]


def entry_row(entry: Entry) -> list[Any]:
    """One spreadsheet row per event (also what the tests compare with the trail)."""
    return [
        entry.seq,
        entry.when.replace(tzinfo=None, microsecond=0),
        entry.actor_name,
        entry.actor_unit,
        entry.actor_role,
        entry.label,
        entry.step,
        entry.reason,
        entry.details,
        "\n".join(f"{name} – SHA-256: {sha}" for name, sha in entry.files),
        "\n".join(f"{label}: {value}" for label, value in entry.version),
        ", ".join(entry.changed),
    ]


def history_xlsx(entries: list[Entry], *, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from plans.xlsx import cell_text_safe, print_setup, rows_fit

    book = Workbook()
    sheet = book.active
    sheet.title = "Lịch sử xử lý"
    sheet.append([title[:32_000]])
    sheet["A1"].font = Font(bold=True)
    sheet.append(XLSX_HEADERS)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for entry in entries:
        sheet.append(entry_row(entry))
        for cell in sheet[sheet.max_row]:
            cell_text_safe(cell)  # the one escaping rule of every workbook (plans.xlsx)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.cell(row=sheet.max_row, column=2).number_format = "dd/mm/yyyy hh:mm"
    for column, width in zip("ABCDEFGHIJKL", (8, 17, 22, 28, 28, 26, 30, 40, 30, 50, 60, 24), strict=True):
        sheet.column_dimensions[column].width = width
    cell_text_safe(sheet["A1"])
    sheet.merge_cells("A1:L1")
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[2]:
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    print_setup(sheet, 2)  # A4 landscape, fitted to the width, the header row on every page
    rows_fit(sheet, 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

"""Spreadsheets: the plan (one writer, ``plans.xlsx``, shared with ``export_plan``) and the period report."""

from __future__ import annotations

import io
from typing import Any

from plans.models import Plan
from plans.xlsx import (
    DATE_FORMAT,
    PERCENT_FORMAT,
    cell_text_safe,
    header_row,
    heading_row,
    page_title,
    plan_workbook,
    rows_fit,
    title_block,
    workbook_styles,
)
from workflow.reports.pdf import document_cached
from workflow.reports.selectors import PeriodReport, ReportRow

DETAIL_HEADERS = [
    "Phụ lục",
    "TT",
    "Tiêu chí",
    "Nhiệm vụ, giải pháp",
    "Đơn vị chủ trì thực hiện",
    "Cơ quan phối hợp thực hiện",
    "Kết quả thực hiện",
    "Tình trạng",
    "Số tài liệu kiểm chứng",
    "Ngày hoàn thành",
]
DETAIL_WIDTHS = [9, 6, 36, 56, 24, 26, 60, 22, 12, 14]


def plan_xlsx_cached(plan: Plan) -> bytes:
    """The plan's workbook, kept in the cache under a hash of the plan's export data."""
    from plans.xlsx import workbook_data

    data = workbook_data(plan)
    return document_cached("plan_xlsx", data, lambda: plan_workbook(data))


def _result_text(row: ReportRow) -> str:
    lines = []
    for result in row.results:
        text = f"{result.unit}: {result.text}" if len(row.results) > 1 else result.text
        if result.explanation and not row.evidence_count:
            text += f"\nGiải trình: {result.explanation}"
        lines.append(text)
    if row.canceled:
        lines.append("Quy trình đã hủy.")
    return "\n".join(lines)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _title_lines(report: PeriodReport, title: str) -> list[Any]:
    """The sheet's title block: the report, then its dates as date cells."""
    return [
        title,
        ("Hạn tổng hợp nội bộ", report.deadline_day),
        ("Ngày chốt số liệu", report.cutoff_day),
        ("Số liệu tính đến ngày", report.as_of),
    ]


def _finish(sheet: Any, first_row: int, styles: Any, centre: Any) -> None:
    """Borders, alignment and the shared escaping on the table's rows (from ``first_row``)."""
    for row in sheet.iter_rows(min_row=first_row):
        for cell in row:
            cell.border = styles.border
            cell.alignment = styles.wrap if cell.column == 1 else centre
            cell_text_safe(cell)


def period_report_xlsx(report: PeriodReport) -> bytes:
    """Three sheets: "Tổng hợp" (counts per status and per unit, as ``workflow.counting``
    counts), "Theo phụ lục" (the same per appendix) and "Chi tiết" (every task with its status).

    Each sheet opens with a title block (the report, its deadline, cut-off and as-of dates as
    date cells); counts are numbers, shares numbers formatted as percentages; rows are as tall
    as their wrapped text; printed A4 landscape, fitted to the width, the header row repeated."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    styles = workbook_styles()
    title = f"Báo cáo kết quả thực hiện Kế hoạch CCHC năm {report.year} – {report.period_label}"
    workbook = Workbook()
    workbook.properties.title = title
    labels = report.bucket_labels
    line_labels = report.line_labels
    centre = Alignment(horizontal="center", vertical="top", wrap_text=True)
    count_headers = [*labels, "Cộng (tính kết quả kỳ)", *line_labels, "Tổng số nhiệm vụ"]
    count_widths = [18] * len(labels) + [14] + [18] * len(line_labels) + [12]

    summary = workbook.active
    summary.title = "Tổng hợp"
    title_block(summary, _title_lines(report, title), 1 + len(count_headers), styles)
    header_row(summary, ["Đơn vị chủ trì", *count_headers], [44, *count_widths], styles)
    first = summary.max_row + 1
    page_title(summary, title, styles)
    for unit in report.units:
        summary.append([unit.name, *unit.counts, unit.total, *unit.lines, unit.everything])
    summary.append(
        [
            "Toàn kế hoạch",
            *[b.count for b in report.buckets],
            report.total,
            *[x.count for x in report.lines],
            report.plan_total,
        ]
    )
    # Shares of the buckets over the period's result, of the lines over the plan: numbers.
    summary.append(
        [
            "Tỷ lệ",
            *[_share(b.count, report.total) for b in report.buckets],
            1.0,
            *[_share(x.count, report.plan_total) for x in report.lines],
            1.0,
        ]
    )
    _finish(summary, first, styles, centre)
    for cell in summary[summary.max_row]:
        if cell.column > 1:
            cell.number_format = PERCENT_FORMAT
    for cell in summary[summary.max_row - 1]:
        cell.font = styles.bold
    rows_fit(summary, 1)

    by_appendix = workbook.create_sheet("Theo phụ lục")
    title_block(by_appendix, _title_lines(report, title), 1 + len(count_headers), styles)
    header_row(by_appendix, ["Phụ lục", *count_headers], [20, *count_widths], styles)
    first = by_appendix.max_row + 1
    page_title(by_appendix, title, styles)
    for counted in report.by_appendix:
        by_appendix.append([counted.name, *counted.counts, counted.total, *counted.lines, counted.everything])
    _finish(by_appendix, first, styles, centre)
    rows_fit(by_appendix, 1)

    detail = workbook.create_sheet("Chi tiết")
    n_cols = len(DETAIL_HEADERS)
    title_block(detail, _title_lines(report, title), n_cols, styles)
    header_row(detail, DETAIL_HEADERS, DETAIL_WIDTHS, styles)
    header_at = detail.max_row
    page_title(detail, title, styles)
    for appendix in report.appendices:
        for row in appendix.rows:
            if not isinstance(row, ReportRow):
                fill = styles.section_fill if row.kind == "section" else styles.group_fill
                heading_row(detail, [appendix.number, row.code, row.title], fill, n_cols, styles)
                continue
            task = row.task
            detail.append(
                [
                    appendix.number,
                    task.ordinal,
                    task.criterion,
                    task.task,
                    task.lead_text,
                    task.partner_text or None,
                    _result_text(row) or None,
                    row.bucket_label,
                    row.evidence_count,
                    row.completed,
                ]
            )
            for cell in detail[detail.max_row]:
                cell.alignment = styles.wrap
                cell.border = styles.border
                cell_text_safe(cell)
            detail.cell(row=detail.max_row, column=n_cols).number_format = DATE_FORMAT
    last = detail.cell(row=header_at, column=n_cols).column_letter
    detail.auto_filter.ref = f"A{header_at}:{last}{detail.max_row}"
    rows_fit(detail, 1)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""Spreadsheets: the plan (one writer, ``plans.xlsx``, shared with ``export_plan``) and the period report."""

from __future__ import annotations

import io

from plans.models import Plan
from plans.xlsx import header_row, heading_row, page_title, plan_workbook, workbook_styles
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
]
DETAIL_WIDTHS = [9, 6, 36, 56, 24, 26, 60, 22, 12]


def plan_xlsx_cached(plan: Plan) -> bytes:
    """The plan's workbook, kept in the cache under a hash of the plan's export data."""
    from plans.selectors import plan_export_data

    data = plan_export_data(plan)
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


def period_report_xlsx(report: PeriodReport) -> bytes:
    """Three sheets: "Tổng hợp" (counts per status and per unit, as ``workflow.counting``
    counts), "Theo phụ lục" (the same per appendix) and "Chi tiết" (every task with its status)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    styles = workbook_styles()
    title = f"Báo cáo kết quả thực hiện Kế hoạch CCHC năm {report.year} – {report.period_label}"
    workbook = Workbook()
    workbook.properties.title = title

    summary = workbook.active
    summary.title = "Tổng hợp"
    labels = report.bucket_labels
    line_labels = report.line_labels
    header_row(
        summary,
        ["Đơn vị chủ trì", *labels, "Cộng (tính kết quả kỳ)", *line_labels, "Tổng số nhiệm vụ"],
        [44] + [18] * len(labels) + [14] + [18] * len(line_labels) + [12],
        styles,
    )
    page_title(summary, title, styles)
    centre = Alignment(horizontal="center", vertical="top")
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
    # Shares of the buckets over the period's result, of the lines over the plan.
    summary.append(
        ["Tỷ lệ", *[b.share for b in report.buckets], "100%", *[x.share for x in report.lines], "100%"]
    )
    for row in summary.iter_rows(min_row=2):
        for cell in row:
            cell.border = styles.border
            cell.alignment = styles.wrap if cell.column == 1 else centre
    for cell in summary[summary.max_row - 1]:
        cell.font = styles.bold

    by_appendix = workbook.create_sheet("Theo phụ lục")
    header_row(
        by_appendix,
        ["Phụ lục", *labels, "Cộng (tính kết quả kỳ)", *line_labels, "Tổng số nhiệm vụ"],
        [20] + [18] * len(labels) + [14] + [18] * len(line_labels) + [12],
        styles,
    )
    page_title(by_appendix, title, styles)
    for appendix in report.by_appendix:
        by_appendix.append(
            [appendix.name, *appendix.counts, appendix.total, *appendix.lines, appendix.everything]
        )
    for row in by_appendix.iter_rows(min_row=2):
        for cell in row:
            cell.border = styles.border
            cell.alignment = styles.wrap if cell.column == 1 else centre

    detail = workbook.create_sheet("Chi tiết")
    header_row(detail, DETAIL_HEADERS, DETAIL_WIDTHS, styles)
    page_title(detail, title, styles)
    n_cols = len(DETAIL_HEADERS)
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
                ]
            )
            for cell in detail[detail.max_row]:
                cell.alignment = styles.wrap
                cell.border = styles.border
    detail.auto_filter.ref = f"A1:{detail.cell(row=1, column=n_cols).column_letter}{detail.max_row}"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""The period report and the task dossier as editable Word documents (.docx), in the layout of
Nghị định 30/2020/NĐ-CP.

For the cases where the office must edit the text before issuing: header block (superior and
issuing bodies; national title and motto), number, place and date, title, body, "Nơi nhận" and
the signature block, then the appendix on landscape pages. Issuing always freezes a PDF
(documents.services); this file is never what is signed.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

FONT = "Times New Roman"  # ND30: Times New Roman, Unicode (TCVN 6909:2001)


def _paragraph(
    container: Any,
    text: str = "",
    *,
    bold: bool = False,
    italic: bool = False,
    size: float = 13,
    align: Any = WD_ALIGN_PARAGRAPH.LEFT,
    after: float = 0,
) -> Any:
    paragraph = container.add_paragraph()
    paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(after)
    paragraph.paragraph_format.space_before = Pt(0)
    if text:
        run = paragraph.add_run(text)
        run.bold, run.italic, run.font.size = bold, italic, Pt(size)
    return paragraph


def _cell(cell: Any, lines: list[tuple[str, dict[str, Any]]]) -> None:
    cell.paragraphs[0]._element.getparent().remove(cell.paragraphs[0]._element)
    for text, style in lines:
        _paragraph(cell, text, **style)


def _no_borders(table: Any) -> None:
    properties = table._element.tblPr
    borders = properties.find(qn("w:tblBorders"))
    if borders is not None:
        properties.remove(borders)


def _grid(document: Any, head: list[str], rows: list[list[str]], widths: list[float]) -> None:
    table = document.add_table(rows=1, cols=len(head))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, text in enumerate(head):
        _cell(
            table.rows[0].cells[i], [(text, {"bold": True, "size": 12, "align": WD_ALIGN_PARAGRAPH.CENTER})]
        )
    for row in rows:
        cells = table.add_row().cells
        for i, text in enumerate(row):
            _cell(cells[i], [(text, {"size": 12})])
    for row in table.rows:
        for i, width in enumerate(widths):
            row.cells[i].width = Mm(width)


def _setup(document: Any) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    style.font.size = Pt(13)
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)


def _header(document: Any, header: Any) -> None:
    centre = WD_ALIGN_PARAGRAPH.CENTER
    table = document.add_table(rows=2, cols=2)
    _no_borders(table)
    _cell(
        table.rows[0].cells[0],
        [
            (header.superior_body, {"size": 12, "align": centre}),
            (header.issuing_body, {"bold": True, "size": 12, "align": centre}),
        ],
    )
    _cell(
        table.rows[0].cells[1],
        [
            ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", {"bold": True, "size": 12, "align": centre}),
            ("Độc lập - Tự do - Hạnh phúc", {"bold": True, "size": 13, "align": centre}),
        ],
    )
    _cell(table.rows[1].cells[0], [(header.number, {"size": 13, "align": centre})])
    _cell(table.rows[1].cells[1], [(header.date, {"italic": True, "size": 13, "align": centre})])
    for row in table.rows:
        row.cells[0].width, row.cells[1].width = Mm(65), Mm(100)


def _signature(document: Any, recipients: list[str], signer: dict[str, str] | None) -> None:
    table = document.add_table(rows=1, cols=2)
    _no_borders(table)
    lines: list[tuple[str, dict[str, Any]]] = [("Nơi nhận:", {"bold": True, "italic": True, "size": 12})]
    lines += [(f"- {r};", {"size": 11}) for r in recipients] + [("- Lưu: VT, VP.", {"size": 11})]
    _cell(table.rows[0].cells[0], lines)
    centre = {"bold": True, "size": 13, "align": WD_ALIGN_PARAGRAPH.CENTER}
    signer = signer or {"authority": "GIÁM ĐỐC", "title": "", "name": ""}
    block = [(signer["authority"], centre)]
    if signer.get("title"):
        block.append((signer["title"], centre))
    block += [("", {}), ("", {}), ("", {}), (signer.get("name", ""), centre)]
    _cell(table.rows[0].cells[1], block)
    for row in table.rows:
        row.cells[0].width, row.cells[1].width = Mm(80), Mm(85)


def period_report_docx(doc: Any, signer: dict[str, str] | None = None) -> bytes:
    """``doc`` is the selector's ``PeriodReport`` (the same data the PDF renders)."""
    document = Document()
    _setup(document)
    _header(document, doc.header)
    centre = WD_ALIGN_PARAGRAPH.CENTER
    _paragraph(document, "", after=6)
    _paragraph(document, "BÁO CÁO", bold=True, size=14, align=centre)
    _paragraph(
        document,
        f"Kết quả thực hiện Kế hoạch cải cách hành chính năm {doc.year}",
        bold=True,
        size=14,
        align=centre,
    )
    _paragraph(document, doc.period_label, bold=True, size=14, align=centre, after=12)
    justify = WD_ALIGN_PARAGRAPH.JUSTIFY
    _paragraph(
        document,
        f"Thực hiện {doc.plan_title}, kết quả thực hiện các nhiệm vụ trong kỳ báo cáo {doc.period_label} "
        f"(hạn tổng hợp nội bộ ngày {doc.deadline}, ngày chốt số liệu {doc.cutoff}; số liệu tính đến ngày "
        f"{doc.today}) như sau:",
        align=justify,
        after=6,
    )
    _paragraph(document, "I. TỔNG HỢP KẾT QUẢ", bold=True, after=6)
    _paragraph(document, f"1. Kế hoạch có {doc.total} nhiệm vụ; kết quả trong kỳ:", align=justify, after=6)
    rows = [[str(i), b.label, str(b.count), b.share] for i, b in enumerate(doc.buckets, start=1)]
    rows.append(["", "Tổng cộng", str(doc.total), "100%"])
    _grid(document, ["TT", "Kết quả", "Số nhiệm vụ", "Tỷ lệ"], rows, [12, 93, 30, 30])
    _paragraph(document, "", after=6)
    _paragraph(document, "2. Theo đơn vị chủ trì:", align=justify, after=6)
    labels = list(doc.bucket_labels)
    unit_rows = [[u.name, *[str(n) for n in u.counts], str(u.total)] for u in doc.units]
    width = 115 / max(len(labels) + 1, 1)
    _grid(document, ["Đơn vị", *labels, "Tổng"], unit_rows, [50] + [width] * (len(labels) + 1))
    _paragraph(document, "", after=6)
    _paragraph(document, "II. KẾT QUẢ THỰC HIỆN TỪNG NHIỆM VỤ", bold=True, after=6)
    _paragraph(
        document,
        "Kết quả thực hiện, đơn vị chủ trì và phối hợp, tình trạng và số tài liệu kiểm chứng của từng nhiệm vụ "
        "tại Phụ lục kèm theo Báo cáo này.",
        align=justify,
        after=12,
    )
    # The report's own signer (workflow.reports.signature: the one signer rule) unless one is given.
    block = getattr(doc, "signer", None)
    if signer is None and block is not None:
        signer = {"authority": block.authority, "title": block.title, "name": block.name}
    _signature(document, list(doc.recipients), signer)

    appendix = document.add_section()
    appendix.orientation = WD_ORIENT.LANDSCAPE
    appendix.page_width, appendix.page_height = Mm(297), Mm(210)
    appendix.left_margin, appendix.right_margin = Mm(20), Mm(20)
    _paragraph(document, "PHỤ LỤC", bold=True, align=centre)
    _paragraph(
        document, f"KẾT QUẢ THỰC HIỆN TỪNG NHIỆM VỤ – {doc.period_label.upper()}", bold=True, align=centre
    )
    _paragraph(
        document,
        f"(Kèm theo Báo cáo {doc.header.number.replace('Số: ', '')})",
        italic=True,
        align=centre,
        after=6,
    )
    for part in doc.appendices:
        _paragraph(document, f"Phụ lục {part.number}. {part.title}", bold=True, after=6)
        table_rows = []
        for row in part.rows:
            if getattr(row, "kind", "task") == "task":
                results = "\n".join(r.text for r in row.results)
                people = f"Chủ trì: {row.task.lead_text}"
                if row.task.partner_text:
                    people += f"\nPhối hợp: {row.task.partner_text}"
                table_rows.append(
                    [
                        row.task.ordinal if row.task.first else "",
                        row.task.criterion if row.task.first else "",
                        row.task.task,
                        people,
                        results,
                        row.bucket_label,
                        str(row.evidence_count),
                    ]
                )
            else:
                table_rows.append([getattr(row, "code", ""), getattr(row, "title", ""), "", "", "", "", ""])
        _grid(
            document,
            [
                "TT",
                "Tiêu chí",
                "Nhiệm vụ, giải pháp",
                "Chủ trì, phối hợp",
                "Kết quả thực hiện",
                "Tình trạng",
                "Số TLKC",
            ],
            table_rows,
            [12, 38, 58, 36, 64, 28, 21],
        )
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def _signer_of(doc: Any) -> dict[str, str] | None:
    block = getattr(doc, "signer", None)
    return {"authority": block.authority, "title": block.title, "name": block.name} if block else None


def dossier_docx(doc: Any) -> bytes:
    """``doc`` is the selector's ``Dossier`` (the same data the dossier PDF renders): the task,
    every step's report and decision, the evidence with its SHA-256, the audit events."""
    document = Document()
    _setup(document)
    _header(document, doc.header)
    centre, justify = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY
    _paragraph(document, "", after=6)
    _paragraph(document, "HỒ SƠ NHIỆM VỤ", bold=True, size=14, align=centre)
    _paragraph(document, doc.period_label, bold=True, size=14, align=centre, after=12)
    facts = [
        ("Nhiệm vụ", doc.task),
        ("Phụ lục", doc.appendix),
        ("Lĩnh vực", doc.section),
        ("Tiêu chí", doc.criterion),
        ("Chỉ tiêu", doc.target),
        ("Đơn vị chủ trì", doc.lead),
        ("Cơ quan phối hợp", doc.partners),
        ("Thời gian thực hiện", doc.timeline),
        ("Hạn nộp của kỳ", doc.deadline),
        ("Tình trạng", f"{doc.stage} – {doc.bucket_label}"),
        ("Khởi tạo", doc.launched),
        ("Hoàn thành", doc.completed or "—"),
    ]
    _grid(document, ["Mục", "Nội dung"], [[k, v or "—"] for k, v in facts], [45, 120])
    _paragraph(document, "", after=6)
    _paragraph(document, "I. CÁC BƯỚC XỬ LÝ", bold=True, after=6)
    for step in doc.steps:
        _paragraph(document, f"{step.number}. {step.title} (vòng {step.round})", bold=True, after=3)
        lines = [
            f"Trạng thái: {step.state}; hạn xử lý: {step.due}; người xử lý: {step.assignee or '—'}",
            f"Gửi lúc: {step.submitted_at or '—'} bởi {step.submitted_by or '—'}",
        ]
        if step.result:
            lines.append(f"Kết quả / ý kiến: {step.result}")
        if step.no_opinion:
            lines.append("Không có ý kiến.")
        if step.self_assessment:
            lines.append(f"Tự đánh giá: {step.self_assessment}")
        if step.explanation:
            lines.append(f"Giải trình: {step.explanation}")
        if step.decision:
            lines.append(f"Quyết định: {step.decision}" + (f" – lý do: {step.reason}" if step.reason else ""))
        for line in lines:
            _paragraph(document, line, align=justify, after=2)
    _paragraph(document, "", after=6)
    _paragraph(document, "II. TÀI LIỆU KIỂM CHỨNG", bold=True, after=6)
    rows = [
        [
            e.name,
            str(e.step),
            f"{e.size:,}".replace(",", "."),
            e.sha256,
            f"{e.uploaded_by}, {e.uploaded_at}",
            e.removed,
        ]
        for e in doc.evidence
    ]
    if rows:
        _grid(document, ["Tệp", "Bước", "Byte", "SHA-256", "Đính kèm", "Gỡ"], rows, [35, 12, 18, 45, 35, 20])
    else:
        _paragraph(document, "Không có tệp nào.", after=6)
    _paragraph(document, "", after=6)
    _paragraph(document, "III. NHẬT KÝ", bold=True, after=6)
    events = [[str(e.seq), e.at, e.actor, e.action, e.reason] for e in doc.events]
    _grid(document, ["Số", "Lúc", "Người", "Việc", "Lý do"], events, [15, 30, 40, 40, 40])
    _paragraph(document, "", after=12)
    _signature(document, list(doc.recipients), _signer_of(doc))
    out = BytesIO()
    document.save(out)
    return out.getvalue()

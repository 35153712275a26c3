"""Spreadsheets: the plan written and read back (same plan), the period report, hostile uploads."""

from __future__ import annotations

import datetime
import functools
import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from plans.defaults import DEFAULT_UNITS
from plans.models import Appendix, Criterion, Plan, PlanTask, PlanUpload, Section
from plans.parsing import PlanParseError, UnitDirectory, parse_xlsx
from plans.services import plan_import, unit_directory
from plans.xlsx import INHERITED_FILL, plan_xlsx
from tests.helpers import CONFIRM, PREVIEW, SEED_DOCX, UPLOAD, at, uploads
from tests.jobs import run_queued_jobs
from tests.reports.conftest import REPORT_DAY, department, import_seed, module_db, run_quarter
from workflow.reports import selectors
from workflow.reports.xlsx import DETAIL_HEADERS, period_report_xlsx

pytestmark = pytest.mark.django_db  # the test database must exist for the module fixture


def snapshot(plan: Plan) -> list[tuple[Any, ...]]:
    """Everything the plan holds, task by task, without database ids."""
    tasks = (
        PlanTask.objects.filter(plan=plan)
        .select_related("criterion__section__appendix", "criterion__group")
        .prefetch_related("lead_units", "partner_units")
        .order_by("position")
    )
    out = []
    for t in tasks:
        c = t.criterion
        s, a, g = c.section, c.section.appendix, c.group
        out.append(
            (
                t.key, t.position, t.order,
                a.number, a.index, a.title, tuple(a.columns),
                s.code, s.title, s.order,
                g.code if g else None, g.title if g else None,
                c.ordinal, c.code, c.name, c.order,
                t.target, t.task, t.lead_text, t.partner_text, t.timeline_text, t.timeline_kind, t.due_date,
                tuple(t.inherited),
                tuple(u.name for u in t.lead_units.all()), tuple(u.name for u in t.partner_units.all()),
            )
        )  # fmt: skip
    return out


@dataclass
class Exported:
    workbook: bytes
    period_workbook: bytes
    original: list[tuple[Any, ...]]
    reimported: list[tuple[Any, ...]]
    dry_run_counts: dict[str, int]
    dry_run_structure_changes: int


@pytest.fixture(scope="module")
def exported(django_db_setup: Any, django_db_blocker: Any) -> Exported:
    with module_db(django_db_blocker):
        people = department()
        plan = import_seed()
        workbook = plan_xlsx(plan)
        parsed = parse_xlsx(workbook, unit_directory())
        dry = plan_import(parsed=parsed, plan=plan, dry_run=True)
        second = plan_import(parsed=parsed, year=2025, source_name="ke-hoach.xlsx").plan
        scenario = run_quarter(plan, people)
        with at(REPORT_DAY):
            period_workbook = period_report_xlsx(selectors.period_report(scenario.period))
        return Exported(
            workbook=workbook,
            period_workbook=period_workbook,
            original=snapshot(plan),
            reimported=snapshot(second),
            dry_run_counts=dry.counts(),
            dry_run_structure_changes=dry.structure_changes,
        )


# --- the plan, written and read back ---------------------------------------------------------


def test_seed_plan_round_trips_through_the_spreadsheet(exported: Exported) -> None:
    # the workbook read back into the same plan changes nothing
    assert exported.dry_run_counts == {
        "appendices": 4,
        "tasks": 77,
        "inherited_cells": 70,
        "added": 0,
        "changed": 0,
        "removed": 0,
    }
    assert exported.dry_run_structure_changes == 0
    # and imported as a plan of its own it is the same plan: keys, texts, units, merged cells
    assert len(exported.reimported) == 77
    assert exported.reimported == exported.original


def test_plan_workbook_has_the_documents_columns_frozen_header_and_titles(exported: Exported) -> None:
    book = load_workbook(io.BytesIO(exported.workbook))
    assert book.sheetnames == ["Phụ lục 1", "Phụ lục 2", "Phụ lục 3", "Phụ lục 4"]
    first, third = book["Phụ lục 1"], book["Phụ lục 3"]
    # the title block: the plan, then the appendix's heading; the table's header on row 4
    assert first["A1"].value == "Kế hoạch cải cách hành chính năm 2024"
    assert first["A3"].value.startswith("Phụ lục 1. MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP")
    assert [c.value for c in first[4]] == [
        "TT",
        "Lĩnh vực/Tiêu chí/ Tiêu chí thành phần",
        "Mục tiêu năm 2024",
        "Nhiệm vụ, giải pháp",
        "Đơn vị chủ trì thực hiện",
        "Cơ quan phối hợp thực hiện",
        "Thời gian thực hiện",
    ]
    assert [c.value for c in third[4]][:3] == [
        "TT",
        "Nhóm tiêu chí/ Tiêu chí thành phần",
        "Nhiệm vụ, giải pháp",
    ]
    assert (first.freeze_panes, first.print_title_rows) == ("A5", "$4:$4")
    assert [first.column_dimensions[c].width for c in "ABCDEFG"] == [6, 40, 34, 60, 26, 26, 16]
    assert first["D6"].alignment.wrap_text is True
    assert first.oddHeader.center.text == (
        "Phụ lục 1. MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP TIẾP TỤC DUY TRÌ THỰC HIỆN NÂNG CAO CHỈ SỐ CCHC NĂM 2024"
    )
    assert [first["A5"].value, first["B5"].value] == ["I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"]
    assert first["B6"].value == "TC 1.1. Thực hiện kế hoạch CCHC"
    # appendix 2, section VI: one criterion with two tasks, TT and criterion merged over both
    second = book["Phụ lục 2"]
    merged = {str(r) for r in second.merged_cells.ranges}
    row = next(r for r in range(1, second.max_row + 1) if second.cell(r, 1).value == "VI") + 1
    assert {f"A{row}:A{row + 1}", f"B{row}:B{row + 1}"} <= merged
    # its second task's unit and timeline cells came from merged cells of the original: marked
    assert [second.cell(row + 1, col).fill.fgColor.rgb for col in (5, 6, 7)] == [f"00{INHERITED_FILL}"] * 3


def test_export_plan_command_writes_the_same_workbook(units: dict[str, Any], tmp_path: Path) -> None:
    call_command("import_plan", str(SEED_DOCX), stdout=io.StringIO(), stderr=io.StringIO())
    out = tmp_path / "ke-hoach.xlsx"
    call_command(
        "export_plan", "--format", "xlsx", "-o", str(out), stdout=io.StringIO(), stderr=io.StringIO()
    )
    parsed = parse_xlsx(out.read_bytes(), unit_directory())
    assert [(a.number, a.index, len(a.tasks)) for a in parsed.appendices] == [
        (1, "par", 21),
        (2, "par", 19),
        (3, "sipas", 26),
        (4, "papi", 11),
    ]


# --- the period report ---------------------------------------------------------------------


def test_period_workbook_lists_every_task_with_its_result_under_the_documents_columns(
    exported: Exported,
) -> None:
    book = load_workbook(io.BytesIO(exported.period_workbook))
    assert book.sheetnames == ["Tổng hợp", "Theo phụ lục", "Chi tiết"]
    detail = book["Chi tiết"]
    # the title block (title, deadline, cut-off, as-of, an empty row), the header on row 6
    assert [c.value for c in detail[6]] == DETAIL_HEADERS
    assert detail.freeze_panes == "A7"
    rows = [[c.value for c in row] for row in detail.iter_rows(min_row=7)]
    tasks = [r for r in rows if r[3]]
    assert len(tasks) == 77
    assert tasks[0] == [
        1,
        "1",
        "TC 1.1. Thực hiện kế hoạch CCHC",
        "Triển khai thực hiện có hiệu quả, đúng tiến độ các nhiệm vụ kế hoạch CCHC năm 2024 đề ra",
        "Văn phòng Sở",
        "Các phòng, đơn vị thuộc sở",
        "Đã bổ sung số liệu: 12/12 nhiệm vụ đúng tiến độ",  # has evidence: no explanation shown
        "Hoàn thành đúng hạn",
        1,
        datetime.datetime(2024, 3, 5),  # signed off on 05/03: a date cell
    ]
    assert detail["G8"].alignment.wrap_text is True  # row 7 is section I
    summary = book["Tổng hợp"]
    assert [c.value for c in summary[6]] == [
        "Đơn vị chủ trì",
        "Hoàn thành đúng hạn",
        "Hoàn thành quá hạn",
        "Chưa hoàn thành – trong hạn",
        "Chưa hoàn thành – quá hạn",
        "Chưa thực hiện",
        "Cộng (tính kết quả kỳ)",
        "Thực hiện trong năm, chưa đến hạn",
        "Không phát sinh trong kỳ",
        "Chưa khởi tạo trong kỳ",
        "Đã hủy quy trình",
        "Tổng số nhiệm vụ",
    ]
    # The buckets count the runs launched in Quý I; the plan's other tasks are on their lines
    assert [c.value for c in summary[7]] == ["Văn phòng Sở", 1, 1, 0, 0, 0, 2, 2, 2, 57, 0, 63]
    assert [c.value for c in summary[summary.max_row - 1]] == [
        "Toàn kế hoạch",
        1,
        1,
        0,
        2,
        0,
        4,
        5,
        2,
        66,
        0,
        77,
    ]
    shares = [c.value for c in summary[summary.max_row]]
    assert shares[0] == "Tỷ lệ"
    assert shares[1:] == pytest.approx([0.25, 0.25, 0, 0.5, 0, 1, 5 / 77, 2 / 77, 66 / 77, 0, 1])
    assert {c.number_format for c in summary[summary.max_row][1:]} == {"0.0%"}
    by_appendix = book["Theo phụ lục"]
    # the scenario's runs: on time and late in appendix 1, the two overdue in appendices 3 and 4
    assert [[c.value for c in row] for row in by_appendix.iter_rows(min_row=7)] == [
        ["Phụ lục 1", 1, 1, 0, 0, 0, 2, 3, 0, 16, 0, 21],
        ["Phụ lục 2", 0, 0, 0, 0, 0, 0, 2, 0, 17, 0, 19],
        ["Phụ lục 3", 0, 0, 0, 1, 0, 1, 0, 2, 23, 0, 26],
        ["Phụ lục 4", 0, 0, 0, 1, 0, 1, 0, 0, 10, 0, 11],
    ]
    assert sum(row[11].value for row in by_appendix.iter_rows(min_row=7)) == 77
    year_task = next(r for r in tasks if r[7] and r[7].startswith("Thực hiện trong năm"))
    assert year_task[7] == "Thực hiện trong năm, chưa đến hạn (hạn 31/12/2024)"


# --- upload through the existing preview flow ----------------------------------------------


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def upload(client: Client, data: bytes, name: str) -> Any:
    """Post the file, then run its parse job (``plans.tasks``) as the worker would."""
    response = client.post(UPLOAD, {"file": SimpleUploadedFile(name, data)})
    run_queued_jobs()
    return response


def test_office_reviewer_imports_a_plan_from_xlsx_through_the_preview(
    client: Client, personas: dict[str, Any], var_dir: Path, exported: Exported
) -> None:
    client.force_login(personas["office_reviewer"])
    response = upload(client, exported.workbook, "Kế hoạch CCHC 2024.xlsx")
    upload_page = reverse("plans:upload_status", args=[PlanUpload.objects.get().pk])
    assert (response.status_code, response["Location"]) == (302, upload_page)
    preview = client.get(PREVIEW)
    assert preview.status_code == 200
    assert preview.context["can_confirm"] is True
    assert preview.context["report"].counts()["tasks"] == 77
    assert Plan.objects.count() == 0  # nothing written before the confirmation
    assert client.post(CONFIRM).status_code == 302
    plan = Plan.objects.get()
    assert (plan.year, plan.source_name, plan.tasks.count()) == (2024, "Kế hoạch CCHC 2024.xlsx", 77)
    assert uploads(var_dir) == []


# --- hostile spreadsheets --------------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def crafted(sheet: bytes, *, strings: bytes | None = None) -> bytes:
    """A minimal workbook around one sheet's XML (the rest as Excel writes it)."""
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            b'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets>'
            '<sheet name="Phụ lục 1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{DOC_RELS}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ).encode(),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def sheet(rows: str, *, dimension: str | None = "A1:G3", before: str = "") -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'{before}<worksheet xmlns="{MAIN}">{dim}<sheetData>{rows}</sheetData></worksheet>'.encode()


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER = (
    "<row r='1'>"
    + "".join(
        cell(f"{col}1", text)
        for col, text in zip(
            "ABCDEF", ["TT", "Tiêu chí", "Nhiệm vụ", "Chủ trì", "Phối hợp", "Thời gian"], strict=True
        )
    )
    + "</row>"
)


@functools.cache
def million_rows() -> bytes:
    """5 KB claiming a million rows."""
    return crafted(sheet(HEADER, dimension="A1:G1000000"))


@functools.cache
def ratio_bomb() -> bytes:
    """8 MB of XML squeezed into a few KB (ratio ~1000:1)."""
    return crafted(sheet(HEADER + " " * (8 * 1024 * 1024)))


@functools.cache
def size_bomb() -> bytes:
    """A sheet declaring 24 MB, over the per-part limit."""
    return crafted(sheet(HEADER + " " * (24 * 1024 * 1024)))


def test_crafted_files_are_small() -> None:
    assert len(million_rows()) < 5 * 1024
    assert len(ratio_bomb()) < 20 * 1024 and len(size_bomb()) < 40 * 1024


@pytest.fixture(scope="module")
def seed_docx() -> bytes:
    return SEED_DOCX.read_bytes()


HOSTILE = [
    ("million-rows", lambda w, d: million_rows(), "ke-hoach.xlsx",
     "Trang “Phụ lục 1” quá lớn (1000000 dòng); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn."),
    ("zip-bomb-ratio", lambda w, d: ratio_bomb(), "ke-hoach.xlsx",
     "Tệp .xlsx có dấu hiệu “bom nén” (dung lượng giải nén bất thường); không xử lý vì lý do an toàn."),
    ("zip-bomb-size", lambda w, d: size_bomb(), "ke-hoach.xlsx",
     "Tệp .xlsx có dấu hiệu “bom nén” (dung lượng giải nén bất thường); không xử lý vì lý do an toàn."),
    ("truncated", lambda w, d: w[: len(w) // 2], "ke-hoach.xlsx",
     "Tệp .xlsx bị hỏng hoặc không trọn vẹn (thiếu phần cuối của tệp nén)."),
    ("not-a-zip", lambda w, d: "TT\tNhiệm vụ\n1\tRà soát".encode(), "ke-hoach.xlsx",
     "Tệp không phải bảng tính Excel .xlsx (nội dung không phải tệp nén ZIP)."),
    ("docx-named-xlsx", lambda w, d: d, "ke-hoach.xlsx",
     "Tệp này là tài liệu Word (.docx), không phải bảng tính .xlsx; hãy đổi đúng đuôi tệp."),
    ("xlsx-named-docx", lambda w, d: w, "ke-hoach.docx",
     "Tệp không phải tài liệu Word hợp lệ: thiếu phần nội dung chính (word/document.xml)."),
    ("xlsx-named-txt", lambda w, d: w, "ke-hoach.txt",
     "Tệp có đuôi .txt nhưng nội dung là tệp nén (có thể là .docx); hãy đổi đúng đuôi tệp."),
    ("xls-extension", lambda w, d: w, "ke-hoach.xls",
     "Chỉ nhận tệp Word (.docx, .doc), OpenDocument (.odt), bảng tính Excel (.xlsx) hoặc văn bản (.txt, "
     "mã UTF-8). Tệp “ke-hoach.xls” không đúng loại."),
]  # fmt: skip


@pytest.mark.parametrize(("make", "name", "message"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_spreadsheet_is_refused_quickly_with_a_vietnamese_message_and_nothing_written(
    client: Client,
    personas: dict[str, Any],
    var_dir: Path,
    exported: Exported,
    seed_docx: bytes,
    make: Any,
    name: str,
    message: str,
) -> None:
    client.force_login(personas["office_reviewer"])
    started = time.perf_counter()
    response = upload(client, make(exported.workbook, seed_docx), name)
    assert time.perf_counter() - started < 2
    if response.status_code == 302:
        # refused by the parse job: the upload's page shows why
        assert (PlanUpload.objects.get().status, PlanUpload.objects.get().message) == ("refused", message)
        response = client.get(response["Location"])
    else:
        # refused by its name before anything is kept
        assert (response.status_code, name) == (400, "ke-hoach.xls")
        assert list(response.context["form"].errors["file"]) == [message]
        assert not PlanUpload.objects.exists()
    assert message in response.content.decode()
    assert all(model.objects.count() == 0 for model in (Plan, Appendix, Section, Criterion, PlanTask))
    assert uploads(var_dir) == []


# --- the reader's limits, one by one ------------------------------------------------------------

UNITS = UnitDirectory.from_seed(DEFAULT_UNITS)


def rows(n: int) -> str:
    return "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(2, n + 1))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            crafted(sheet(HEADER + rows(5001), dimension="A1:G10")),  # the dimension lies
            "Trang “Phụ lục 1” quá lớn (5001 dòng); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn.",
        ),
        (
            crafted(sheet(HEADER + rows(5001), dimension=None)),  # no dimension at all
            "Trang “Phụ lục 1” quá lớn (5001 dòng); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn.",
        ),
        (
            crafted(sheet(HEADER, dimension="A1:AF3")),
            "Trang “Phụ lục 1” quá lớn (32 cột); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn.",
        ),
        (
            crafted(sheet(HEADER + '<row r="2"><c r="AE2"><v>1</v></c></row>', dimension=None)),
            "Trang “Phụ lục 1” quá lớn (31 cột); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn.",
        ),
        (
            crafted(
                sheet(HEADER + '<row r="2">' + '<c r="A2"/>' * 40 + "</row>")
            ),  # one cell, written 40 times
            "Trang “Phụ lục 1” quá lớn (31 cột); giới hạn là 5000 dòng và 30 cột. Không xử lý vì lý do an toàn.",
        ),
        (
            crafted(
                f'<worksheet xmlns="{MAIN}"><dimension ref="A1:F3"/><sheetData>{HEADER}</sheetData><mergeCells>'.encode()
                + b'<mergeCell ref="C2:AD5000"/>' * 2
                + b"</mergeCells></worksheet>"
            ),
            "Bảng tính có quá nhiều ô gộp; không xử lý vì lý do an toàn.",
        ),
        (
            crafted(sheet(HEADER, before='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>')),
            "Tệp .xlsx chứa khai báo DTD/thực thể XML — không được phép vì lý do an toàn.",
        ),
        (
            crafted(
                sheet('<row r="1"><c r="A1" t="s"><v>7</v></c></row>'),
                strings=f'<sst xmlns="{MAIN}"/>'.encode(),
            ),
            "Trang “Phụ lục 1”: ô A1 trỏ tới văn bản không có.",
        ),
        (
            crafted(sheet(HEADER + "<row r='2'><c r='A2'")),
            "Nội dung bảng tính (Phụ lục 1) bị hỏng.",
        ),
        (
            crafted(sheet(HEADER)).replace(b"xl/workbook.xml", b"xl/workbook.xmz"),
            "Tệp không phải bảng tính Excel hợp lệ: thiếu phần xl/workbook.xml.",
        ),
    ],
    ids=[
        "dimension-lies",
        "no-dimension",
        "columns-declared",
        "columns-used",
        "cells-repeated",
        "merged-area",
        "dtd",
        "bad-string",
        "broken-xml",
        "no-workbook",
    ],
)
def test_reader_refuses_what_exceeds_its_limits_before_reading_on(data: bytes, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(PlanParseError) as refused:
        parse_xlsx(data, UNITS)
    assert time.perf_counter() - started < 2
    assert refused.value.message == message


def test_a_hand_made_sheet_with_the_heading_above_the_table_is_read() -> None:
    rows_xml = (
        f"<row r='1'>{cell('A1', 'Phụ lục 1. NHIỆM VỤ NÂNG CAO CHỈ SỐ CCHC NĂM 2025')}</row>"
        f"<row r='2'>{cell('A2', '(Kèm theo Kế hoạch số 12/KH-SCT)')}</row>"
        + HEADER.replace("r='1'", "r='3'").replace('1"', '3"')
        + f"<row r='4'>{cell('A4', 'I')}{cell('B4', 'CÔNG TÁC CHỈ ĐẠO')}</row>"
        + f"<row r='5'>{cell('A5', '1')}{cell('B5', 'TC 1.1. Kế hoạch CCHC')}{cell('C5', 'Ban hành kế hoạch')}"
        + f"{cell('D5', 'Văn phòng')}{cell('E5', 'Thanh tra')}<c r='F5'><v>2025</v></c></row>"
    )
    parsed = parse_xlsx(crafted(sheet(rows_xml, dimension="A1:F5")), UNITS)
    (appendix,) = parsed.appendices
    assert (appendix.number, appendix.index, appendix.title) == (
        1,
        "par",
        "NHIỆM VỤ NÂNG CAO CHỈ SỐ CCHC NĂM 2025",
    )
    (task,) = appendix.tasks
    assert (task.task, task.lead_units, task.partner_units, task.timeline_text, task.row) == (
        "Ban hành kế hoạch",
        ["Văn phòng Sở"],
        ["Thanh tra Sở"],
        "2025",
        5,
    )

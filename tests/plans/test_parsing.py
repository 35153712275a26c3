"""The plan parser: the seed's acceptance numbers on both formats, the row-level rules
(merged cells, follow-up tasks, unit spellings, collective phrases, timelines) and
every kind of bad upload."""

from __future__ import annotations

import datetime
import io
import time
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plans.parsing import (
    ParsedAppendix,
    ParsedCriterion,
    ParsedPlan,
    PlanParseError,
    UnitDirectory,
    parse_docx,
    parse_text,
    parse_upload,
)
from tests.helpers import SEED, SEED_DOCX, SEED_TXT

MINI_TXT = Path(__file__).resolve().parents[1] / "fixtures" / "plans" / "mini-plan.txt"

VP = "Văn phòng Sở"
TTR = "Thanh tra Sở"
QLCN = "Phòng Quản lý công nghiệp"
QLTM = "Phòng Quản lý thương mại"
ATNL = "Phòng An toàn - Năng lượng"
KHTC = "Phòng Kế hoạch - Tài chính"
TTKC = "Trung tâm Khuyến công và Xúc tiến Thương mại"
ALL_UNITS = [VP, TTR, QLCN, QLTM, ATNL, KHTC, TTKC]

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.fixture(scope="module")
def seed_plans(directory: UnitDirectory) -> dict[str, ParsedPlan]:
    assert SEED_TXT.is_file() and SEED_DOCX.is_file(), f"seed files missing under {SEED}"
    return {
        "txt": parse_text(SEED_TXT.read_bytes(), directory),
        "docx": parse_docx(SEED_DOCX.read_bytes(), directory),
    }


def criterion(appendix: ParsedAppendix, section: str, ordinal: str, group: str = "") -> ParsedCriterion:
    matches = [
        c
        for s in appendix.sections
        if s.code == section
        for c in s.criteria
        if c.ordinal == ordinal and c.group_code == group
    ]
    assert len(matches) == 1, (section, ordinal, group)
    return matches[0]


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def make_docx(body_xml: str) -> bytes:
    document = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W_NS}"><w:body>{body_xml}</w:body></w:document>'
    return make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": document.encode()})


FORMATS = pytest.mark.parametrize("fmt", ["txt", "docx"])


# ---------------------------------------------------------------------------
# The seed: the client's acceptance numbers, on both formats


@FORMATS
def test_seed_has_four_appendices_and_77_tasks(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    # given the seed plan / when parsed
    plan = seed_plans[fmt]
    # then
    assert [a.number for a in plan.appendices] == [1, 2, 3, 4]
    assert [a.index for a in plan.appendices] == ["par", "par", "sipas", "papi"]
    assert [len(a.tasks) for a in plan.appendices] == [21, 19, 26, 11]
    assert len(plan.tasks) == 77
    assert plan.unresolved == []


@FORMATS
def test_seed_titles_and_columns_are_read_as_written(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    plan = seed_plans[fmt]
    first, _, third, fourth = plan.appendices
    assert first.title == (
        "MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP TIẾP TỤC DUY TRÌ THỰC HIỆN NÂNG CAO CHỈ SỐ CCHC NĂM 2024"
    )
    assert first.columns == [
        "TT",
        "Lĩnh vực/Tiêu chí/ Tiêu chí thành phần",
        "Mục tiêu năm 2024",
        "Nhiệm vụ, giải pháp",
        "Đơn vị chủ trì thực hiện",
        "Cơ quan phối hợp thực hiện",
        "Thời gian thực hiện",
    ]
    assert len(third.columns) == 6
    assert [s.code for s in first.sections] == ["I", "II", "III", "IV", "V", "VI", "VII"]
    assert [(s.code, len(s.groups), len(s.criteria)) for s in third.sections] == [("I", 4, 14), ("II", 4, 12)]
    # appendix 4: one implicit section, groups "1".."6", criteria "1.1"...
    assert [(s.code, s.title) for s in fourth.sections] == [("", "")]
    assert [g.code for g in fourth.sections[0].groups] == ["1", "2", "3", "4", "5", "6"]


@FORMATS
def test_seed_criterion_codes_are_split_from_names(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    first = seed_plans[fmt].appendices[0]
    c = criterion(first, "I", "1")
    assert (c.code, c.name) == ("TC 1.1", "Thực hiện kế hoạch CCHC")
    c = criterion(first, "III", "3")
    assert c.code == "TCTP 3.3"
    assert c.name.startswith("Thực hiện việc xin lỗi người dân")


@FORMATS
def test_seed_appendix2_has_two_criteria_with_two_tasks_one_led_by_qlcn(
    seed_plans: dict[str, ParsedPlan], fmt: str
) -> None:
    second = seed_plans[fmt].appendices[1]
    doubles = [c for s in second.sections for c in s.criteria if len(c.tasks) == 2]
    assert [c.code for c in doubles] == ["TCTP 6.1", "TC 7.1"]
    assert all(len(c.tasks) <= 2 for s in second.sections for c in s.criteria)
    assert [t.lead_units for t in doubles[1].tasks] == [[VP], [QLCN]]


@FORMATS
def test_seed_appendix4_keeps_item_3_1_written_on_a_line_of_its_own(
    seed_plans: dict[str, ParsedPlan], fmt: str
) -> None:
    fourth = seed_plans[fmt].appendices[3]
    item = criterion(fourth, "", "3.1", group="3")
    assert item.name == "Hiệu quả tương tác với các cấp chính quyền"
    assert [t.lead_units for t in item.tasks] == [[VP]]
    assert item.tasks[0].timeline_kind == "ongoing"
    assert [c.ordinal for c in fourth.sections[0].criteria] == [
        "1.1", "1.2", "2.1", "3.1", "3.2", "4.1", "4.2", "5.1", "6.1", "6.2", "6.3",
    ]  # fmt: skip


def test_seed_txt_row_numbers_point_at_the_source_lines(seed_plans: dict[str, ParsedPlan]) -> None:
    fourth = seed_plans["txt"].appendices[3]
    assert criterion(fourth, "", "3.1", group="3").tasks[0].row == 813  # the "3.1" line, not its empty cell
    second_task = criterion(seed_plans["txt"].appendices[1], "VII", "1").tasks[1]
    assert second_task.row == 441
    # docx: rows of the table (1 = header)
    assert criterion(seed_plans["docx"].appendices[1], "VII", "1").tasks[1].row == 27


def test_seed_txt_and_docx_give_the_same_tasks(seed_plans: dict[str, ParsedPlan]) -> None:
    # The .docx seed lost the line breaks between "- " items of one cell (appendix 2,
    # TCTP 2.1 has "… theo quy định - Nâng cao …"), so line breaks are compared as spaces.
    def summary(plan: ParsedPlan) -> list[tuple[object, ...]]:
        return [
            (
                a.number,
                s.code,
                c.ordinal,
                c.code,
                c.name,
                c.group_code,
                t.order,
                t.target.replace("\n", " "),
                t.task.replace("\n", " "),
                t.lead_units,
                t.partner_units,
                t.timeline_text,
                t.timeline_kind,
                t.due_date,
                t.inherited,
            )
            for a in plan.appendices
            for s in a.sections
            for c in s.criteria
            for t in c.tasks
        ]

    assert summary(seed_plans["txt"]) == summary(seed_plans["docx"])


# ---------------------------------------------------------------------------
# Row-level rules on the seed


@FORMATS
def test_merged_cells_are_inherited_and_marked(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    first = seed_plans[fmt].appendices[0]
    above, below = criterion(first, "II", "2").tasks[0], criterion(first, "II", "3").tasks[0]
    # TC 2.3 has only its target; the rest is merged with TC 2.2's cells
    assert below.inherited == ["task", "lead", "partners", "timeline"]
    assert below.target.startswith("100% văn bản trái pháp luật")
    assert below.task == above.task
    assert below.task.startswith("Chủ động tự kiểm tra, rà soát hệ thống hóa văn bản QPPL")
    assert (below.lead_units, below.timeline_text, below.timeline_kind) == ([TTR], "Thường xuyên", "ongoing")
    assert above.inherited == []
    # appendix 2, TCTP 4.2: every field merged with TCTP 4.1
    c42 = criterion(seed_plans[fmt].appendices[1], "IV", "2")
    assert c42.tasks[0].inherited == ["target", "task", "lead", "partners", "timeline"]
    # appendix 1, TCTP 7.2: only the timeline is merged
    assert criterion(first, "VII", "2").tasks[0].inherited == ["timeline"]


@FORMATS
def test_row_without_tt_and_criterion_is_a_second_task(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    second = seed_plans[fmt].appendices[1]
    c61 = criterion(second, "VI", "1")
    first_task, second_task = c61.tasks
    assert [first_task.order, second_task.order] == [1, 2]
    assert second_task.target.startswith("Phấn đấu tỷ lệ TTHC có phát sinh giao dịch thanh toán trực tuyến")
    assert second_task.task.startswith("Khắc phục những lỗi thường gặp trong quá trình thực hiện thanh toán")
    assert second_task.inherited == ["lead", "partners", "timeline"]
    assert second_task.lead_units == [VP]
    c71 = criterion(second, "VII", "1")
    assert c71.tasks[1].inherited == ["target"]
    assert c71.tasks[1].target == "Phấn đấu kết quả Chỉ số hài lòng đạt từ 80% trở lên"


def test_stray_empty_cells_do_not_shift_columns(seed_plans: dict[str, ParsedPlan]) -> None:
    # txt line 392-399: TCTP 5.4 has two extra empty cells after its name
    task = criterion(seed_plans["txt"].appendices[1], "V", "4").tasks[0]
    assert task.target == "100% đơn vị sự nghiệp công lập thực hiện có hiệu quả cơ chế tự chủ"
    assert task.task == "Nâng cao hiệu quả việc thực hiện cơ chế tự chủ tài chính tại đơn vị"
    assert (task.lead_text, task.lead_units) == ("Trung tâm Khuyến công và XTTM", [TTKC])
    assert (task.timeline_text, task.inherited) == ("Thường xuyên", ["timeline"])


@FORMATS
def test_unit_aliases_resolve_to_canonical_names(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    first, second = seed_plans[fmt].appendices[:2]
    t21 = criterion(first, "II", "1").tasks[0]
    assert (t21.lead_text, t21.lead_units) == ("Thanh tra", [TTR])
    t42 = criterion(first, "IV", "2").tasks[0]
    assert t42.partner_text == "Văn phòng"
    t52 = criterion(second, "V", "2").tasks[0]
    assert (t52.lead_text, t52.lead_units) == ("Trung tâm Khuyến công và XTTM", [TTKC])


@FORMATS
def test_collective_phrases_expand_and_lead_is_never_a_partner(
    seed_plans: dict[str, ParsedPlan], fmt: str
) -> None:
    first = seed_plans[fmt].appendices[0]
    # "Các phòng, đơn vị thuộc sở" as partners: every unit but the lead
    t11 = criterion(first, "I", "1").tasks[0]
    assert t11.lead_units == [VP]
    assert t11.partner_units == [TTR, QLCN, QLTM, ATNL, KHTC, TTKC]
    # ... as lead: every unit does its own part; the partner "Văn phòng" is one of them
    t42 = criterion(first, "IV", "2").tasks[0]
    assert t42.lead_units == ALL_UNITS
    assert t42.partner_units == []
    # "Các phòng thuộc sở": every unit that is not the centre
    t64 = criterion(first, "VI", "4").tasks[0]
    assert t64.lead_units == [TTKC]
    assert t64.partner_units == [VP, TTR, QLCN, QLTM, ATNL, KHTC]


@FORMATS
def test_timeline_kinds_and_due_date(seed_plans: dict[str, ParsedPlan], fmt: str) -> None:
    first, _, third, _ = seed_plans[fmt].appendices
    yearly = criterion(first, "II", "1").tasks[0]
    assert (yearly.timeline_text, yearly.timeline_kind, yearly.due_date) == (
        "Năm 2024",
        "year",
        datetime.date(2024, 12, 31),
    )
    ongoing = criterion(first, "II", "2").tasks[0]  # "Thường\n xuyên" in the text export
    assert (ongoing.timeline_text, ongoing.timeline_kind, ongoing.due_date) == (
        "Thường xuyên",
        "ongoing",
        None,
    )
    policy = criterion(third, "I", "4.1", group="4").tasks[0]
    assert (policy.timeline_text, policy.timeline_kind) == ("Khi tham mưu xây dựng chính sách", "policy")
    kinds = {t.timeline_kind for t in seed_plans[fmt].tasks}
    assert kinds == {"ongoing", "year", "policy"}


def test_bullet_lines_keep_their_line_breaks(seed_plans: dict[str, ParsedPlan]) -> None:
    task = criterion(seed_plans["txt"].appendices[0], "II", "1").tasks[0]
    assert task.target == (
        "- Đảm bảo thực hiện đầy đủ 03 hoạt động theo dõi thi hành pháp luật (Kiểm tra; thu thập thông tin; "
        "điều tra, khảo sát tình hình thi hành pháp luật); ban hành đầy đủ văn bản xử lý kết quả TDTHPL;\n"
        "- Ban hành kế hoạch, xây dựng báo cáo theo đúng thời gian quy định"
    )
    # the .docx seed has the same list typed on one line: split back after "; "
    docx_task = criterion(seed_plans["docx"].appendices[0], "II", "1").tasks[0]
    assert docx_task.target == task.target


def test_nfd_input_is_normalised_to_nfc(directory: UnitDirectory) -> None:
    # given the seed re-encoded in decomposed form (NFD)
    nfd = unicodedata.normalize("NFD", SEED_TXT.read_text(encoding="utf-8"))
    assert nfd != unicodedata.normalize("NFC", nfd)
    # when
    plan = parse_text(nfd.encode("utf-8"), directory)
    # then
    assert len(plan.tasks) == 77
    assert plan.appendices[0].sections[0].title == "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"
    assert unicodedata.is_normalized("NFC", plan.tasks[0].task)
    assert plan.tasks[0].partner_units == [TTR, QLCN, QLTM, ATNL, KHTC, TTKC]
    assert plan.unresolved == []


def test_utf8_bom_is_accepted(directory: UnitDirectory) -> None:
    plan = parse_text(b"\xef\xbb\xbf" + SEED_TXT.read_bytes(), directory)
    assert len(plan.tasks) == 77


# ---------------------------------------------------------------------------
# A small hand-made text plan (tests/fixtures/plans/mini-plan.txt)


@pytest.fixture(scope="module")
def mini(directory: UnitDirectory) -> ParsedPlan:
    return parse_upload("mini-plan.txt", MINI_TXT.read_bytes(), directory)


def test_mini_plan_structure(mini: ParsedPlan) -> None:
    (appendix,) = mini.appendices
    assert (appendix.number, appendix.index) == (1, "par")
    assert appendix.title == "KẾ HOẠCH THỬ NGHIỆM NÂNG CAO CHỈ SỐ CCHC NĂM 2025"
    assert [(s.code, [c.code for c in s.criteria]) for s in appendix.sections] == [
        ("I", ["TC 1.1", "TCTP 1.2"]),
        ("II", ["TC 2.1", "TC 2.2"]),
    ]
    assert [len(c.tasks) for s in appendix.sections for c in s.criteria] == [1, 2, 1, 1]


def test_unresolved_unit_is_reported_with_its_row(mini: ParsedPlan) -> None:
    task = mini.appendices[0].sections[0].criteria[0].tasks[0]
    assert (task.lead_text, task.lead_units, task.unresolved) == (
        "Sở Tài chính, Văn phòng",
        [VP],
        ["Sở Tài chính"],
    )
    assert mini.unresolved == [(14, "Sở Tài chính")]


def test_units_split_on_semicolons_and_va_but_not_inside_names(mini: ParsedPlan) -> None:
    task = mini.appendices[0].sections[0].criteria[0].tasks[0]
    assert task.partner_text == "Thanh tra Sở; Phòng QLCN và Trung tâm Khuyến công và XTTM"
    assert task.partner_units == [TTR, QLCN, TTKC]


def test_text_is_folded_and_bullets_kept(mini: ParsedPlan) -> None:
    task = mini.appendices[0].sections[0].criteria[0].tasks[0]
    assert task.target == "- Mục tiêu thứ nhất;\n- Mục tiêu thứ hai"
    assert task.task == "Kiểm tra các đơn vị theo kế hoạch"


def test_other_and_year_timelines(mini: ParsedPlan) -> None:
    c11, c12 = mini.appendices[0].sections[0].criteria
    assert (c11.tasks[0].timeline_text, c11.tasks[0].timeline_kind, c11.tasks[0].due_date) == (
        "Quý III/2025",
        "other",
        None,
    )
    assert (c12.tasks[0].timeline_kind, c12.tasks[0].due_date) == ("year", datetime.date(2025, 12, 31))
    assert (c12.tasks[0].lead_text, c12.tasks[0].lead_units) == ("Phòng Kế hoạch – Tài chính", [KHTC])
    assert c12.tasks[0].partner_units == [VP, TTR, QLCN, QLTM, ATNL]


def test_follow_up_task_inherits_from_the_row_above_and_drops_a_stray_cell(mini: ParsedPlan) -> None:
    follow_up = mini.appendices[0].sections[0].criteria[1].tasks[1]
    assert (follow_up.order, follow_up.row) == (2, 31)
    assert follow_up.task == "Theo dõi tiến độ hằng tháng"
    assert follow_up.inherited == ["target", "lead", "partners", "timeline"]
    assert (follow_up.target, follow_up.lead_units, follow_up.timeline_kind) == (
        "100% báo cáo đúng hạn",
        [KHTC],
        "year",
    )


def test_empty_timeline_at_the_top_of_a_section_inherits_nothing(mini: ParsedPlan) -> None:
    c21, c22 = mini.appendices[0].sections[1].criteria
    task = c21.tasks[0]
    assert (task.timeline_text, task.timeline_kind, task.due_date, task.inherited) == ("", "none", None, [])
    assert (task.lead_units, task.partner_units) == (ALL_UNITS, [])
    follow = c22.tasks[0]
    assert follow.inherited == ["target", "lead", "partners"]
    assert follow.timeline_kind == "policy"


# ---------------------------------------------------------------------------
# The unit directory on its own


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Văn phòng", ((VP,), ())),
        ("Thanh tra Sở", ((TTR,), ())),
        ("Trung tâm Khuyến công và\nXúc tiến Thương mại", ((TTKC,), ())),
        ("Phòng An toàn – Năng lượng; Phòng QLTM", ((ATNL, QLTM), ())),
        ("Văn phòng Sở\nThanh tra", ((VP, TTR), ())),
        ("Các phòng thuộc Sở", ((VP, TTR, QLCN, QLTM, ATNL, KHTC), ())),
        ("Các phòng, đơn vị thuộc sở", (tuple(ALL_UNITS), ())),
        ("Sở Khoa học và Công nghệ, Văn phòng", ((VP,), ("Sở Khoa học và Công nghệ",))),
        ("Văn phòng UBND tỉnh", ((), ("Văn phòng UBND tỉnh",))),
        ("van phong so", ((VP,), ())),
        ("", ((), ())),
    ],
)
def test_directory_resolves_spellings(
    directory: UnitDirectory, text: str, expected: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    assert directory.resolve(text) == expected


# ---------------------------------------------------------------------------
# .docx: merges come from the XML, not from emptiness


def _docx_with_merges() -> bytes:
    from docx import Document  # python-docx, test-only

    doc = Document()
    doc.add_paragraph("Phụ lục 1.")
    doc.add_paragraph("KẾ HOẠCH THỬ NGHIỆM CHỈ SỐ CCHC")
    table = doc.add_table(rows=5, cols=7)
    header = [
        "TT",
        "Tiêu chí",
        "Mục tiêu",
        "Nhiệm vụ, giải pháp",
        "Đơn vị chủ trì",
        "Cơ quan phối hợp",
        "Thời gian",
    ]
    rows = [
        header,
        ["I", "CÔNG TÁC CHỈ ĐẠO", "", "", "", "", ""],
        ["1", "TC 1.1. Một", "Mục tiêu một", "Việc một", "Thanh tra", "Văn phòng", "Năm 2024"],
        ["2", "TC 1.2. Hai", "Mục tiêu hai", "Việc hai", "", "", ""],
        ["", "", "", "Việc ba", "Phòng QLTM", "", "Thường xuyên"],
    ]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    table.cell(1, 1).merge(table.cell(1, 6))  # section title across the row
    table.cell(2, 4).merge(table.cell(3, 4))  # lead merged down into TC 1.2
    table.cell(2, 6).merge(table.cell(3, 6))  # timeline merged down into TC 1.2
    table.cell(3, 0).merge(table.cell(4, 0))  # TT and criterion merged: a second task of TC 1.2
    table.cell(3, 1).merge(table.cell(4, 1))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def test_docx_marks_merged_cells_and_leaves_plain_empty_cells_empty(directory: UnitDirectory) -> None:
    # given a table where TC 1.2's lead and timeline are merged with TC 1.1's, its
    # partners cell is empty but NOT merged, and a further row merges TT/criterion
    plan = parse_upload("ke-hoach.docx", _docx_with_merges(), directory)
    # then
    (section,) = plan.appendices[0].sections
    assert (section.code, section.title) == ("I", "CÔNG TÁC CHỈ ĐẠO")
    c11, c12 = section.criteria
    assert c11.tasks[0].inherited == []
    first, second = c12.tasks
    assert first.inherited == ["lead", "timeline"]
    assert (first.lead_units, first.partner_text, first.partner_units) == ([TTR], "", [])
    assert (first.timeline_kind, first.due_date, first.row) == ("year", datetime.date(2024, 12, 31), 4)
    assert (second.order, second.task, second.inherited) == (2, "Việc ba", [])
    assert (second.target, second.lead_units, second.timeline_kind, second.row) == ("", [QLTM], "ongoing", 5)


# ---------------------------------------------------------------------------
# Bad input: always PlanParseError with a Vietnamese message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Tệp rỗng."),
        (b"  \n\t\n", "Tệp rỗng."),
        (b"\tTT\n\xc3\x28 l\xe1\n", "Tệp không phải văn bản UTF-8"),
        ("\tPhụ lục 1.".encode("utf-16"), "UTF-16"),
        ("\tPhụ lục 1.".encode("utf-16-le"), "UTF-16"),
        ("\tTT\n\tNhiệm vụ\n".encode(), "Không tìm thấy phụ lục nào"),
        ("Phụ lục 1.\nTIÊU ĐỀ\n\tMột ô\n".encode(), "Phụ lục 1: không tìm thấy bảng"),
    ],
    ids=["empty", "blank", "invalid-utf8", "utf16-bom", "utf16-no-bom", "no-appendix", "no-table"],
)
def test_bad_text_is_refused(directory: UnitDirectory, data: bytes, message: str) -> None:
    with pytest.raises(PlanParseError) as caught:
        parse_text(data, directory)
    assert message in caught.value.message


def test_invalid_utf8_reports_its_line(directory: UnitDirectory) -> None:
    with pytest.raises(PlanParseError) as caught:
        parse_text(b"Ph\xe1\xbb\xa5 l\xe1\xbb\xa5c 1.\n\tTT\n\tbad \xff byte\n", directory)
    assert caught.value.row == 3


def make_docx_table(rows: list[list[str]]) -> bytes:
    def cell(text: str) -> str:
        return f"<w:tc><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"

    table = "".join(f"<w:tr>{''.join(cell(v) for v in row)}</w:tr>" for row in rows)
    return make_docx(f"<w:p><w:r><w:t>Phụ lục 1.</w:t></w:r></w:p><w:tbl>{table}</w:tbl>")


HEADER_6 = ["TT", "Tiêu chí", "Nhiệm vụ", "Chủ trì", "Phối hợp", "Thời gian"]


def test_follow_up_row_without_a_criterion_is_refused(directory: UnitDirectory) -> None:
    data = make_docx_table([HEADER_6, ["I", "MỤC MỘT", "", "", "", ""], ["", "", "Việc lẻ", "", "", ""]])
    with pytest.raises(PlanParseError) as caught:
        parse_docx(data, directory)
    assert "không nằm dưới tiêu chí nào" in caught.value.message
    assert (caught.value.row, caught.value.text) == (3, "Việc lẻ")


def test_text_before_the_first_numbered_row_is_refused(directory: UnitDirectory) -> None:
    text = "Phụ lục 1.\n" + "".join(f"\t{h}\n" for h in HEADER_6) + "\t\n\t\n\tViệc lẻ\n\tI\n\tMỤC\n"
    with pytest.raises(PlanParseError) as caught:
        parse_text(text.encode(), directory)
    assert "Không hiểu nội dung ở đầu bảng của Phụ lục 1" in caught.value.message
    assert (caught.value.row, caught.value.text) == (10, "Việc lẻ")


def test_section_row_with_task_content_is_refused(directory: UnitDirectory) -> None:
    text = "Phụ lục 1.\n" + "".join(f"\t{h}\n" for h in HEADER_6) + "\tI\n\tMỤC\n\t\n\t\n\tViệc lẻ\n"
    with pytest.raises(PlanParseError) as caught:
        parse_text(text.encode(), directory)
    assert "là dòng mục/nhóm nhưng lại có nội dung" in caught.value.message
    assert caught.value.row == 12


def test_docx_heading_without_a_table_is_refused(directory: UnitDirectory) -> None:
    data = make_docx(
        "<w:p><w:r><w:t>Phụ lục 1.</w:t></w:r></w:p><w:p><w:r><w:t>KẾ HOẠCH CCHC</w:t></w:r></w:p>"
    )
    with pytest.raises(PlanParseError) as caught:
        parse_docx(data, directory)
    assert caught.value.message == "Phụ lục 1: không tìm thấy bảng (dòng tiêu đề có cột “TT”)."


def test_column_number_row_under_the_header_is_skipped(directory: UnitDirectory) -> None:
    # given a header followed by a "(1) … (6)" row, in both formats
    rows = [
        HEADER_6,
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
        ["1", "Tiêu chí một", "Việc một", "Thanh tra", "Văn phòng", "Năm 2025"],
    ]
    text = "Phụ lục 1.\n" + "".join(f"\t{v}\n" for row in rows for v in row)
    # when
    plans = [parse_text(text.encode(), directory), parse_docx(make_docx_table(rows), directory)]
    # then
    for plan in plans:
        (task,) = plan.tasks
        assert (task.task, task.lead_units, task.partner_units, task.due_date) == (
            "Việc một",
            [TTR],
            [VP],
            datetime.date(2025, 12, 31),
        )
        assert plan.appendices[0].index == "other"


def _billion_laughs() -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
    ).encode()


def _zip_bomb() -> bytes:
    # ~200 MB of zeros deflated to ~200 KB, written in 1 MB chunks to keep the test light
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as handle:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                handle.write(chunk)
    return buf.getvalue()


def _too_many_entries() -> bytes:
    return make_zip({f"word/media/{i}.xml": b"" for i in range(1001)} | {"word/document.xml": b"<x/>"})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"this is not a zip", "không phải tài liệu Word"),
        (lambda: SEED_DOCX.read_bytes()[:20000] if SEED_DOCX.is_file() else make_docx("")[:200], "bị hỏng"),
        (lambda: make_zip({"word/other.xml": b"<x/>"}), "word/document.xml"),
        (_zip_bomb, "bom nén"),
        (lambda: make_zip({"word/document.xml": _billion_laughs()}), "DTD/thực thể XML"),
        (_too_many_entries, "quá nhiều thành phần"),
        (lambda: make_zip({"word/document.xml": b"<w:document"}), "bị hỏng"),
        (
            lambda: make_docx("<w:p><w:r><w:t>Không có phụ lục</w:t></w:r></w:p>"),
            "Không tìm thấy phụ lục nào",
        ),
    ],
    ids=[
        "not-zip",
        "truncated",
        "no-document-xml",
        "zip-bomb",
        "billion-laughs",
        "too-many-entries",
        "broken-xml",
        "no-appendix",
    ],
)
def test_bad_docx_is_refused_quickly(
    directory: UnitDirectory, make: Callable[[], bytes], message: str
) -> None:
    data = make()
    started = time.perf_counter()
    with pytest.raises(PlanParseError) as caught:
        parse_docx(data, directory)
    assert time.perf_counter() - started < 2
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("ke-hoach.docx", "\tPhụ lục 1.".encode(), "đuôi .docx nhưng nội dung không phải tài liệu Word"),
        ("ke-hoach.txt", make_zip({"word/document.xml": b"<x/>"}), "đuôi .txt nhưng nội dung là tệp nén"),
        ("ke-hoach.xlsx", make_zip({"xl/workbook.xml": b"<x/>"}), "Bảng tính không có trang dữ liệu nào."),
        ("ke-hoach.pdf", b"%PDF-1.7", "Tệp “ke-hoach.pdf” không đúng loại."),
        ("ke-hoach", b"abc", "Chỉ nhận tệp Word (.docx, .doc), OpenDocument (.odt), bảng tính Excel (.xlsx)"),
        ("ke-hoach.doc", SEED_DOCX.read_bytes(), "đuôi .doc nhưng nội dung là tài liệu Word mới (.docx)"),
        ("ke-hoach.doc", "\tPhụ lục 1.".encode(), "đuôi .doc nhưng nội dung không phải tài liệu Word"),
        (
            "ke-hoach.odt",
            "\tPhụ lục 1.".encode(),
            "đuôi .odt nhưng nội dung không phải tài liệu OpenDocument",
        ),
    ],
)
def test_wrong_extension_is_refused(directory: UnitDirectory, name: str, data: bytes, message: str) -> None:
    with pytest.raises(PlanParseError) as caught:
        parse_upload(name, data, directory)
    assert message in caught.value.message


def test_plan_file_dispatches_on_content(directory: UnitDirectory) -> None:
    assert len(parse_upload("C:\\fakepath\\KE-HOACH.DOCX", SEED_DOCX.read_bytes(), directory).tasks) == 77
    assert len(parse_upload("ke-hoach.txt", SEED_TXT.read_bytes(), directory).tasks) == 77


@pytest.mark.parametrize("name", ["ke-hoach.txt", "ke-hoach.docx", "ke-hoach.xlsx", "ke-hoach.doc"])
def test_a_file_over_the_setting_is_refused_before_any_reader(
    directory: UnitDirectory, settings: Any, name: str
) -> None:
    # given the one size limit, from the settings
    settings.PLAN_UPLOAD_MAX_BYTES = 1024 * 1024
    data = b"PK\x03\x04" + b"\0" * (1024 * 1024 - 3)
    # when a file one byte over it is read, of any kind
    with pytest.raises(PlanParseError) as caught:
        parse_upload(name, data, directory)
    # then it is refused with the size and the limit
    assert caught.value.message == "Tệp quá lớn (1,0 MB); tối đa 1 MB."


def test_the_xml_element_budget_leaves_room_for_the_largest_sheet_the_row_and_column_limits_allow(
    directory: UnitDirectory,
) -> None:
    from plans.parsing.xlsx import MAX_COLUMNS, MAX_ROWS

    # given a sheet of MAX_ROWS x MAX_COLUMNS cells (shared strings: two elements a cell)
    ns = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = [
        "TT",
        "Tiêu chí",
        "Nhiệm vụ",
        "Chủ trì",
        "Phối hợp",
        "Thời gian",
        "Việc",
        "Văn phòng Sở",
        "Năm 2024",
    ]
    sst = b"<sst " + ns + b">" + b"".join(f"<si><t>{s}</t></si>".encode() for s in strings) + b"</sst>"

    def row(r: int) -> bytes:
        values = [0, 1, 2, 3, 4, 5] if r == 1 else [None, 1, 6, 7, 7, 8]
        cells = []
        for c in range(1, MAX_COLUMNS + 1):
            ref = f"{chr(64 + c) if c <= 26 else 'A' + chr(64 + c - 26)}{r}"
            if r > 1 and c == 1:
                cells.append(f'<c r="{ref}"><v>{r - 1}</v></c>')
            else:
                index = values[c - 1] if c <= 6 else 6
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
        return f'<row r="{r}">{"".join(cells)}</row>'.encode()

    sheet = b"<worksheet " + ns + b"><sheetData>" + b"".join(row(r) for r in range(1, MAX_ROWS + 1))
    sheet += b"</sheetData></worksheet>"
    workbook = (
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
        b'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Phu luc 1" '
        b'sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    rels = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        b'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        b'Target="worksheets/sheet1.xml"/></Relationships>'
    )
    data = make_zip(
        {
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": rels,
            "xl/sharedStrings.xml": sst,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )
    # when it is read, then every row is a task: the element count did not refuse it
    plan = parse_upload("ke-hoach.xlsx", data, directory)
    assert len(plan.tasks) == MAX_ROWS - 1

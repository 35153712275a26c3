"""Rows of an appendix table → sections, groups, criteria and tasks (every format ends here)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from plans.parsing.errors import PlanParseError
from plans.parsing.normalize import fold_keep_bullets, fold_spaces, search_key
from plans.parsing.tree import (
    TASK_FIELDS,
    ParsedAppendix,
    ParsedCriterion,
    ParsedGroup,
    ParsedPlan,
    ParsedSection,
    ParsedTask,
)
from plans.parsing.units import UnitDirectory

__all__ = [
    "COLUMN_NUMBER",
    "ROMAN",
    "Row",
    "TableSource",
    "appendix_title",
    "build_plan",
    "column_roles",
    "find_heading",
    "is_group",
    "is_header_cell",
    "is_tt",
    "timeline_of",
    "tt_text",
]

ROMAN = re.compile(r"[IVXLC]{1,7}")
_ORDINAL = re.compile(r"\d{1,3}(?:\.\d{1,3}){0,3}")
COLUMN_NUMBER = re.compile(r"\(?\d{1,2}\)?")
_CRITERION_CODE = re.compile(r"^(TCTP|TC)\s*(\d{1,2}(?:\.\d{1,2}){0,3})\s*[.:]?\s*", re.IGNORECASE)
_HEADING = re.compile(r"^\s*phụ\s+lục\s+(\d{1,2}|[IVX]{1,5})\b\s*[.:]?\s*(.*)$", re.IGNORECASE)
_ATTACHED_TO = re.compile(r"\(\s*kèm\s+theo[^)]*\)?", re.IGNORECASE)
_YEAR = re.compile(r"(?:trong )?nam (\d{4})\.?")


def tt_text(text: str) -> str:
    """The TT cell as written, without a trailing dot ("1." → "1")."""
    return fold_spaces(text).rstrip(".").strip()


def is_tt(text: str) -> bool:
    value = tt_text(text)
    return bool(value) and bool(ROMAN.fullmatch(value) or _ORDINAL.fullmatch(value))


def is_group(tt: str, next_tt: str | None) -> bool:
    """An integer row is a group when the next numbered row is one of its children
    ("1" then "1.1"); otherwise ("1" then "2") it is a criterion."""
    return (
        bool(_ORDINAL.fullmatch(tt))
        and "." not in tt
        and next_tt is not None
        and "." in next_tt
        and next_tt.split(".")[0] == tt
    )


def timeline_of(text: str) -> tuple[str, datetime.date | None]:
    """Kind and due date of a timeline cell (case and diacritics ignored)."""
    if not text:
        return "none", None
    key = search_key(text)
    if key.startswith("thuong xuyen"):
        return "ongoing", None
    m = _YEAR.fullmatch(key)
    if m and 1900 <= int(m.group(1)) <= 2200:
        return "year", datetime.date(int(m.group(1)), 12, 31)
    if key.startswith("khi tham muu"):
        return "policy", None
    return "other", None


def _index_of(title: str) -> str:
    key = search_key(title)
    if "sipas" in key:
        return "sipas"
    if "papi" in key:
        return "papi"
    if "chi so cchc" in key or "chi so cai cach hanh chinh" in key or "par index" in key:
        return "par"
    return "other"


def appendix_title(lines: Iterable[str]) -> str:
    return fold_spaces(_ATTACHED_TO.sub(" ", " ".join(lines)))


def column_roles(columns: Sequence[str], number: int, row: int | None) -> dict[str, int]:
    """Which column holds which task field, from the header words."""
    keywords = (
        ("target", ("muc tieu",)),
        ("task", ("nhiem vu", "giai phap")),
        ("lead", ("chu tri",)),
        ("partners", ("phoi hop",)),
        ("timeline", ("thoi gian", "thoi han", "tien do")),
    )
    roles: dict[str, int] = {}
    for idx in range(2, len(columns)):
        key = search_key(columns[idx])
        for role, words in keywords:
            if role not in roles and any(w in key for w in words):
                roles[role] = idx
                break
    if not all(r in roles for r in ("task", "lead", "partners", "timeline")):
        fallback = {
            7: {"target": 2, "task": 3, "lead": 4, "partners": 5, "timeline": 6},
            6: {"task": 2, "lead": 3, "partners": 4, "timeline": 5},
        }.get(len(columns))
        if fallback is None:
            raise PlanParseError(
                f"Không nhận ra các cột của bảng ở Phụ lục {number}: cần có các cột TT, tiêu chí, "
                "nhiệm vụ, đơn vị chủ trì, cơ quan phối hợp và thời gian thực hiện.",
                row=row,
                text=" | ".join(columns),
            )
        roles = fallback
    return roles


@dataclass
class Row:
    """A table row with exactly one text per column (raw text, line breaks kept)."""

    cells: list[str]
    row: int
    merged: set[int] = field(default_factory=set)  # columns read from a vertically merged cell


@dataclass
class TableSource:
    number: int
    title: str
    columns: list[str]
    rows: list[Row]
    row: int | None  # where the appendix starts, for messages


class _Builder:
    """Turns normalised rows into sections, groups, criteria and tasks.

    ``infer_merges`` is the text-format rule: there is no merge information, so an
    empty task cell directly under a filled one (no section or group row between)
    takes the value above and is marked inherited. In the .docx the rows arrive with
    ``merged`` already set from ``w:vMerge``.
    """

    def __init__(self, source: TableSource, units: UnitDirectory, *, infer_merges: bool) -> None:
        self.source = source
        self.units = units
        self.infer_merges = infer_merges
        self.roles = column_roles(source.columns, source.number, source.row)

    def build(self) -> ParsedAppendix:
        src = self.source
        n = len(src.columns)
        sections: list[ParsedSection] = []
        section: ParsedSection | None = None
        group_code = ""
        criterion: ParsedCriterion | None = None
        above: dict[str, str] | None = None  # field values of the task row above, same block

        tts = [tt_text(r.cells[0]) for r in src.rows]
        # next_tts[i]: the TT of the next numbered row after row i (for group detection)
        next_tts: list[str | None] = [None] * len(tts)
        following: str | None = None
        for i in range(len(tts) - 1, -1, -1):
            next_tts[i] = following
            if tts[i]:
                following = tts[i]

        def current_section() -> ParsedSection:
            nonlocal section
            if section is None:
                section = ParsedSection(code="", title="", groups=[], criteria=[])
                sections.append(section)
            return section

        for i, row in enumerate(src.rows):
            cells = (row.cells + [""] * n)[:n]
            tt = tts[i]
            name = fold_spaces(cells[1])
            rest = [fold_spaces(c) for c in cells[2:]]
            if not tt and not name:
                if not any(rest):
                    continue  # an empty row (or a row made only of stray cells)
                if criterion is None:
                    raise PlanParseError(
                        "Có một dòng nhiệm vụ không nằm dưới tiêu chí nào (thiếu số thứ tự và tên tiêu chí).",
                        row=row.row,
                        text=next(c for c in rest if c),
                    )
                above = self._add_task(criterion, row, cells, above)
                continue
            if ROMAN.fullmatch(tt) or is_group(tt, next_tts[i]):
                own = [c for j, c in enumerate(rest, 2) if c and j not in row.merged]
                if own:
                    raise PlanParseError(
                        f"Dòng “{tt} {name}” là dòng mục/nhóm nhưng lại có nội dung ở các cột nhiệm vụ; "
                        "hãy kiểm tra lại số thứ tự hoặc tách nội dung thành tiêu chí riêng.",
                        row=row.row,
                        text=own[0],
                    )
                above = None
                criterion = None
                if ROMAN.fullmatch(tt):
                    section = ParsedSection(code=tt, title=name, groups=[], criteria=[])
                    sections.append(section)
                    group_code = ""
                else:
                    current_section().groups.append(ParsedGroup(code=tt, title=name))
                    group_code = tt
                continue
            code = ""
            m = _CRITERION_CODE.match(name)
            if m:
                code = f"{m.group(1).upper()} {m.group(2)}"
                name = name[m.end() :].strip() or name
            if group_code and not tt.startswith(group_code + "."):
                group_code = ""  # a criterion numbered outside the group ends it
            criterion = ParsedCriterion(ordinal=tt, code=code, name=name, group_code=group_code, tasks=[])
            current_section().criteria.append(criterion)
            above = self._add_task(criterion, row, cells, above)

        return ParsedAppendix(
            number=src.number,
            index=_index_of(src.title),
            title=src.title,
            columns=list(src.columns),
            sections=sections,
        )

    def _add_task(
        self,
        criterion: ParsedCriterion,
        row: Row,
        cells: list[str],
        above: dict[str, str] | None,
    ) -> dict[str, str]:
        values: dict[str, str] = {}
        inherited: list[str] = []
        for role in TASK_FIELDS:
            idx = self.roles.get(role)
            value = cells[idx] if idx is not None else ""
            if idx is not None and idx in row.merged and value.strip():
                inherited.append(role)
            elif self.infer_merges and not value.strip() and above and above.get(role, "").strip():
                value = above[role]
                inherited.append(role)
            values[role] = value
        if not any(v.strip() for v in values.values()):
            return values  # a criterion without any task of its own or above it
        lead_units, lead_unresolved = self.units.resolve(values["lead"])
        partner_units, partner_unresolved = self.units.resolve(values["partners"])
        timeline_text = fold_spaces(values["timeline"])
        kind, due = timeline_of(timeline_text)
        unresolved: list[str] = []
        for fragment in (*lead_unresolved, *partner_unresolved):
            if fragment not in unresolved:
                unresolved.append(fragment)
        criterion.tasks.append(
            ParsedTask(
                order=len(criterion.tasks) + 1,
                target=fold_keep_bullets(values["target"]),
                task=fold_keep_bullets(values["task"]),
                lead_text=fold_spaces(values["lead"]),
                lead_units=list(lead_units),
                partner_text=fold_spaces(values["partners"]),
                partner_units=[u for u in partner_units if u not in lead_units],
                timeline_text=timeline_text,
                timeline_kind=kind,
                due_date=due,
                inherited=inherited,
                unresolved=unresolved,
                row=row.row,
            )
        )
        return values


def build_plan(sources: list[TableSource], units: UnitDirectory, *, infer_merges: bool) -> ParsedPlan:
    if not sources:
        raise PlanParseError(
            "Không tìm thấy phụ lục nào trong tệp: cần có tiêu đề “Phụ lục 1.”, “Phụ lục 2.”… "
            "và bảng có cột “TT” ngay sau đó."
        )
    return ParsedPlan(appendices=[_Builder(s, units, infer_merges=infer_merges).build() for s in sources])


def find_heading(text: str) -> tuple[int, str] | None:
    """(appendix number, rest of the heading line) when a line reads "Phụ lục N."."""
    m = _HEADING.match(fold_spaces(text))
    if not m:
        return None
    rest = m.group(2)
    letters = [ch for ch in rest if ch.isalpha()]
    # "Phụ lục 2 của Kế hoạch…" inside a sentence is not a heading; titles are capitals.
    if letters and sum(ch.isupper() for ch in letters) < 0.8 * len(letters):
        return None
    number = m.group(1).upper()
    if number.isdigit():
        return int(number), rest
    values = {"I": 1, "V": 5, "X": 10}
    total = 0
    for a, b in zip(number, number[1:] + " ", strict=True):
        total += -values[a] if values.get(b, 0) > values[a] else values[a]
    return total, rest


def is_header_cell(text: str) -> bool:
    return search_key(text) in ("tt", "stt")

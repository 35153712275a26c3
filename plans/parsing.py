"""Read a department's administrative-reform plan (its appendices) from an upload.

Two sources carry the same tables:

* a ``.txt`` export of the Word tables, where every cell starts with a TAB at the
  start of a line and lines without a leading TAB continue the cell before; rows are
  not reliably separated, merged cells have become empty cells and a few rows carry
  stray empty cells;
* the ``.docx`` itself, read straight from ``word/document.xml`` (after zip-bomb and
  XML-entity checks), where merged cells are real (``w:vMerge``, ``w:gridSpan``).

Both are turned into the same tree: ``ParsedPlan`` → ``ParsedAppendix`` →
``ParsedSection`` → (``ParsedGroup``) ``ParsedCriterion`` → ``ParsedTask``.

The module is pure Python (no Django) so it can run in a worker or a test without a
database. Every problem with the input surfaces as ``PlanParseError`` whose
``message`` is a Vietnamese sentence meant for the person who uploaded the file.
"""

from __future__ import annotations

import datetime
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from plans.defaults import ALL_UNITS_PHRASES, CENTRE, DIVISIONS_PHRASES

__all__ = [
    "MAX_UPLOAD_BYTES",
    "ParsedAppendix",
    "ParsedCriterion",
    "ParsedGroup",
    "ParsedPlan",
    "ParsedSection",
    "ParsedTask",
    "PlanParseError",
    "UnitDirectory",
    "UnitRef",
    "parse_docx",
    "parse_plan_file",
    "parse_text",
]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024

# Limits for the .docx container, checked before anything is decompressed or parsed.
_MAX_ZIP_ENTRIES = 1000
_MAX_TOTAL_UNCOMPRESSED = 50 * 1024 * 1024
_MAX_DOCUMENT_XML = 30 * 1024 * 1024
_MAX_RATIO = 100  # uncompressed : compressed
_RATIO_CHECK_FROM = 1024 * 1024  # small entries compress well legitimately (styles.xml ~30:1)
_DOCUMENT_PART = "word/document.xml"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

TASK_FIELDS = ("target", "task", "lead", "partners", "timeline")
_MAX_ALIGN_CELLS = 400  # cells of one criterion (its rows and follow-up rows) aligned by search


# ---------------------------------------------------------------------------
# Errors


class PlanParseError(ValueError):
    """Bad input.

    ``message`` is a clear Vietnamese sentence for the user; ``row`` the 1-based line
    (txt) or table row (docx) when known; ``text`` the offending text.
    """

    def __init__(self, message: str, *, row: int | None = None, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.text = text


# ---------------------------------------------------------------------------
# Text helpers

_BOOKMARK = re.compile(r"\[bookmark:[^\]\n]*\]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\u2028\u2029\u0085]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BULLET = re.compile(r"^[-–•]\s")
_INLINE_BULLET = re.compile(r"([;.:])[^\S\n]+([-–•])[^\S\n]+")


def _clean(text: str) -> str:
    """NFC, unified line breaks, no invisible or control characters (tabs kept)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub("", text)


def _fold(text: str) -> str:
    """All whitespace (line breaks included) folded to single spaces, stripped."""
    return " ".join(text.split())


def _fold_keep_bullets(text: str) -> str:
    """Like ``_fold`` but a line starting with "- " keeps its own line.

    Word cells list sub-points as "- ..." paragraphs; joining them into one sentence
    would lose the list. Wrapped lines of one paragraph are still joined with a space.
    """
    out = ""
    for raw in text.split("\n"):
        line = _fold(raw)
        if not line:
            continue
        if not out:
            out = line
        elif _BULLET.match(line):
            out += "\n" + line
        else:
            out += " " + line
    if _BULLET.match(out):
        # A list typed on one line ("- a; - b", as some exports save it) is split
        # back into its items, so both formats give the same text.
        out = _INLINE_BULLET.sub(lambda m: f"{m.group(1)}\n{m.group(2)} ", out)
    return out


def _key(text: str) -> str:
    """Comparison key: no diacritics (đ → d), case-folded, whitespace folded."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return _fold(stripped).casefold()


# ---------------------------------------------------------------------------
# Units


@dataclass(frozen=True)
class UnitRef:
    """A unit of the department as the parser knows it."""

    name: str
    short_name: str
    kind: str
    aliases: tuple[str, ...] = ()


_ALL = "__all__"
_DIVISIONS = "__divisions__"
# Separators between unit names in one cell: , ; / ( ) newline and the word "và".
_UNIT_SEP = re.compile(r"[^\S\n]*(?:[,;/()\n]|\bvà\b)\s*", re.IGNORECASE)
_UNIT_WS = re.compile(r"\s+")
_UNIT_WORD = re.compile(r"[^\s,;/()]+")
_FRAGMENT_TRIM = " \t\n.:-–—"
_MAX_UNIT_TEXT = 2000


def _name_pattern(name: str) -> re.Pattern[str]:
    """A regex for a unit name that tolerates line breaks, case and dash variants."""
    name = _fold(unicodedata.normalize("NFC", name))
    parts: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch in "-–—":
            # "An toàn - Năng lượng", "An toàn – Năng lượng", "An toàn-Năng lượng"
            while parts and parts[-1] == r"\s+":
                parts.pop()
            parts.append(r"\s*[-–—]\s*")
            i += 1
            while i < len(name) and name[i] == " ":
                i += 1
            continue
        if ch == " ":
            parts.append(r"\s*" if parts and parts[-1].endswith((",", ";")) else r"\s+")
        else:
            parts.append(re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE)


@dataclass(frozen=True)
class UnitDirectory:
    """The units a plan may name, with their spellings and the collective phrases.

    ``all_units_phrases`` ("Các phòng, đơn vị thuộc sở") stand for every unit,
    ``divisions_phrases`` ("Các phòng thuộc sở") for every unit that is not a centre.
    Both default to the lists in ``plans.defaults``.
    """

    units: tuple[UnitRef, ...]
    all_units_phrases: tuple[str, ...] = tuple(ALL_UNITS_PHRASES)
    divisions_phrases: tuple[str, ...] = tuple(DIVISIONS_PHRASES)

    @classmethod
    def from_seed(cls, seeds: Iterable[Any]) -> UnitDirectory:
        """Build from ``plans.defaults.DEFAULT_UNITS``-shaped dicts."""
        return cls(
            units=tuple(
                UnitRef(
                    name=seed["name"],
                    short_name=seed.get("short_name", ""),
                    kind=seed.get("kind", ""),
                    aliases=tuple(seed.get("aliases", ())),
                )
                for seed in seeds
            )
        )

    def _expand(self, target: str) -> tuple[str, ...]:
        if target == _ALL:
            return tuple(u.name for u in self.units)
        if target == _DIVISIONS:
            return tuple(u.name for u in self.units if u.kind != CENTRE)
        return (target,)

    @cached_property
    def _patterns(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        """(regex, target) for every spelling, longest first so the greedy scan
        prefers "Thanh tra Sở" to "Thanh tra" and the "…và Xúc tiến Thương mại"
        name to a split at "và"."""
        spellings: list[tuple[str, str]] = []
        for unit in self.units:
            spellings.append((unit.name, unit.name))
            spellings.extend((alias, unit.name) for alias in unit.aliases)
        spellings.extend((phrase, _ALL) for phrase in self.all_units_phrases)
        spellings.extend((phrase, _DIVISIONS) for phrase in self.divisions_phrases)
        spellings = [(s, t) for s, t in spellings if _fold(s)]
        spellings.sort(key=lambda st: len(_fold(st[0])), reverse=True)
        return tuple((_name_pattern(s), t) for s, t in spellings)

    @cached_property
    def _keys(self) -> dict[str, str]:
        """Diacritics-insensitive exact lookup for left-over fragments."""
        keys: dict[str, str] = {}
        for unit in self.units:
            for spelling in (unit.name, *unit.aliases):
                keys.setdefault(_key(spelling), unit.name)
        for phrase in self.all_units_phrases:
            keys.setdefault(_key(phrase), _ALL)
        for phrase in self.divisions_phrases:
            keys.setdefault(_key(phrase), _DIVISIONS)
        return keys

    def _match_at(self, text: str, pos: int, *, check_boundary: bool = True) -> tuple[str, int] | None:
        for pattern, target in self._patterns:
            m = pattern.match(text, pos)
            if m is None:
                continue
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] == "_"):
                continue  # stops inside a word
            if not check_boundary or self._boundary_ok(text, end):
                return target, end
        return None

    def _boundary_ok(self, text: str, end: int) -> bool:
        """A name must be followed by the end, a separator or another known name.

        This keeps "Văn phòng UBND tỉnh" from being read as "Văn phòng" (= Văn phòng
        Sở) plus a stray "UBND tỉnh".
        """
        rest = text[end:]
        if not rest.strip(_FRAGMENT_TRIM):
            return True
        if _UNIT_SEP.match(text, end) or text[end] in ".:":
            return True
        ws = _UNIT_WS.match(text, end)
        return ws is not None and self._match_at(text, ws.end(), check_boundary=False) is not None

    @cached_property
    def _cache(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        return {}

    def resolve(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(canonical unit names in the order written, unresolved fragments).

        Known names, aliases and collective phrases are matched greedily first (so
        the comma inside "Các phòng, đơn vị thuộc sở" and the "và" inside "Trung tâm
        Khuyến công và Xúc tiến Thương mại" do not split them); what remains is split
        at commas, semicolons, slashes, line breaks and "và". Collective phrases
        expand to the units in directory order. Names are not repeated.
        """
        cached = self._cache.get(text)
        if cached is None:
            cached = self._resolve(text)
            if len(self._cache) < 4096:  # unit cells repeat a lot; keep the cache small
                self._cache[text] = cached
        return cached

    def _resolve(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        text = _clean(text).replace("\t", " ")
        if len(text) > _MAX_UNIT_TEXT:
            # Far longer than any list of units: do not scan it word by word.
            return (), (_fold(text)[:200],)
        items: list[tuple[str, str]] = []  # ("unit", target) | ("frag", text) | ("sep", sep)
        frag_start: int | None = None

        def flush(end: int) -> None:
            nonlocal frag_start
            if frag_start is not None:
                fragment = _fold(text[frag_start:end]).strip(_FRAGMENT_TRIM)
                if fragment:
                    items.append(("frag", fragment))
                frag_start = None

        pos = 0
        while pos < len(text):
            sep = _UNIT_SEP.match(text, pos)
            if sep and sep.group().strip():
                flush(pos)
                items.append(("sep", _fold(sep.group()).casefold()))
                pos = sep.end()
                continue
            ws = _UNIT_WS.match(text, pos)
            if ws:
                pos = ws.end()
                continue
            hit = self._match_at(text, pos)
            if hit:
                flush(pos)
                items.append(("unit", hit[0]))
                pos = hit[1]
                continue
            if frag_start is None:
                frag_start = pos
            word = _UNIT_WORD.match(text, pos)
            pos = word.end() if word else pos + 1
        flush(len(text))

        # Unknown names joined by "và" are one name ("Sở Khoa học và Công nghệ").
        merged: list[tuple[str, str]] = []
        for kind, value in items:
            if (
                kind == "frag"
                and len(merged) >= 2
                and merged[-1] == ("sep", "và")
                and merged[-2][0] == "frag"
            ):
                merged.pop()
                merged[-1] = ("frag", f"{merged[-1][1]} và {value}")
            else:
                merged.append((kind, value))

        names: list[str] = []
        unresolved: list[str] = []
        for kind, value in merged:
            if kind == "unit":
                targets = self._expand(value)
            elif kind == "frag":
                found = self._keys.get(_key(value)) or next(
                    (u.name for u in self.units if u.short_name and u.short_name == value), None
                )
                if found is None:
                    if value not in unresolved:
                        unresolved.append(value)
                    continue
                targets = self._expand(found)
            else:
                continue
            names.extend(n for n in targets if n not in names)
        return tuple(names), tuple(unresolved)


# ---------------------------------------------------------------------------
# Result tree


@dataclass
class ParsedTask:
    """One task (nhiệm vụ, giải pháp) of a criterion."""

    order: int  # 1-based within its criterion
    target: str
    task: str
    lead_text: str
    lead_units: list[str]  # canonical names
    partner_text: str
    partner_units: list[str]  # canonical names, lead(s) removed
    timeline_text: str
    timeline_kind: str  # "ongoing" | "year" | "policy" | "other" | "none"
    due_date: datetime.date | None
    inherited: list[str]  # subset of TASK_FIELDS taken from a merged cell
    unresolved: list[str]  # unit fragments that matched nothing (lead or partners)
    row: int  # source line (txt) / table row (docx), 1-based


@dataclass
class ParsedCriterion:
    """A criterion (tiêu chí / tiêu chí thành phần / nội dung) and its tasks."""

    ordinal: str  # "1", "2", "1.1", "3.1" as written in the TT column
    code: str  # "TC 1.1" / "TCTP 3.3" / "" when absent
    name: str
    group_code: str  # code of the ParsedGroup it belongs to, "" if none
    tasks: list[ParsedTask]


@dataclass
class ParsedGroup:
    """A middle level (appendix 3: "1 Mức độ hài lòng…", appendix 4: "1 Chỉ số nội dung…")."""

    code: str
    title: str


@dataclass
class ParsedSection:
    """A field of reform ("I CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"), or an implicit one (code "")."""

    code: str  # "I", "II", ... or "" (implicit)
    title: str
    groups: list[ParsedGroup]
    criteria: list[ParsedCriterion]


@dataclass
class ParsedAppendix:
    """One appendix (Phụ lục) and its table."""

    number: int  # 1..4
    index: str  # "par" | "sipas" | "papi" | "other"
    title: str
    columns: list[str]  # header cells as written
    sections: list[ParsedSection]

    @property
    def tasks(self) -> list[ParsedTask]:
        """Every task of the appendix, in table order."""
        return [t for s in self.sections for c in s.criteria for t in c.tasks]


@dataclass
class ParsedPlan:
    """The whole upload."""

    appendices: list[ParsedAppendix]

    @property
    def tasks(self) -> list[ParsedTask]:
        """Every task of every appendix, in document order."""
        return [t for a in self.appendices for t in a.tasks]

    @property
    def unresolved(self) -> list[tuple[int, str]]:
        """(row, fragment) for every unit name that matched no unit."""
        return [(t.row, fragment) for t in self.tasks for fragment in t.unresolved]


# ---------------------------------------------------------------------------
# Shared table interpretation (both formats end up here)

_ROMAN = re.compile(r"[IVXLC]{1,7}")
_ORDINAL = re.compile(r"\d{1,3}(?:\.\d{1,3}){0,3}")
_COLUMN_NUMBER = re.compile(r"\(?\d{1,2}\)?")
_CRITERION_CODE = re.compile(r"^(TCTP|TC)\s*(\d{1,2}(?:\.\d{1,2}){0,3})\s*[.:]?\s*", re.IGNORECASE)
_HEADING = re.compile(r"^\s*phụ\s+lục\s+(\d{1,2}|[IVX]{1,5})\b\s*[.:]?\s*(.*)$", re.IGNORECASE)
_ATTACHED_TO = re.compile(r"\(\s*kèm\s+theo[^)]*\)?", re.IGNORECASE)
_YEAR = re.compile(r"(?:trong )?nam (\d{4})\.?")


def _ordinal(text: str) -> str:
    """The TT cell as written, without a trailing dot ("1." → "1")."""
    return _fold(text).rstrip(".").strip()


def _is_tt(text: str) -> bool:
    value = _ordinal(text)
    return bool(value) and bool(_ROMAN.fullmatch(value) or _ORDINAL.fullmatch(value))


def _is_group(tt: str, next_tt: str | None) -> bool:
    """An integer row is a group when the next numbered row is one of its children
    ("1" then "1.1"); otherwise ("1" then "2") it is a criterion."""
    return (
        bool(_ORDINAL.fullmatch(tt))
        and "." not in tt
        and next_tt is not None
        and "." in next_tt
        and next_tt.split(".")[0] == tt
    )


def _timeline(text: str) -> tuple[str, datetime.date | None]:
    """Kind and due date of a timeline cell (case and diacritics ignored)."""
    if not text:
        return "none", None
    key = _key(text)
    if key.startswith("thuong xuyen"):
        return "ongoing", None
    m = _YEAR.fullmatch(key)
    if m and 1900 <= int(m.group(1)) <= 2200:
        return "year", datetime.date(int(m.group(1)), 12, 31)
    if key.startswith("khi tham muu"):
        return "policy", None
    return "other", None


def _index_of(title: str) -> str:
    key = _key(title)
    if "sipas" in key:
        return "sipas"
    if "papi" in key:
        return "papi"
    if "chi so cchc" in key or "chi so cai cach hanh chinh" in key or "par index" in key:
        return "par"
    return "other"


def _title(lines: Iterable[str]) -> str:
    return _fold(_ATTACHED_TO.sub(" ", " ".join(lines)))


def _column_roles(columns: Sequence[str], number: int, row: int | None) -> dict[str, int]:
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
        key = _key(columns[idx])
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
class _Row:
    """A table row with exactly one text per column (raw text, line breaks kept)."""

    cells: list[str]
    row: int
    merged: set[int] = field(default_factory=set)  # columns read from a vertically merged cell


@dataclass
class _TableSource:
    number: int
    title: str
    columns: list[str]
    rows: list[_Row]
    row: int | None  # where the appendix starts, for messages


class _Builder:
    """Turns normalised rows into sections, groups, criteria and tasks.

    ``infer_merges`` is the text-format rule: there is no merge information, so an
    empty task cell directly under a filled one (no section or group row between)
    takes the value above and is marked inherited. In the .docx the rows arrive with
    ``merged`` already set from ``w:vMerge``.
    """

    def __init__(self, source: _TableSource, units: UnitDirectory, *, infer_merges: bool) -> None:
        self.source = source
        self.units = units
        self.infer_merges = infer_merges
        self.roles = _column_roles(source.columns, source.number, source.row)

    def build(self) -> ParsedAppendix:
        src = self.source
        n = len(src.columns)
        sections: list[ParsedSection] = []
        section: ParsedSection | None = None
        group_code = ""
        criterion: ParsedCriterion | None = None
        above: dict[str, str] | None = None  # field values of the task row above, same block

        tts = [_ordinal(r.cells[0]) for r in src.rows]
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
            name = _fold(cells[1])
            rest = [_fold(c) for c in cells[2:]]
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
            if _ROMAN.fullmatch(tt) or _is_group(tt, next_tts[i]):
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
                if _ROMAN.fullmatch(tt):
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
        row: _Row,
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
        timeline_text = _fold(values["timeline"])
        kind, due = _timeline(timeline_text)
        unresolved: list[str] = []
        for fragment in (*lead_unresolved, *partner_unresolved):
            if fragment not in unresolved:
                unresolved.append(fragment)
        criterion.tasks.append(
            ParsedTask(
                order=len(criterion.tasks) + 1,
                target=_fold_keep_bullets(values["target"]),
                task=_fold_keep_bullets(values["task"]),
                lead_text=_fold(values["lead"]),
                lead_units=list(lead_units),
                partner_text=_fold(values["partners"]),
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


def _plan(sources: list[_TableSource], units: UnitDirectory, *, infer_merges: bool) -> ParsedPlan:
    if not sources:
        raise PlanParseError(
            "Không tìm thấy phụ lục nào trong tệp: cần có tiêu đề “Phụ lục 1.”, “Phụ lục 2.”… "
            "và bảng có cột “TT” ngay sau đó."
        )
    return ParsedPlan(appendices=[_Builder(s, units, infer_merges=infer_merges).build() for s in sources])


def _heading(text: str) -> tuple[int, str] | None:
    """(appendix number, rest of the heading line) when a line reads "Phụ lục N."."""
    m = _HEADING.match(_fold(text))
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


def _is_header_cell(text: str) -> bool:
    return _key(text) in ("tt", "stt")


# ---------------------------------------------------------------------------
# Text format


@dataclass
class _Cell:
    lines: list[str]
    line: int  # line where the cell starts

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @cached_property
    def folded(self) -> str:
        return _fold(self.text)

    @property
    def content_line(self) -> int:
        for offset, line in enumerate(self.lines):
            if line.strip():
                return self.line + offset
        return self.line


def _decode(data: bytes) -> str:
    if len(data) > MAX_UPLOAD_BYTES:
        raise PlanParseError("Tệp quá lớn: giới hạn là 10 MB.")
    if not data.strip():
        raise PlanParseError("Tệp rỗng.")
    if data.startswith(_ZIP_MAGICS):
        raise PlanParseError("Tệp này là tệp nén (như .docx), không phải văn bản thuần (.txt).")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise PlanParseError("Tệp đang ở mã UTF-16; hãy lưu lại văn bản với mã UTF-8 rồi tải lên lại.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanParseError(
            "Tệp không phải văn bản UTF-8. Hãy lưu lại văn bản với mã UTF-8 rồi tải lên lại.",
            row=line,
            text=data[max(0, exc.start - 20) : exc.start + 20].decode("utf-8", "replace"),
        ) from exc
    if "\x00" in text:
        raise PlanParseError("Tệp không phải văn bản UTF-8 (có ký tự NUL).")
    if not text.strip():
        raise PlanParseError("Tệp rỗng.")
    return text


def _text_cells(text: str) -> list[_Cell]:
    """Split the export into cells: a TAB at the start of a line opens a cell (several
    leading TABs open empty cells first); other lines continue the current cell.
    Lines before the first TAB form a cell of their own (the first heading)."""
    cells: list[_Cell] = []
    current: _Cell | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("\t"):
            rest = line.lstrip("\t")
            for _ in range(len(line) - len(rest) - 1):
                cells.append(_Cell([""], number))
            current = _Cell([rest], number)
            cells.append(current)
        elif current is None:
            current = _Cell([line], number)
            cells.append(current)
        else:
            current.lines.append(line)
    return cells


def _text_heading(cell: _Cell) -> tuple[int, list[str]] | None:
    """(number, title lines) when the cell's first non-empty line is "Phụ lục N."."""
    lines = [ln for ln in cell.lines if ln.strip()]
    if not lines:
        return None
    found = _heading(lines[0])
    if found is None:
        return None
    number, rest = found
    return number, [rest, *lines[1:]]


class _TextTable:
    """Rows of one appendix table in the text export."""

    def __init__(self, number: int, body: list[_Cell], columns: list[str], units: UnitDirectory) -> None:
        self.number = number
        self.body = body
        self.n = len(columns)
        self.units = units
        self.roles = _column_roles(columns, number, body[0].line if body else None)

    def rows(self) -> list[_Row]:
        body = self.body
        # A row starts at a TT cell ("I", "2", "3.1") followed by a non-empty name.
        anchors = [
            i
            for i in range(len(body) - 1)
            if _is_tt(body[i].folded) and body[i + 1].folded and not _is_tt(body[i + 1].folded)
        ]
        lead_in = body[: anchors[0]] if anchors else body
        for cell in lead_in:
            if cell.folded and not _COLUMN_NUMBER.fullmatch(cell.folded):
                raise PlanParseError(
                    f"Không hiểu nội dung ở đầu bảng của Phụ lục {self.number} (trước dòng có số thứ tự đầu tiên).",
                    row=cell.content_line,
                    text=cell.folded[:200],
                )
        rows: list[_Row] = []
        for k, start in enumerate(anchors):
            end = anchors[k + 1] if k + 1 < len(anchors) else len(body)
            span = body[start:end]
            tt = _ordinal(span[0].folded)
            next_tt = _ordinal(body[anchors[k + 1]].folded) if k + 1 < len(anchors) else None
            if _ROMAN.fullmatch(tt) or _is_group(tt, next_tt):
                extra = [c for c in span[2:] if c.folded]
                if extra:
                    raise PlanParseError(
                        f"Dòng “{tt} {span[1].folded}” là dòng mục/nhóm nhưng lại có nội dung ở các cột "
                        "nhiệm vụ; hãy kiểm tra lại số thứ tự hoặc tách nội dung thành tiêu chí riêng.",
                        row=extra[0].content_line,
                        text=extra[0].folded[:200],
                    )
                rows.append(self._row([span[0], span[1]]))
            else:
                rows.extend(self._row(cells) for cells in self._align(span))
        return rows

    def _row(self, cells: list[_Cell | None]) -> _Row:
        texts = [c.text if c is not None else "" for c in cells]
        texts = (texts + [""] * self.n)[: self.n]
        first = cells[0]
        line = first.content_line if first is not None else 0
        if first is not None and not first.folded:
            line = first.line
        return _Row(cells=texts, row=line)

    def _score(self, cell: _Cell, col: int) -> float:
        """How plausible the cell is in that column (used to place stray empty cells)."""
        text = cell.folded
        if not text:
            return 0.0
        if col in (self.roles["lead"], self.roles["partners"]):
            names, unresolved = self.units.resolve(cell.text)
            if names and not unresolved:
                return 3.0
            return 1.0 if names else -3.0
        if col == self.roles["timeline"]:
            kind, _ = _timeline(text)
            if kind != "other":
                return 2.0
            return -2.0 if len(text) > 60 else 0.0
        names, unresolved = self.units.resolve(cell.text)
        if names and not unresolved and len(text) < 60:
            return -2.0  # a bare unit name in the target/task column is misplaced
        return 0.0

    def _drop_strays(self, rest: list[_Cell], extra: int) -> list[_Cell]:
        """Drop exactly ``extra`` empty cells, choosing the best-scoring placement."""
        n, m, size = self.n, self.n - 2, len(rest)
        scores: dict[tuple[int, int], float] = {}

        def score(i: int, col: int) -> float:
            if (i, col) not in scores:
                scores[(i, col)] = self._score(rest[i], col)
            return scores[(i, col)]

        neg = float("-inf")
        # best[i][d]: best score for rest[i:] when d cells were dropped before i
        best = [[neg] * (extra + 1) for _ in range(size + 1)]
        choice = [[False] * (extra + 1) for _ in range(size + 1)]
        best[size][extra] = 0.0
        for i in range(size - 1, -1, -1):
            for d in range(min(i, extra) + 1):
                kept = i - d
                col = 2 + kept if kept < m else (kept - m) % n
                keep = neg
                if best[i + 1][d] != neg and not (col in (0, 1) and rest[i].folded):
                    # (a follow-up row must have an empty TT and name)
                    keep = best[i + 1][d] + score(i, col)
                drop = neg
                if d < extra and not rest[i].folded and best[i + 1][d + 1] != neg:
                    drop = best[i + 1][d + 1] - 0.001 * (size - i)  # prefer dropping late strays
                best[i][d], choice[i][d] = (drop, True) if drop > keep else (keep, False)
        if best[0][0] == neg:
            return list(rest)  # no consistent layout: keep everything as it is
        kept_cells: list[_Cell] = []
        d = 0
        for i in range(size):
            if choice[i][d]:
                d += 1
            else:
                kept_cells.append(rest[i])
        return kept_cells

    def _align(self, span: list[_Cell]) -> list[list[_Cell | None]]:
        """Split a criterion's cells into its row and its follow-up task rows.

        Expected layout: TT, name, then ``n - 2`` field cells; each further task of the
        criterion is a full row whose TT and name are empty. Word's export sometimes
        adds empty cells, so exactly as many empty cells as the layout leaves over are
        dropped, choosing (by dynamic programming) the placement where unit names
        land in unit columns and timelines in the timeline column.
        """
        n, m = self.n, self.n - 2
        rest = span[2:]
        extra = (len(rest) - m) % n if len(rest) >= m else 0
        if extra > sum(1 for c in rest if not c.folded):
            extra = 0  # cells are missing rather than added: pad the end instead
        if not extra:
            kept_cells = list(rest)
        elif len(rest) > _MAX_ALIGN_CELLS:
            # Not a plausible criterion any more: keep the work bounded and drop the
            # last empty cells instead of searching.
            empty = [i for i in range(len(rest) - 1, -1, -1) if not rest[i].folded][:extra]
            kept_cells = [c for i, c in enumerate(rest) if i not in set(empty)]
        else:
            kept_cells = self._drop_strays(rest, extra)
        rows: list[list[_Cell | None]] = [[span[0], span[1], *kept_cells[:m]]]
        remaining = kept_cells[m:]
        for j in range(0, len(remaining), n):
            chunk: list[_Cell | None] = list(remaining[j : j + n])
            cells_with_text = [c for c in chunk if c is not None and c.folded]
            if not cells_with_text:
                continue  # only stray empty cells
            rows.append(chunk)
        return rows


def _text_sources(text: str, units: UnitDirectory) -> list[_TableSource]:
    cells = _text_cells(text)
    starts: list[tuple[int, int, list[str]]] = []
    for i, cell in enumerate(cells):
        found = _text_heading(cell)
        if found:
            starts.append((i, *found))
    sources: list[_TableSource] = []
    for k, (start, number, title_lines) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(cells)
        segment = cells[start + 1 : end]
        head_line = cells[start].content_line
        header_at = next((i for i, c in enumerate(segment) if _is_header_cell(c.folded)), None)
        if header_at is None:
            raise PlanParseError(
                f"Phụ lục {number}: không tìm thấy bảng (dòng tiêu đề có cột “TT”).",
                row=head_line,
                text=_fold(" ".join(title_lines))[:200],
            )
        # Anything written between the heading and the table continues the title.
        title = _title([*title_lines, *(c.folded for c in segment[:header_at] if c.folded)])
        after = segment[header_at:]
        # The header row runs from "TT" to the first empty cell or the first numbered row.
        header_end = 1
        while (
            header_end < len(after)
            and after[header_end].folded
            and not (
                _is_tt(after[header_end].folded)
                and header_end + 1 < len(after)
                and after[header_end + 1].folded
                and not _is_tt(after[header_end + 1].folded)
            )
        ):
            header_end += 1
        columns = [c.folded for c in after[:header_end]]
        body = after[header_end:]
        while body and not body[-1].folded:
            body.pop()
        table = _TextTable(number, body, columns, units)
        sources.append(
            _TableSource(number=number, title=title, columns=columns, rows=table.rows(), row=head_line)
        )
    return sources


MAX_TEXT_LINES = 20_000


def parse_text(data: bytes, units: UnitDirectory) -> ParsedPlan:
    """Parse the tab-separated text export (UTF-8, BOM allowed).

    Raises ``PlanParseError`` for an empty, oversized, non-UTF-8 or UTF-16 file and
    for a file without any appendix.
    """
    text = _decode(data)
    # A plan's four appendices take about a thousand lines; a cap keeps a crafted file of
    # tiny rows from costing seconds and hundreds of MB before it is found out.
    lines = text.count("\n") + 1
    if lines > MAX_TEXT_LINES:
        raise PlanParseError(
            f"Tệp có {lines:,} dòng, vượt giới hạn {MAX_TEXT_LINES:,} dòng của một kế hoạch.".replace(
                ",", "."
            )
        )
    try:
        text = _BOOKMARK.sub("", _clean(text))
        return _plan(_text_sources(text, units), units, infer_merges=True)
    except PlanParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but PlanParseError escapes
        raise PlanParseError(
            "Không đọc được nội dung tệp văn bản: cấu trúc bảng không như mong đợi."
        ) from exc


# ---------------------------------------------------------------------------
# .docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_WRAPPERS = {_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "smartTag"}
# Subtrees whose text is not part of the cell: text boxes and the duplicate
# "Fallback" copy of drawings (their text would otherwise be read twice).
_SKIP = {_W + "txbxContent", _MC_FALLBACK, _W + "drawing", _W + "pict", _W + "object"}


def _children(element: Element, tag: str) -> Iterator[Element]:
    """Direct children with ``tag``, looking through content-control wrappers."""
    stack = list(reversed(list(element)))
    while stack:
        child = stack.pop()
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            stack.extend(reversed(list(child)))


def _paragraph_text(paragraph: Element) -> str:
    parts: list[str] = []
    stack = list(reversed(list(paragraph)))
    while stack:
        el = stack.pop()
        tag = el.tag
        if tag in _SKIP:
            continue
        if tag == _W + "t":
            parts.append(el.text or "")
        elif tag == _W + "tab":
            parts.append(" ")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif tag == _W + "noBreakHyphen":
            parts.append("-")
        else:
            stack.extend(reversed(list(el)))
    return "".join(parts)


def _cell_text(cell: Element) -> str:
    """Paragraphs of a cell (nested tables included) joined by line breaks."""
    paragraphs: list[str] = []
    stack = list(reversed(list(cell)))
    while stack:
        el = stack.pop()
        if el.tag in _SKIP or el.tag == _W + "tcPr":
            continue
        if el.tag == _W + "p":
            paragraphs.append(_paragraph_text(el))
        else:
            stack.extend(reversed(list(el)))
    return _clean("\n".join(paragraphs))


def _int_attr(element: Element | None, default: int, low: int, high: int) -> int:
    if element is None:
        return default
    try:
        value = int(element.get(_W + "val", default))
    except ValueError:
        return default
    return max(low, min(high, value))


@dataclass
class _DocxCell:
    start: int  # first grid column
    span: int
    text: str
    continued: bool  # w:vMerge without "restart": the cell continues the one above


def _docx_rows(table: Element) -> list[tuple[int, list[_DocxCell]]]:
    """(1-based row number, cells) with vertically merged cells filled from above."""
    out: list[tuple[int, list[_DocxCell]]] = []
    above: dict[int, str] = {}
    for number, tr in enumerate(_children(table, _W + "tr"), start=1):
        tr_pr = tr.find(_W + "trPr")
        col = _int_attr(tr_pr.find(_W + "gridBefore") if tr_pr is not None else None, 0, 0, 63)
        cells: list[_DocxCell] = []
        current: dict[int, str] = {}
        for tc in _children(tr, _W + "tc"):
            tc_pr = tc.find(_W + "tcPr")
            span = _int_attr(tc_pr.find(_W + "gridSpan") if tc_pr is not None else None, 1, 1, 64)
            v_merge = tc_pr.find(_W + "vMerge") if tc_pr is not None else None
            continued = v_merge is not None and v_merge.get(_W + "val", "continue") != "restart"
            text = above.get(col, "") if continued else _cell_text(tc)
            for g in range(col, col + span):
                current[g] = text
            cells.append(_DocxCell(start=col, span=span, text=text, continued=continued))
            col += span
        above = current
        out.append((number, cells))
    return out


def _zip_entry_count(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile
    builds its (possibly huge) list of entries."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if at < 0 or at + 22 > len(data):
        return None
    (total,) = struct.unpack_from("<H", data, at + 10)
    return int(total)


def open_checked_zip(
    data: bytes,
    *,
    label: str,
    not_zip: str,
    max_entries: int,
    max_total: int,
    max_part: int,
    ratio_from: int,
    max_ratio: int = _MAX_RATIO,
) -> zipfile.ZipFile:
    """An Office container, checked before any entry is decompressed: the upload limit, the
    ZIP signature, the entry count (from the central directory, before zipfile lists it),
    the declared sizes and the compression ratio. ``label`` names the kind in messages."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PlanParseError("Tệp quá lớn: giới hạn là 10 MB.")
    if not data.startswith(_ZIP_MAGICS):
        raise PlanParseError(not_zip)
    count = _zip_entry_count(data)
    if count is None:
        raise PlanParseError(f"Tệp {label} bị hỏng hoặc không trọn vẹn (thiếu phần cuối của tệp nén).")
    too_many = f"Tệp {label} chứa quá nhiều thành phần; không xử lý vì lý do an toàn."
    if count > max_entries:
        raise PlanParseError(too_many)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as exc:
        raise PlanParseError(f"Tệp {label} bị hỏng hoặc không trọn vẹn.") from exc
    infos = archive.infolist()
    if len(infos) > max_entries:
        archive.close()
        raise PlanParseError(too_many)
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if (
            total > max_total
            or info.file_size > max_part
            or (info.file_size > ratio_from and ratio > max_ratio)
        ):
            archive.close()
            raise PlanParseError(
                f"Tệp {label} có dấu hiệu “bom nén” (dung lượng giải nén bất thường); không xử lý vì lý do an toàn."
            )
    return archive


def _read_document_xml(data: bytes) -> bytes:
    """The main document part, after the container checks."""
    archive = open_checked_zip(
        data,
        label=".docx",
        not_zip="Tệp không phải tài liệu Word .docx (không phải tệp nén ZIP).",
        max_entries=_MAX_ZIP_ENTRIES,
        max_total=_MAX_TOTAL_UNCOMPRESSED,
        max_part=_MAX_TOTAL_UNCOMPRESSED,
        ratio_from=_RATIO_CHECK_FROM,
    )
    with archive:
        try:
            info = archive.getinfo(_DOCUMENT_PART)
        except KeyError as exc:
            raise PlanParseError(
                "Tệp không phải tài liệu Word hợp lệ: thiếu phần nội dung chính (word/document.xml)."
            ) from exc
        if info.file_size > _MAX_DOCUMENT_XML:
            raise PlanParseError("Nội dung tài liệu Word quá lớn; không xử lý vì lý do an toàn.")
        try:
            with archive.open(info) as handle:
                # zipfile stops at the declared size (and checks the CRC), so a lying
                # header cannot make this read more than the limit.
                xml = handle.read(_MAX_DOCUMENT_XML + 1)
        except RuntimeError as exc:  # encrypted entry
            raise PlanParseError("Tệp .docx được đặt mật khẩu; hãy bỏ mật khẩu rồi tải lên lại.") from exc
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError, ValueError) as exc:
            raise PlanParseError("Tệp .docx bị hỏng hoặc không trọn vẹn.") from exc
    if len(xml) > _MAX_DOCUMENT_XML:
        raise PlanParseError("Nội dung tài liệu Word quá lớn; không xử lý vì lý do an toàn.")
    return xml


def _docx_root(xml: bytes) -> Element:
    try:
        # forbid_dtd: a WordprocessingML part never needs a DTD, and refusing it also
        # refuses every entity trick (billion laughs, external entities).
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise PlanParseError(
            "Tệp .docx chứa khai báo DTD/thực thể XML — không được phép vì lý do an toàn."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise PlanParseError("Nội dung tài liệu Word (word/document.xml) bị hỏng.") from exc
    if root.tag != _W + "document" or root.find(_W + "body") is None:
        raise PlanParseError("Tệp .docx không có nội dung văn bản Word (w:document/w:body).")
    return root


def _docx_sources(root: Element) -> list[_TableSource]:
    body = root.find(_W + "body")
    if body is None:  # pragma: no cover - checked by _docx_root
        return []
    sources: list[_TableSource] = []
    pending: tuple[int, list[str]] | None = None  # heading seen, table not yet
    current: _TableSource | None = None
    layout: list[tuple[int, int]] = []  # (grid start, span) of the current header's cells
    for element in _children_any(body):
        if element.tag == _W + "p":
            text = _clean(_paragraph_text(element))
            lines = text.split("\n")
            found = _heading(lines[0]) if text.strip() else None
            if found:
                _require_table(pending)
                pending = (found[0], [found[1], *lines[1:]])
                current = None
            elif pending is not None and text.strip():
                pending[1].append(text)
            continue
        rows = _docx_rows(element)  # a table
        if pending is not None:
            number, title_lines = pending
            header_at = next(
                (i for i, (_, cells) in enumerate(rows) if cells and _is_header_cell(cells[0].text)), None
            )
            if header_at is None:
                raise PlanParseError(
                    f"Phụ lục {number}: bảng ngay sau tiêu đề không có dòng tiêu đề với cột “TT”.",
                    text=_title(title_lines)[:200],
                )
            header = rows[header_at][1]
            layout = [(c.start, c.span) for c in header]
            current = _TableSource(
                number=number,
                title=_title(title_lines),
                columns=[_fold(c.text) for c in header],
                rows=_docx_logical_rows(rows[header_at + 1 :], layout),
                row=rows[header_at][0],
            )
            sources.append(current)
            pending = None
        elif current is not None:
            # Word sometimes splits one table in two; a repeated header row is skipped.
            skip = 1 if rows and rows[0][1] and _is_header_cell(rows[0][1][0].text) else 0
            current.rows.extend(_docx_logical_rows(rows[skip:], layout))
    _require_table(pending)
    return sources


def _require_table(pending: tuple[int, list[str]] | None) -> None:
    """A heading whose table never came is an error, as in the text format."""
    if pending is not None:
        raise PlanParseError(
            f"Phụ lục {pending[0]}: không tìm thấy bảng (dòng tiêu đề có cột “TT”).",
            text=_title(pending[1])[:200],
        )


def _children_any(body: Element) -> Iterator[Element]:
    """Paragraphs and tables of the body, in order, through content-control wrappers."""
    stack = list(reversed(list(body)))
    while stack:
        child = stack.pop()
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag in _WRAPPERS:
            stack.extend(reversed(list(child)))


def _docx_logical_rows(rows: list[tuple[int, list[_DocxCell]]], layout: list[tuple[int, int]]) -> list[_Row]:
    """Map grid cells onto the header's columns."""
    n = len(layout)

    def column_of(grid_col: int) -> int | None:
        for j, (start, span) in enumerate(layout):
            if start <= grid_col < start + span:
                return j
        return None

    out: list[_Row] = []
    for number, cells in rows:
        texts = [""] * n
        merged: set[int] = set()
        for cell in cells:
            j = column_of(cell.start)
            if j is None:
                continue
            texts[j] = f"{texts[j]}\n{cell.text}" if texts[j] else cell.text
            if cell.continued and cell.text.strip():
                merged.add(j)
        filled = [_fold(t) for t in texts if _fold(t)]
        if len(filled) >= n - 1 and all(_COLUMN_NUMBER.fullmatch(t) for t in filled):
            continue  # a "(1) (2) (3)…" column-number row under the header
        if 0 in merged:
            # TT (and usually the criterion) merged from above: a further task of the
            # criterion above, written like the text format's empty TT and name.
            texts[0] = ""
            merged.discard(0)
            if 1 in merged:
                texts[1] = ""
                merged.discard(1)
        out.append(_Row(cells=texts, row=number, merged=merged))
    return out


def parse_docx(data: bytes, units: UnitDirectory) -> ParsedPlan:
    """Parse a Word .docx holding the appendices (headings as paragraphs, then tables).

    The zip container is checked (size, entry count, declared sizes, compression
    ratio) before anything is decompressed, and ``word/document.xml`` is parsed with
    DTDs and entities forbidden. Any problem becomes ``PlanParseError``.
    """
    try:
        root = _docx_root(_read_document_xml(data))
        return _plan(_docx_sources(root), units, infer_merges=False)
    except PlanParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but PlanParseError escapes
        raise PlanParseError("Không đọc được tệp .docx: tệp bị hỏng hoặc không đúng định dạng.") from exc


# ---------------------------------------------------------------------------
# Dispatch


def parse_plan_file(name: str, data: bytes, units: UnitDirectory) -> ParsedPlan:
    """Parse an upload by its content (zip → .docx, otherwise text), refusing a name
    whose extension contradicts the content and any extension but .txt/.docx."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    suffix = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PlanParseError("Tệp quá lớn: giới hạn là 10 MB.")
    if suffix == "xlsx":
        raise PlanParseError("Định dạng .xlsx chưa được hỗ trợ ở bước này.")
    if suffix not in ("txt", "docx"):
        raise PlanParseError("Chỉ nhận tệp .txt hoặc .docx.", text=base)
    is_zip = data.startswith(_ZIP_MAGICS)
    if suffix == "docx" and not is_zip:
        raise PlanParseError(
            "Tệp có đuôi .docx nhưng nội dung không phải tài liệu Word; hãy kiểm tra lại tệp.", text=base
        )
    if suffix == "txt" and is_zip:
        raise PlanParseError(
            "Tệp có đuôi .txt nhưng nội dung là tệp nén (có thể là .docx); hãy đổi đúng đuôi tệp.", text=base
        )
    return parse_docx(data, units) if is_zip else parse_text(data, units)

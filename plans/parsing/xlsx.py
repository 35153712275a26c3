"""An Excel workbook (.xlsx) with one appendix table per sheet (the layout ``plans.xlsx`` writes).

The reader never hands the file to a general-purpose library: the zip container is
checked first (size, entry count, declared sizes, compression ratio), then each sheet's
XML is streamed with defusedxml (no DTD, no entities), its declared ``<dimension>`` and
its actual rows and columns held to ``MAX_ROWS`` x ``MAX_COLUMNS``. The rows then go
through the same table builder as the .docx, so the rules (merged cells, follow-up tasks,
unit names through ``UnitDirectory.resolve``) are the same for every format.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml

from plans.parsing.container import XmlBudget, open_checked_zip
from plans.parsing.errors import PlanParseError
from plans.parsing.normalize import fold_spaces
from plans.parsing.tables import (
    COLUMN_NUMBER,
    Row,
    TableSource,
    appendix_title,
    build_plan,
    find_heading,
    is_header_cell,
)
from plans.parsing.tree import ParsedPlan
from plans.parsing.units import UnitDirectory

__all__ = ["INHERITED_FILL", "MAX_COLUMNS", "MAX_ROWS", "MAX_XML_ELEMENTS", "parse_xlsx"]

MAX_ROWS = 5000
MAX_COLUMNS = 30
MAX_SHEETS = 50
_MAX_ZIP_ENTRIES = 500
_MAX_PART = 16 * 1024 * 1024  # one sheet or the shared strings, uncompressed
_MAX_SMALL_PART = 2 * 1024 * 1024  # workbook, relationships, styles
_MAX_TOTAL_UNCOMPRESSED = 40 * 1024 * 1024
_MAX_RATIO = 100  # uncompressed : compressed, for entries above _RATIO_CHECK_FROM
_RATIO_CHECK_FROM = 256 * 1024
_MAX_SHARED_STRINGS = MAX_ROWS * MAX_COLUMNS
_MAX_CELL_CHARS = 32767  # Excel's own limit for a cell
_MAX_MERGES = 20000
# Elements of every XML part together: a full sheet (MAX_ROWS x MAX_COLUMNS cells of two or
# three elements) and its shared strings fit; 30 MB of tiny elements do not.
MAX_XML_ELEMENTS = 1_000_000

INHERITED_FILL = "FFF3CD"  # pale yellow: "taken from the merged cell above" (written by plans.xlsx)


# ---------------------------------------------------------------------------
# Reading: the container


def _local(tag: str) -> str:
    """The tag without its namespace (transitional and strict OOXML use different ones)."""
    return tag.rsplit("}", 1)[-1]


class _Container:
    """The zip, checked before any entry is decompressed; parts read within their limits."""

    def __init__(self, data: bytes) -> None:
        self.budget = XmlBudget(".xlsx", MAX_XML_ELEMENTS)
        self.archive = open_checked_zip(
            data,
            label=".xlsx",
            not_zip="Tệp không phải bảng tính Excel .xlsx (nội dung không phải tệp nén ZIP).",
            max_entries=_MAX_ZIP_ENTRIES,
            max_total=_MAX_TOTAL_UNCOMPRESSED,
            max_part=_MAX_PART,
            ratio_from=_RATIO_CHECK_FROM,
            max_ratio=_MAX_RATIO,
        )
        infos = self.archive.infolist()
        self.names = {info.filename for info in infos}
        if "xl/workbook.xml" not in self.names:
            if "word/document.xml" in self.names:
                raise PlanParseError(
                    "Tệp này là tài liệu Word (.docx), không phải bảng tính .xlsx; hãy đổi đúng đuôi tệp."
                )
            raise PlanParseError("Tệp không phải bảng tính Excel hợp lệ: thiếu phần xl/workbook.xml.")

    def open(self, name: str) -> IO[bytes]:
        try:
            return self.archive.open(name)
        except KeyError as exc:
            raise PlanParseError(f"Tệp .xlsx thiếu thành phần {name}.") from exc
        except RuntimeError as exc:  # encrypted entry
            raise PlanParseError("Tệp .xlsx được đặt mật khẩu; hãy bỏ mật khẩu rồi tải lên lại.") from exc
        except (zipfile.BadZipFile, NotImplementedError, ValueError) as exc:
            raise PlanParseError("Tệp .xlsx bị hỏng hoặc không trọn vẹn.") from exc

    def read(self, name: str, limit: int = _MAX_SMALL_PART) -> bytes:
        if self.archive.getinfo(name).file_size > limit:
            raise PlanParseError(f"Thành phần {name} của tệp .xlsx quá lớn; không xử lý vì lý do an toàn.")
        with self.open(name) as handle:
            # zipfile stops at the declared size and checks the CRC: a lying header cannot
            # make this read more than the limit.
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise PlanParseError(f"Thành phần {name} của tệp .xlsx quá lớn; không xử lý vì lý do an toàn.")
        return data


def _xml(container: _Container, data: bytes, part: str) -> Element:
    """A small part (workbook, relationships, styles) as a tree."""
    try:
        return container.budget.tree(data)
    except PlanParseError:
        raise
    except defusedxml.DefusedXmlException as exc:
        raise PlanParseError(
            "Tệp .xlsx chứa khai báo DTD/thực thể XML — không được phép vì lý do an toàn."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise PlanParseError(f"Nội dung bảng tính ({part}) bị hỏng.") from exc


def _iterparse(container: _Container, handle: IO[bytes], part: str) -> Iterator[tuple[str, Element]]:
    """A large part (a sheet, the shared strings), streamed and counted."""
    try:
        yield from container.budget.iterparse(handle, handle.name)
    except PlanParseError:
        raise
    except defusedxml.DefusedXmlException as exc:
        raise PlanParseError(
            "Tệp .xlsx chứa khai báo DTD/thực thể XML — không được phép vì lý do an toàn."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise PlanParseError(f"Nội dung bảng tính ({part}) bị hỏng.") from exc
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise PlanParseError("Tệp .xlsx bị hỏng hoặc không trọn vẹn.") from exc


def _part_path(base: str, target: str) -> str:
    """A relationship target, relative to the part's folder or absolute from the root."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = list(PurePosixPath(base).parent.parts)
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


@dataclass
class _Sheet:
    name: str
    part: str


def _workbook(container: _Container) -> tuple[list[_Sheet], str | None, str | None]:
    """(sheets in order, shared strings part, styles part)."""
    rels: dict[str, tuple[str, str]] = {}
    if "xl/_rels/workbook.xml.rels" in container.names:
        for rel in _xml(container, container.read("xl/_rels/workbook.xml.rels"), "workbook.xml.rels").iter():
            if _local(rel.tag) == "Relationship" and rel.get("Id") and rel.get("Target"):
                if rel.get("TargetMode") == "External":
                    continue
                rels[rel.get("Id", "")] = (
                    rel.get("Type", "").rsplit("/", 1)[-1],
                    _part_path("xl/workbook.xml", rel.get("Target", "")),
                )
    sheets: list[_Sheet] = []
    for element in _xml(container, container.read("xl/workbook.xml"), "workbook.xml").iter():
        if _local(element.tag) != "sheet":
            continue
        rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
        kind, part = rels.get(rid, ("", ""))
        if kind == "worksheet" and part in container.names:
            sheets.append(_Sheet(name=element.get("name", ""), part=part))
        if len(sheets) > MAX_SHEETS:
            raise PlanParseError(f"Bảng tính có quá nhiều trang (tối đa {MAX_SHEETS}).")
    if not sheets:
        raise PlanParseError("Bảng tính không có trang dữ liệu nào.")

    def related(kind: str, default: str) -> str | None:
        part = next((p for k, p in rels.values() if k == kind), default)
        return part if part in container.names else None

    return sheets, related("sharedStrings", "xl/sharedStrings.xml"), related("styles", "xl/styles.xml")


_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    """OOXML writes some characters as _xHHHH_ (a carriage return as _x000D_)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _string_item(element: Element) -> str:
    """The text of an <si> or <is>: its <t>, or the <t> of its runs; phonetic runs skipped."""
    parts: list[str] = []
    for child in element:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    text = _unescape("".join(parts))
    if len(text) > _MAX_CELL_CHARS:
        raise PlanParseError("Bảng tính có ô chứa văn bản quá dài; không xử lý vì lý do an toàn.")
    return text


def _shared_strings(container: _Container, part: str | None) -> list[str]:
    if part is None:
        return []
    strings: list[str] = []
    with container.open(part) as handle:
        for event, element in _iterparse(container, handle, "sharedStrings.xml"):
            if event == "end" and _local(element.tag) == "si":
                strings.append(_string_item(element))
                element.clear()
                if len(strings) > _MAX_SHARED_STRINGS:
                    raise PlanParseError("Bảng tính có quá nhiều ô văn bản; không xử lý vì lý do an toàn.")
    return strings


def _inherited_styles(container: _Container, part: str | None) -> set[int]:
    """Indexes of the cell formats filled with ``INHERITED_FILL``."""
    if part is None:
        return set()
    root = _xml(container, container.read(part), "styles.xml")
    marked: list[bool] = []
    formats: list[int] = []
    for section in root:
        name = _local(section.tag)
        if name == "fills":
            for fill in section:
                colours = [
                    (c.get("rgb") or "").upper()
                    for c in fill.iter()
                    if _local(c.tag) in ("fgColor", "bgColor")
                ]
                solid = any(
                    (p.get("patternType") or "") == "solid"
                    for p in fill.iter()
                    if _local(p.tag) == "patternFill"
                )
                marked.append(solid and any(c.endswith(INHERITED_FILL) for c in colours))
        elif name == "cellXfs":
            for xf in section:
                try:
                    formats.append(int(xf.get("fillId", "0")))
                except ValueError:
                    formats.append(0)
    return {i for i, fill_id in enumerate(formats) if 0 <= fill_id < len(marked) and marked[fill_id]}


# ---------------------------------------------------------------------------
# Reading: one sheet, streamed

_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + (ord(ch) - 64)
    return index


def _cell_ref(ref: str) -> tuple[int, int] | None:
    """(row, column), 1-based, of "B12"; None when malformed."""
    m = _REF.match(ref.strip())
    return (int(m.group(2)), _column_index(m.group(1))) if m else None


def _range(ref: str) -> tuple[int, int, int, int] | None:
    """(first row, first column, last row, last column) of "A1:G500" or "A1"."""
    first, _, last = ref.partition(":")
    a = _cell_ref(first)
    b = _cell_ref(last) if last else a
    if a is None or b is None:
        return None
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def _too_big(sheet: str, *, rows: int = 0, columns: int = 0) -> PlanParseError:
    found = f"{rows} dòng" if rows > MAX_ROWS else f"{columns} cột"
    return PlanParseError(
        f"Trang “{sheet}” quá lớn ({found}); giới hạn là {MAX_ROWS} dòng và {MAX_COLUMNS} cột. "
        "Không xử lý vì lý do an toàn."
    )


def _number_text(value: str) -> str:
    """A numeric cell as the person typed it: "1", "2.1" (not "2.1000000000000001")."""
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return format(number, ".15g")


@dataclass
class _SheetData:
    name: str
    cells: dict[int, dict[int, str]] = field(default_factory=dict)  # row -> column -> text
    styled: set[tuple[int, int]] = field(default_factory=set)  # cells with the inherited fill
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    page_header: str = ""


def _read_sheet(
    container: _Container, sheet: _Sheet, strings: list[str], inherited_styles: set[int]
) -> _SheetData:
    out = _SheetData(name=sheet.name)
    row_number = column = cells_in_row = rows_seen = merged_area = 0
    with container.open(sheet.part) as handle:
        for event, element in _iterparse(container, handle, sheet.name):
            tag = _local(element.tag)
            if event == "start":
                if tag == "dimension":
                    # Declared before the data: a file claiming a million rows stops here.
                    bounds = _range(element.get("ref", ""))
                    if bounds is not None and (bounds[2] > MAX_ROWS or bounds[3] > MAX_COLUMNS):
                        raise _too_big(sheet.name, rows=bounds[2], columns=bounds[3])
                elif tag == "row":
                    rows_seen += 1
                    try:
                        row_number = int(element.get("r") or row_number + 1)
                    except ValueError as exc:
                        raise PlanParseError(f"Trang “{sheet.name}”: số dòng không hợp lệ.") from exc
                    if row_number > MAX_ROWS or rows_seen > MAX_ROWS or row_number < 1:
                        raise _too_big(sheet.name, rows=max(row_number, rows_seen))
                    column = cells_in_row = 0
                continue
            if tag == "c":
                ref = _cell_ref(element.get("r", "")) if element.get("r") else None
                column = ref[1] if ref else column + 1
                cells_in_row += 1
                if column > MAX_COLUMNS or cells_in_row > MAX_COLUMNS:
                    raise _too_big(sheet.name, columns=max(column, cells_in_row))
                text = _cell_value(element, strings, sheet.name)
                if text:
                    out.cells.setdefault(row_number, {})[column] = text
                style = element.get("s")
                if style and style.isdigit() and int(style) in inherited_styles:
                    out.styled.add((row_number, column))
                element.clear()
            elif tag == "row":
                element.clear()
            elif tag == "mergeCell":
                bounds = _range(element.get("ref", ""))
                if bounds is not None:
                    if bounds[2] > MAX_ROWS or bounds[3] > MAX_COLUMNS:
                        raise _too_big(sheet.name, rows=bounds[2], columns=bounds[3])
                    out.merges.append(bounds)
                    # Filling merged cells costs their area: bounded by the size of one sheet.
                    merged_area += (bounds[2] - bounds[0] + 1) * (bounds[3] - bounds[1] + 1)
                    if len(out.merges) > _MAX_MERGES or merged_area > MAX_ROWS * MAX_COLUMNS:
                        raise PlanParseError("Bảng tính có quá nhiều ô gộp; không xử lý vì lý do an toàn.")
                element.clear()
            elif tag == "oddHeader":
                out.page_header = _page_header_text(element.text or "")
            elif tag == "sheetData":
                element.clear()
    return out


def _cell_value(element: Element, strings: list[str], sheet: str) -> str:
    kind = element.get("t", "n")
    if kind == "inlineStr":
        inline = next((c for c in element if _local(c.tag) == "is"), None)
        return _string_item(inline) if inline is not None else ""
    value_el = next((c for c in element if _local(c.tag) == "v"), None)
    value = (value_el.text or "") if value_el is not None else ""
    if len(value) > _MAX_CELL_CHARS:
        raise PlanParseError("Bảng tính có ô chứa văn bản quá dài; không xử lý vì lý do an toàn.")
    if kind == "s":
        try:
            return strings[int(value)]
        except (ValueError, IndexError) as exc:
            raise PlanParseError(
                f"Trang “{sheet}”: ô {element.get('r', '')} trỏ tới văn bản không có."
            ) from exc
    if kind == "n":
        return _number_text(value) if value else ""
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind == "e":
        return ""
    return _unescape(value)  # "str" (formula result), "d" (ISO date)


_HEADER_CODE = re.compile(r'&(?:"[^"]*"|\d{1,3}|[A-Za-z])')


def _page_header_text(raw: str) -> str:
    """The centre section of a page header (or the whole of it), without formatting codes."""
    text = raw.replace("&&", "\x00")
    sections = re.split(r"&([LCR])", text)
    if len(sections) > 1:
        chosen = ""
        for i in range(1, len(sections), 2):
            if sections[i] == "C":
                chosen = sections[i + 1]
        text = chosen or " ".join(sections[0::2])
    return " ".join(_HEADER_CODE.sub("", text).replace("\x00", "&").split())


# ---------------------------------------------------------------------------
# Reading: rows -> the appendices' tables


def _grid(data: _SheetData) -> list[tuple[int, list[str], set[int]]]:
    """(row number, texts of columns 1..n, 0-based columns taken from a merged cell), in row order.

    A task cell covered by a vertical merge takes the merge's value and counts as
    inherited; TT and criterion cells do not (an empty TT and name is how a further task
    of the same criterion is written).
    """
    inherited: dict[int, set[int]] = {}
    for first_row, first_col, last_row, last_col in data.merges:
        if last_row == first_row:
            continue  # a heading merged across the row
        value = data.cells.get(first_row, {}).get(first_col, "")
        for row in range(first_row + 1, last_row + 1):
            for col in range(first_col, last_col + 1):
                if col > 2 and value:
                    data.cells.setdefault(row, {})[col] = value
                    inherited.setdefault(row, set()).add(col - 1)
    for row, col in data.styled:
        if col > 2 and data.cells.get(row, {}).get(col):
            inherited.setdefault(row, set()).add(col - 1)
    width = max((max(cols) for cols in data.cells.values() if cols), default=0)
    return [
        (row, [data.cells[row].get(col, "") for col in range(1, width + 1)], inherited.get(row, set()))
        for row in sorted(data.cells)
    ]


def _sources(sheets: list[_SheetData]) -> list[TableSource]:
    sources: list[TableSource] = []
    for position, data in enumerate(sheets, start=1):
        pending: tuple[int, list[str]] | None = None
        current: TableSource | None = None
        width = 0
        for row_number, cells, merged in _grid(data):
            texts = [c for c in cells if fold_spaces(c)]
            if not texts:
                continue
            found = find_heading(texts[0]) if len(texts) == 1 else None
            if found is not None:
                pending, current = (found[0], [found[1]]), None
                continue
            if is_header_cell(cells[0]):
                if current is not None and pending is None:
                    continue  # the header repeated (a table split in two)
                number, lines = pending or _sheet_heading(data, position)
                columns = [fold_spaces(c) for c in cells]
                while columns and not columns[-1]:
                    columns.pop()
                width = len(columns)
                current = TableSource(
                    number=number, title=appendix_title(lines), columns=columns, rows=[], row=row_number
                )
                sources.append(current)
                pending = None
                continue
            if current is None:
                if pending is not None:
                    pending[1].extend(texts)  # title lines between the heading and the table
                continue
            row_cells = (cells + [""] * width)[:width]
            filled = [fold_spaces(c) for c in row_cells if fold_spaces(c)]
            if len(filled) >= width - 1 and all(COLUMN_NUMBER.fullmatch(t) for t in filled):
                continue  # a "(1) (2) (3)…" column-number row under the header
            current.rows.append(Row(cells=row_cells, row=row_number, merged={j for j in merged if j < width}))
        if pending is not None:
            raise PlanParseError(
                f"Trang “{data.name}”: Phụ lục {pending[0]} không có bảng (dòng tiêu đề có cột “TT”).",
                text=appendix_title(pending[1])[:200],
            )
    return sources


def _sheet_heading(data: _SheetData, position: int) -> tuple[int, list[str]]:
    """The appendix a sheet holds when no heading row precedes its table: from the printed
    page header ("Phụ lục 1. TITLE"), else the sheet name ("Phụ lục 1"), else its position."""
    header = find_heading(data.page_header) if data.page_header else None
    if header is not None:
        return header[0], [header[1]]
    named = find_heading(data.name) if data.name else None
    if named is not None:
        return named[0], [named[1]]
    return position, [data.page_header]


def parse_xlsx(data: bytes, units: UnitDirectory) -> ParsedPlan:
    """Parse a workbook with one appendix table per sheet (the layout ``plan_workbook`` writes).

    The container and every sheet's size are checked before its rows are read; any
    problem becomes ``PlanParseError``.
    """
    try:
        container = _Container(data)
        with container.archive:
            sheets, strings_part, styles_part = _workbook(container)
            inherited_styles = _inherited_styles(container, styles_part)
            # Dimensions first: a sheet claiming too many rows is refused before the
            # shared strings (possibly large) are read.
            for sheet in sheets:
                _check_dimension(container, sheet)
            strings = _shared_strings(container, strings_part)
            read = [_read_sheet(container, sheet, strings, inherited_styles) for sheet in sheets]
        return build_plan(_sources(read), units, infer_merges=False)
    except PlanParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but PlanParseError escapes
        raise PlanParseError("Không đọc được tệp .xlsx: tệp bị hỏng hoặc không đúng định dạng.") from exc


def _check_dimension(container: _Container, sheet: _Sheet) -> None:
    """Read a sheet only up to its <dimension> (or its data), refusing a claim over the limits."""
    with container.open(sheet.part) as handle:
        for event, element in _iterparse(container, handle, sheet.name):
            if event != "start":
                continue
            tag = _local(element.tag)
            if tag == "dimension":
                bounds = _range(element.get("ref", ""))
                if bounds is not None and (bounds[2] > MAX_ROWS or bounds[3] > MAX_COLUMNS):
                    raise _too_big(sheet.name, rows=bounds[2], columns=bounds[3])
                return
            if tag == "sheetData":
                return  # no dimension declared: the rows are counted while read

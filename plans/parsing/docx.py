"""The ``.docx`` itself, read from ``word/document.xml`` where merged cells are real
(``w:vMerge``, ``w:gridSpan``), after zip-bomb and XML-entity checks."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml

from plans.parsing.container import XmlBudget, open_checked_zip
from plans.parsing.errors import PlanParseError
from plans.parsing.normalize import clean_text, fold_spaces
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

__all__ = ["MAX_XML_ELEMENTS", "parse_docx"]

# Elements of word/document.xml: the seed plan has 3 741, a plan written with heavy
# formatting a few tens of thousands; 30 MB of tiny elements would be five million.
MAX_XML_ELEMENTS = 300_000

# Limits for the .docx container, checked before anything is decompressed or parsed.
_MAX_ZIP_ENTRIES = 1000
_MAX_TOTAL_UNCOMPRESSED = 50 * 1024 * 1024
_MAX_DOCUMENT_XML = 30 * 1024 * 1024
_RATIO_CHECK_FROM = 1024 * 1024  # small entries compress well legitimately (styles.xml ~30:1)
_DOCUMENT_PART = "word/document.xml"

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
    return clean_text("\n".join(paragraphs))


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


def _open_document(data: bytes) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    """The checked container and its main document part (not yet decompressed)."""
    archive = open_checked_zip(
        data,
        label=".docx",
        not_zip="Tệp không phải tài liệu Word .docx (không phải tệp nén ZIP).",
        max_entries=_MAX_ZIP_ENTRIES,
        max_total=_MAX_TOTAL_UNCOMPRESSED,
        max_part=_MAX_TOTAL_UNCOMPRESSED,
        ratio_from=_RATIO_CHECK_FROM,
    )
    try:
        info = archive.getinfo(_DOCUMENT_PART)
    except KeyError as exc:
        archive.close()
        raise PlanParseError(
            "Tệp không phải tài liệu Word hợp lệ: thiếu phần nội dung chính (word/document.xml)."
        ) from exc
    if info.file_size > _MAX_DOCUMENT_XML:
        archive.close()
        raise PlanParseError("Nội dung tài liệu Word quá lớn; không xử lý vì lý do an toàn.")
    return archive, info


_NOT_A_DOCUMENT = "Tệp .docx không có nội dung văn bản Word (w:document/w:body)."


def _body_blocks(handle: IO[bytes]) -> Iterator[Element]:
    """Each child of ``w:body`` once it has been read whole, then forgotten.

    Streamed (``XmlBudget``): only the block being read is in memory, and a document of
    more elements than ``MAX_XML_ELEMENTS`` is refused as soon as it is found out.
    """
    budget = XmlBudget(".docx", MAX_XML_ELEMENTS)
    path: list[Element] = []
    seen_body = False
    for event, element in budget.iterparse(handle, _DOCUMENT_PART):
        if event == "start":
            if not path and element.tag != _W + "document":
                raise PlanParseError(_NOT_A_DOCUMENT)
            if len(path) == 1 and element.tag == _W + "body":
                seen_body = True
            path.append(element)
            continue
        path.pop()
        if len(path) == 2 and path[1].tag == _W + "body":
            yield element
            del path[1][:]  # read: drop it
        elif len(path) == 1:
            del path[0][:]  # the body itself or another part of the document (background…)
    if not seen_body:
        raise PlanParseError(_NOT_A_DOCUMENT)


def _docx_sources(blocks: Iterable[Element]) -> list[TableSource]:
    sources: list[TableSource] = []
    pending: tuple[int, list[str]] | None = None  # heading seen, table not yet
    current: TableSource | None = None
    layout: list[tuple[int, int]] = []  # (grid start, span) of the current header's cells
    for element in _paragraphs_and_tables(blocks):
        if element.tag == _W + "p":
            text = clean_text(_paragraph_text(element))
            lines = text.split("\n")
            found = find_heading(lines[0]) if text.strip() else None
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
                (i for i, (_, cells) in enumerate(rows) if cells and is_header_cell(cells[0].text)), None
            )
            if header_at is None:
                raise PlanParseError(
                    f"Phụ lục {number}: bảng ngay sau tiêu đề không có dòng tiêu đề với cột “TT”.",
                    text=appendix_title(title_lines)[:200],
                )
            header = rows[header_at][1]
            layout = [(c.start, c.span) for c in header]
            current = TableSource(
                number=number,
                title=appendix_title(title_lines),
                columns=[fold_spaces(c.text) for c in header],
                rows=_docx_logical_rows(rows[header_at + 1 :], layout),
                row=rows[header_at][0],
            )
            sources.append(current)
            pending = None
        elif current is not None:
            # Word sometimes splits one table in two; a repeated header row is skipped.
            skip = 1 if rows and rows[0][1] and is_header_cell(rows[0][1][0].text) else 0
            current.rows.extend(_docx_logical_rows(rows[skip:], layout))
    _require_table(pending)
    return sources


def _require_table(pending: tuple[int, list[str]] | None) -> None:
    """A heading whose table never came is an error, as in the text format."""
    if pending is not None:
        raise PlanParseError(
            f"Phụ lục {pending[0]}: không tìm thấy bảng (dòng tiêu đề có cột “TT”).",
            text=appendix_title(pending[1])[:200],
        )


def _paragraphs_and_tables(blocks: Iterable[Element]) -> Iterator[Element]:
    """Paragraphs and tables of the body, in order, through content-control wrappers."""
    for block in blocks:
        stack = [block]
        while stack:
            child = stack.pop()
            if child.tag in (_W + "p", _W + "tbl"):
                yield child
            elif child.tag in _WRAPPERS:
                stack.extend(reversed(list(child)))


def _docx_logical_rows(rows: list[tuple[int, list[_DocxCell]]], layout: list[tuple[int, int]]) -> list[Row]:
    """Map grid cells onto the header's columns."""
    n = len(layout)

    def column_of(grid_col: int) -> int | None:
        for j, (start, span) in enumerate(layout):
            if start <= grid_col < start + span:
                return j
        return None

    out: list[Row] = []
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
        filled = [fold_spaces(t) for t in texts if fold_spaces(t)]
        if len(filled) >= n - 1 and all(COLUMN_NUMBER.fullmatch(t) for t in filled):
            continue  # a "(1) (2) (3)…" column-number row under the header
        if 0 in merged:
            # TT (and usually the criterion) merged from above: a further task of the
            # criterion above, written like the text format's empty TT and name.
            texts[0] = ""
            merged.discard(0)
            if 1 in merged:
                texts[1] = ""
                merged.discard(1)
        out.append(Row(cells=texts, row=number, merged=merged))
    return out


def parse_docx(data: bytes, units: UnitDirectory) -> ParsedPlan:
    """Parse a Word .docx holding the appendices (headings as paragraphs, then tables).

    The zip container is checked (size, entry count, declared sizes, compression
    ratio) before anything is decompressed, and ``word/document.xml`` is streamed with
    DTDs and entities forbidden and its elements counted. Any problem becomes
    ``PlanParseError``.
    """
    try:
        archive, info = _open_document(data)
        with archive:
            try:
                # zipfile stops at the declared size (and checks the CRC), so a lying
                # header cannot make this read more than the limit.
                with archive.open(info) as handle:
                    sources = _docx_sources(_body_blocks(handle))
            except RuntimeError as exc:  # encrypted entry
                raise PlanParseError("Tệp .docx được đặt mật khẩu; hãy bỏ mật khẩu rồi tải lên lại.") from exc
            except defusedxml.DefusedXmlException as exc:
                # forbid_dtd: a WordprocessingML part never needs a DTD, and refusing it also
                # refuses every entity trick (billion laughs, external entities).
                raise PlanParseError(
                    "Tệp .docx chứa khai báo DTD/thực thể XML — không được phép vì lý do an toàn."
                ) from exc
            except ParseError as exc:
                raise PlanParseError("Nội dung tài liệu Word (word/document.xml) bị hỏng.") from exc
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
                raise PlanParseError("Tệp .docx bị hỏng hoặc không trọn vẹn.") from exc
        return build_plan(sources, units, infer_merges=False)
    except PlanParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but PlanParseError escapes
        raise PlanParseError("Không đọc được tệp .docx: tệp bị hỏng hoặc không đúng định dạng.") from exc

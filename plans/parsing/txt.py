"""The ``.txt`` export of the Word tables.

Every cell starts with a TAB at the start of a line and lines without a leading TAB
continue the cell before; rows are not reliably separated, merged cells have become
empty cells and a few rows carry stray empty cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from plans.parsing.container import ZIP_MAGICS
from plans.parsing.errors import PlanParseError
from plans.parsing.normalize import clean_text, fold_spaces
from plans.parsing.tables import (
    COLUMN_NUMBER,
    ROMAN,
    Row,
    TableSource,
    appendix_title,
    build_plan,
    column_roles,
    find_heading,
    is_group,
    is_header_cell,
    is_tt,
    timeline_of,
    tt_text,
)
from plans.parsing.tree import ParsedPlan
from plans.parsing.units import UnitDirectory

__all__ = ["MAX_TEXT_LINES", "parse_text"]

_BOOKMARK = re.compile(r"\[bookmark:[^\]\n]*\]")
_MAX_ALIGN_CELLS = 400  # cells of one criterion (its rows and follow-up rows) aligned by search


@dataclass
class _Cell:
    lines: list[str]
    line: int  # line where the cell starts

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @cached_property
    def folded(self) -> str:
        return fold_spaces(self.text)

    @property
    def content_line(self) -> int:
        for offset, line in enumerate(self.lines):
            if line.strip():
                return self.line + offset
        return self.line


def _decode(data: bytes) -> str:
    if not data.strip():
        raise PlanParseError("Tệp rỗng.")
    if data.startswith(ZIP_MAGICS):
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
    found = find_heading(lines[0])
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
        self.roles = column_roles(columns, number, body[0].line if body else None)

    def rows(self) -> list[Row]:
        body = self.body
        # A row starts at a TT cell ("I", "2", "3.1") followed by a non-empty name.
        anchors = [
            i
            for i in range(len(body) - 1)
            if is_tt(body[i].folded) and body[i + 1].folded and not is_tt(body[i + 1].folded)
        ]
        lead_in = body[: anchors[0]] if anchors else body
        for cell in lead_in:
            if cell.folded and not COLUMN_NUMBER.fullmatch(cell.folded):
                raise PlanParseError(
                    f"Không hiểu nội dung ở đầu bảng của Phụ lục {self.number} (trước dòng có số thứ tự đầu tiên).",
                    row=cell.content_line,
                    text=cell.folded[:200],
                )
        rows: list[Row] = []
        for k, start in enumerate(anchors):
            end = anchors[k + 1] if k + 1 < len(anchors) else len(body)
            span = body[start:end]
            tt = tt_text(span[0].folded)
            next_tt = tt_text(body[anchors[k + 1]].folded) if k + 1 < len(anchors) else None
            if ROMAN.fullmatch(tt) or is_group(tt, next_tt):
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

    def _row(self, cells: list[_Cell | None]) -> Row:
        texts = [c.text if c is not None else "" for c in cells]
        texts = (texts + [""] * self.n)[: self.n]
        first = cells[0]
        line = first.content_line if first is not None else 0
        if first is not None and not first.folded:
            line = first.line
        return Row(cells=texts, row=line)

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
            kind, _ = timeline_of(text)
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


def _text_sources(text: str, units: UnitDirectory) -> list[TableSource]:
    cells = _text_cells(text)
    starts: list[tuple[int, int, list[str]]] = []
    for i, cell in enumerate(cells):
        found = _text_heading(cell)
        if found:
            starts.append((i, *found))
    sources: list[TableSource] = []
    for k, (start, number, title_lines) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(cells)
        segment = cells[start + 1 : end]
        head_line = cells[start].content_line
        header_at = next((i for i, c in enumerate(segment) if is_header_cell(c.folded)), None)
        if header_at is None:
            raise PlanParseError(
                f"Phụ lục {number}: không tìm thấy bảng (dòng tiêu đề có cột “TT”).",
                row=head_line,
                text=fold_spaces(" ".join(title_lines))[:200],
            )
        # Anything written between the heading and the table continues the title.
        title = appendix_title([*title_lines, *(c.folded for c in segment[:header_at] if c.folded)])
        after = segment[header_at:]
        # The header row runs from "TT" to the first empty cell or the first numbered row.
        header_end = 1
        while (
            header_end < len(after)
            and after[header_end].folded
            and not (
                is_tt(after[header_end].folded)
                and header_end + 1 < len(after)
                and after[header_end + 1].folded
                and not is_tt(after[header_end + 1].folded)
            )
        ):
            header_end += 1
        columns = [c.folded for c in after[:header_end]]
        body = after[header_end:]
        while body and not body[-1].folded:
            body.pop()
        table = _TextTable(number, body, columns, units)
        sources.append(
            TableSource(number=number, title=title, columns=columns, rows=table.rows(), row=head_line)
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
        text = _BOOKMARK.sub("", clean_text(text))
        return build_plan(_text_sources(text, units), units, infer_merges=True)
    except PlanParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but PlanParseError escapes
        raise PlanParseError(
            "Không đọc được nội dung tệp văn bản: cấu trúc bảng không như mong đợi."
        ) from exc

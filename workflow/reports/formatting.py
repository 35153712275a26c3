"""Vietnamese formatting rules of official documents (Nghị định 30/2020/NĐ-CP) and downloads."""

from __future__ import annotations

import datetime
import re
import unicodedata
from urllib.parse import quote

from plans.text import fold

_UNSAFE_IN_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_ASCII_SLUG = re.compile(r"[^a-z0-9]+")


def date_line(place: str, day: datetime.date | None, *, year: int | None = None) -> str:
    """The place-and-date line: "Bắc Kạn, ngày 05 tháng 3 năm 2024".

    Nghị định 30 writes a leading zero for days below 10 and for months 1 and 2 (so a
    reader cannot add a digit); other months as they are. Without a day (a document
    not yet issued) the day and month are left as dots to be filled in by hand.
    """
    if day is None:
        return f"{place}, ngày … tháng … năm {year or ''}".rstrip()
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def number_line(symbol: str, number: str = "") -> str:
    """ "Số: 45/KH-SCT" for an issued document, "Số: …/BC-SCT" for a draft to be numbered."""
    return f"Số: {number}" if number else f"Số: …/{symbol}"


def document_number(number: str, symbol: str) -> str:
    """A document's number and symbol from what was entered: "123" and "KH-SCT" give
    "123/KH-SCT"; a number entered with its symbol ("45/KH-SCT") stays as it is; none gives ""."""
    number = " ".join((number or "").split())
    if not number or "/" in number:
        return number
    return f"{number}/{symbol}" if symbol else number


def percent(part: int, whole: int) -> str:
    """A share with a decimal comma: 27,3%."""
    if not whole:
        return "0%"
    value = f"{100 * part / whole:.1f}".rstrip("0").rstrip(".")
    return f"{value.replace('.', ',')}%"


def day_text(day: datetime.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def attachment_header(filename: str) -> str:
    """Content-Disposition for a Vietnamese file name.

    ``filename*`` (RFC 6266/5987) carries the real name in UTF-8; ``filename`` an ASCII
    fallback without diacritics (đ → d) for clients that ignore the former. Path
    separators, quotes and control characters never reach the header.
    """
    name = unicodedata.normalize("NFC", _UNSAFE_IN_FILENAME.sub("-", filename)).strip(" .-") or "tai-lieu"
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ascii_stem = _ASCII_SLUG.sub("-", fold(stem)).strip("-") or "tai-lieu"
    ascii_name = f"{ascii_stem}.{_ASCII_SLUG.sub('', ext.lower())}" if ext else ascii_stem
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"

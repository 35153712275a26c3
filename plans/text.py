"""Vietnamese text helpers shared by the importer, the search and the slugs."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """NFC-normalise and fold whitespace runs to one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str) -> str:
    """Lower-case text with diacritics removed, for search that ignores them.

    NFD stripping leaves đ/Đ intact (it is a letter of its own, not d + a mark),
    so it is mapped to d explicitly.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().lower()


def document_number(number: str, symbol: str) -> str:
    """A document's number and symbol from what was entered: "123" and "KH-SCT" give
    "123/KH-SCT"; a number entered with its symbol ("45/KH-SCT") stays as it is; none gives ""."""
    number = " ".join((number or "").split())
    if not number or "/" in number:
        return number
    return f"{number}/{symbol}" if symbol else number

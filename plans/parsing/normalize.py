"""Text clean-up shared by every format: Unicode form, line breaks, whitespace, bullets."""

from __future__ import annotations

import re
import unicodedata

from plans.text import fold as search_key

__all__ = ["clean_text", "fold_keep_bullets", "fold_spaces", "search_key"]

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\u2028\u2029\u0085]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BULLET = re.compile(r"^[-–•]\s")
_INLINE_BULLET = re.compile(r"([;.:])[^\S\n]+([-–•])[^\S\n]+")


def clean_text(text: str) -> str:
    """NFC, unified line breaks, no invisible or control characters (tabs kept)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub("", text)


def fold_spaces(text: str) -> str:
    """All whitespace (line breaks included) folded to single spaces, stripped."""
    return " ".join(text.split())


def fold_keep_bullets(text: str) -> str:
    """Like ``fold_spaces`` but a line starting with "- " keeps its own line.

    Word cells list sub-points as "- ..." paragraphs; joining them into one sentence
    would lose the list. Wrapped lines of one paragraph are still joined with a space.
    """
    out = ""
    for raw in text.split("\n"):
        line = fold_spaces(raw)
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

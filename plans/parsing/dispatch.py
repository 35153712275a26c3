"""The one entry for an uploaded plan file: ``parse_upload(name, data, units)``.

The name's extension decides the reader (one rule: ``plans.parsing.rules``), the content
must agree with it, and the size is held to ``settings.PLAN_UPLOAD_MAX_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from plans.parsing.container import ZIP_MAGICS
from plans.parsing.convert import to_docx
from plans.parsing.docx import parse_docx
from plans.parsing.errors import PlanParseError
from plans.parsing.rules import base_name, check_name, check_size
from plans.parsing.tree import ParsedPlan
from plans.parsing.txt import parse_text
from plans.parsing.units import UnitDirectory
from plans.parsing.xlsx import parse_xlsx

__all__ = ["ReadUpload", "parse_upload", "read_upload"]

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97–2003 compound file
_RTF = b"{\\rtf"  # Word also saves RTF under .doc


@dataclass
class ReadUpload:
    """A parsed upload, and the .docx LibreOffice made of it when it was a .doc or .odt."""

    plan: ParsedPlan
    converted: bytes | None = None


def read_upload(name: str, data: bytes, units: UnitDirectory, *, max_bytes: int | None = None) -> ReadUpload:
    """Parse an upload of any supported kind; ``max_bytes`` defaults to the setting."""
    suffix = check_name(name)
    check_size(len(data), max_bytes)
    base = base_name(name)
    is_zip = data.startswith(ZIP_MAGICS)
    if suffix == ".txt":
        if is_zip:
            raise PlanParseError(
                "Tệp có đuôi .txt nhưng nội dung là tệp nén (có thể là .docx); hãy đổi đúng đuôi tệp.",
                text=base,
            )
        return ReadUpload(parse_text(data, units))
    if suffix == ".xlsx":
        return ReadUpload(parse_xlsx(data, units))
    if suffix == ".doc":
        if is_zip:
            raise PlanParseError(
                "Tệp có đuôi .doc nhưng nội dung là tài liệu Word mới (.docx); hãy đổi đuôi tệp thành .docx.",
                text=base,
            )
        if not data.startswith((_OLE2, _RTF)):
            raise PlanParseError(
                "Tệp có đuôi .doc nhưng nội dung không phải tài liệu Word; hãy kiểm tra lại tệp.", text=base
            )
    elif not is_zip:
        kind = "tài liệu Word" if suffix == ".docx" else "tài liệu OpenDocument"
        raise PlanParseError(
            f"Tệp có đuôi {suffix} nhưng nội dung không phải {kind}; hãy kiểm tra lại tệp.", text=base
        )
    if suffix == ".docx":
        return ReadUpload(parse_docx(data, units))
    converted = to_docx(data, suffix)
    return ReadUpload(parse_docx(converted, units), converted=converted)


def parse_upload(name: str, data: bytes, units: UnitDirectory, *, max_bytes: int | None = None) -> ParsedPlan:
    """The plan in an uploaded .txt, .docx, .xlsx, .doc or .odt file, in this process.

    Web requests go through ``plans.parsing.bounded.parse_upload_bounded`` instead, which
    runs this in a child process with memory and time limits.
    """
    return read_upload(name, data, units, max_bytes=max_bytes).plan

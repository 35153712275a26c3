"""What a plan upload may be: its kind (one rule, by extension) and its size (one limit).

The size limit lives in the settings (``PLAN_UPLOAD_MAX_BYTES``); the form, the
dispatcher, the bounded worker and ``manage.py import_plan`` all ask here.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from plans.parsing.errors import PlanParseError

__all__ = [
    "ACCEPT",
    "CONVERTED_SUFFIXES",
    "SUFFIXES",
    "base_name",
    "check_name",
    "check_size",
    "suffix_of",
    "upload_limit",
]

# Every kind of plan file, by extension. .doc and .odt are converted to .docx by LibreOffice.
SUFFIXES = (".docx", ".xlsx", ".txt", ".doc", ".odt")
CONVERTED_SUFFIXES = (".doc", ".odt")
ACCEPT = ",".join(SUFFIXES)  # the file input's ``accept`` attribute
WRONG_TYPE = (
    "Chỉ nhận tệp Word (.docx, .doc), OpenDocument (.odt), bảng tính Excel (.xlsx) "
    "hoặc văn bản (.txt, mã UTF-8). Tệp “{name}” không đúng loại."
)


def base_name(name: str | None) -> str:
    """The file's own name, whatever path (POSIX or Windows) the browser sent with it."""
    return PureWindowsPath(PurePosixPath(name or "").name).name


def suffix_of(name: str | None) -> str:
    """ ".docx", ".txt"… in lower case, or "" when the name has none."""
    base = base_name(name)
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


def check_name(name: str | None) -> str:
    """The upload's suffix, or ``PlanParseError`` when it is not a plan file's."""
    suffix = suffix_of(name)
    if suffix not in SUFFIXES:
        raise PlanParseError(WRONG_TYPE.format(name=base_name(name)), text=base_name(name))
    return suffix


def upload_limit() -> int:
    """``settings.PLAN_UPLOAD_MAX_BYTES`` (read lazily: the readers themselves need no Django)."""
    from django.conf import settings

    return int(settings.PLAN_UPLOAD_MAX_BYTES)


def check_size(size: int | None, limit: int | None = None) -> None:
    """``PlanParseError`` for a file over the limit (default: the setting)."""
    limit = upload_limit() if limit is None else limit
    if size is None or size > limit:
        shown = f"{(size or 0) / 1024 / 1024:.1f}".replace(".", ",")
        raise PlanParseError(f"Tệp quá lớn ({shown} MB); tối đa {limit // (1024 * 1024)} MB.")

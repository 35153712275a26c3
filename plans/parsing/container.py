"""The Office container (.docx, .xlsx): a zip checked before anything is decompressed."""

from __future__ import annotations

import io
import struct
import zipfile

from plans.parsing.errors import PlanParseError

__all__ = ["ZIP_MAGICS", "open_checked_zip"]

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_MAX_RATIO = 100  # uncompressed : compressed


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
    """An Office container, checked before any entry is decompressed: the ZIP signature, the entry count (from the central directory, before zipfile lists it),
    the declared sizes and the compression ratio. ``label`` names the kind in messages."""
    if not data.startswith(ZIP_MAGICS):
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

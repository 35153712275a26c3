"""The Office container (.docx, .xlsx): a zip checked before anything is decompressed."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from plans.parsing.errors import PlanParseError

__all__ = ["ZIP_MAGICS", "XmlBudget", "open_checked_zip"]

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


class XmlBudget:
    """How many XML elements one file may hold, all its parts together.

    The byte limits of the container bound how much XML there is, not how many elements
    it makes: 30 MB of ``<w:p/>`` is five million of them, gigabytes once built and
    seconds to walk. Before a part is parsed its bytes are scanned (in C, chunk by chunk:
    every ``<`` that does not open an end tag is at most one element) and the file is
    refused as soon as the budget is spent; only then is the part parsed, with DTDs and
    entities forbidden (defusedxml).
    """

    _CHUNK = 1 << 20

    def __init__(self, label: str, elements: int) -> None:
        self.label = label
        self.elements = elements
        self.left = elements
        self.counted: set[str] = set()

    def _spend(self, chunk: bytes) -> None:
        self.left -= chunk.count(b"<") - chunk.count(b"</")
        if self.left < 0:
            limit = f"{self.elements:,}".replace(",", ".")
            raise PlanParseError(
                f"Tệp {self.label} có quá nhiều phần tử XML (hơn {limit}), nhiều hơn hẳn một kế hoạch; "
                "không xử lý vì lý do an toàn."
            )

    def iterparse(self, source: IO[bytes], part: str) -> Iterator[tuple[str, Element]]:
        """("start" | "end", element) of a part, once the whole part is within the budget.

        ``source`` must be seekable (a zip entry is: it is decompressed again from the start).
        A part read twice (a sheet's dimension, then its rows) is counted once.
        """
        if part not in self.counted:
            self.counted.add(part)
            while chunk := source.read(self._CHUNK):
                self._spend(chunk)
            source.seek(0)
        yield from SafeET.iterparse(
            source, events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )

    def tree(self, data: bytes) -> Element:
        """A small part as a tree, counted like the others."""
        self._spend(data)
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)

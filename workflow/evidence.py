"""Evidence files: checked from their content, stored outside any served URL.

The type comes from the bytes, never the name: PDF, Office documents (OOXML, OpenDocument,
legacy OLE2), images (PNG, JPEG, GIF, TIFF, WebP), or a zip holding only those.
The file is written under a random name before the database records it; if anything
fails the caller deletes it (``discard``), so a rejected file leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings


class EvidenceRejected(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    original_name: str
    stored_name: str
    content_type: str
    size: int
    sha256: str

    @property
    def path(self) -> Path:
        return evidence_path(self.stored_name)


def evidence_path(stored_name: str) -> Path:
    if not stored_name.isalnum():
        raise ValueError("bad stored name")
    return Path(settings.EVIDENCE_ROOT) / stored_name[:2] / stored_name


MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/vnd.ms-office"),
]
MAX_ZIP_ENTRIES = 500
# Parts of an OOXML / OpenDocument package ("" is the ODF "mimetype" entry).
PACKAGE_PARTS = {
    "",
    ".xml",
    ".rels",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".emf",
    ".wmf",
    ".bin",
    ".tif",
    ".tiff",
    ".bmp",
    ".svg",
    ".vml",
    ".odttf",
    ".fntdata",
    ".rdf",
}
ALLOWED_IN_ZIP = {
    ".pdf",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".odt",
    ".ods",
    ".odp",
    ".txt",
}


def safe_name(name: str) -> str:
    """A display name: no path, no control characters, NFC, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        name = "tep-dinh-kem"
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[: 200 - len(ext) - 1]}.{ext}"
    return name[:200]


def sniff(head: bytes, fileobj: IO[bytes]) -> str:
    """The content type from the bytes, or EvidenceRejected."""
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(fileobj)
    raise EvidenceRejected(
        "Loại tệp không được chấp nhận: chỉ nhận PDF, tài liệu Office, ảnh, hoặc tệp zip chứa các loại đó."
    )


def _sniff_zip(fileobj: IO[bytes]) -> str:
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EvidenceRejected("Tệp nén bị hỏng hoặc không đọc được.") from exc
    if len(infos) > MAX_ZIP_ENTRIES:
        raise EvidenceRejected(f"Tệp nén có quá nhiều tệp con (tối đa {MAX_ZIP_ENTRIES}).")
    if "[Content_Types].xml" in names and "_rels/.rels" in names:
        kind, allowed = "application/vnd.openxmlformats-officedocument", ALLOWED_IN_ZIP | PACKAGE_PARTS
    elif "mimetype" in names and "META-INF/manifest.xml" in names:
        kind, allowed = "application/vnd.oasis.opendocument", ALLOWED_IN_ZIP | PACKAGE_PARTS
    else:
        kind, allowed = "application/zip", ALLOWED_IN_ZIP
    # Every entry is checked whatever the kind: an Office-looking zip may not smuggle a program.
    for info in infos:
        if info.is_dir():
            continue
        if os.path.splitext(info.filename.lower())[1] not in allowed:
            raise EvidenceRejected(f"Tệp nén chứa tệp không được chấp nhận: {safe_name(info.filename)}.")
    return kind


def store(upload: IO[bytes], *, name: str, size: int | None = None) -> StoredFile:
    """Check and write an uploaded file; returns what the database should record."""
    limit = settings.EVIDENCE_MAX_BYTES
    if size is not None and size > limit:
        raise EvidenceRejected(f"Tệp quá lớn: tối đa {_size(limit)}.")
    upload.seek(0)
    head = upload.read(16)
    if not head:
        raise EvidenceRejected("Tệp rỗng.")
    content_type = sniff(head, upload)
    stored_name = secrets.token_hex(16)
    path = evidence_path(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    upload.seek(0)
    try:
        with open(path, "xb") as out:
            while chunk := upload.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise EvidenceRejected(f"Tệp quá lớn: tối đa {_size(limit)}.")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredFile(
        original_name=safe_name(name),
        stored_name=stored_name,
        content_type=content_type,
        size=written,
        sha256=digest.hexdigest(),
    )


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def discard(stored: StoredFile) -> None:
    stored.path.unlink(missing_ok=True)

"""Evidence files: checked from their content, stored outside any served URL.

The type comes from the bytes, never the name: PDF, Office documents (OOXML, OpenDocument,
legacy OLE2), images (PNG, JPEG, GIF, TIFF, WebP), or a zip holding only those. The name's
extension must be that type's (``typed_name``), so a file is downloaded under a name that
opens it with the right program; Office files with macros, ActiveX controls, embedded
objects or programs, or external OLE/template links are refused.
The file is written under a random name before the database records it; if anything
fails the caller deletes it (``discard``), so a rejected file leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import struct
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


@dataclass(frozen=True)
class FileType:
    """A type the content proves: its MIME type, the extensions a name of it may end with
    (the first is the one given to a name without any), and what a person calls it."""

    content_type: str
    extensions: tuple[str, ...]
    label: str


PDF = FileType("application/pdf", ("pdf",), "PDF")
PNG = FileType("image/png", ("png",), "ảnh PNG")
JPEG = FileType("image/jpeg", ("jpg", "jpeg", "jpe"), "ảnh JPEG")
GIF = FileType("image/gif", ("gif",), "ảnh GIF")
TIFF = FileType("image/tiff", ("tif", "tiff"), "ảnh TIFF")
WEBP = FileType("image/webp", ("webp",), "ảnh WebP")
DOC = FileType("application/msword", ("doc",), "văn bản Word 97–2003")
XLS = FileType("application/vnd.ms-excel", ("xls",), "bảng tính Excel 97–2003")
PPT = FileType("application/vnd.ms-powerpoint", ("ppt",), "trình chiếu PowerPoint 97–2003")
_OOXML = "application/vnd.openxmlformats-officedocument"
DOCX = FileType(f"{_OOXML}.wordprocessingml.document", ("docx",), "văn bản Word")
XLSX = FileType(f"{_OOXML}.spreadsheetml.sheet", ("xlsx",), "bảng tính Excel")
PPTX = FileType(f"{_OOXML}.presentationml.presentation", ("pptx",), "trình chiếu PowerPoint")
_ODF = "application/vnd.oasis.opendocument"
ODT = FileType(f"{_ODF}.text", ("odt",), "văn bản OpenDocument")
ODS = FileType(f"{_ODF}.spreadsheet", ("ods",), "bảng tính OpenDocument")
ODP = FileType(f"{_ODF}.presentation", ("odp",), "trình chiếu OpenDocument")
ZIP = FileType("application/zip", ("zip",), "tệp nén zip")
# Rows stored before the types were told apart carry a family type (and maybe any name).
LEGACY_TYPES: dict[str, tuple[str, ...]] = {
    _OOXML: ("docx", "xlsx", "pptx"),
    _ODF: ("odt", "ods", "odp"),
    "application/vnd.ms-office": ("doc", "xls", "ppt"),
}
TYPES_BY_CONTENT_TYPE = {
    t.content_type: t
    for t in (PDF, PNG, JPEG, GIF, TIFF, WEBP, DOC, XLS, PPT, DOCX, XLSX, PPTX, ODT, ODS, ODP, ZIP)
}

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAGIC: list[tuple[bytes, FileType]] = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
]
MAX_ZIP_ENTRIES = 500
# Parts of an OOXML / OpenDocument package ("" is the ODF "mimetype" entry and the
# extension-less ObjectReplacements images). ".bin" is not here: in OOXML it is the macro
# project, an ActiveX control or an embedded OLE object, except printer settings (below).
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
    ".tif",
    ".tiff",
    ".bmp",
    ".svg",
    ".vml",
    ".odttf",
    ".fntdata",
    ".rdf",
}
# A chart in a Word or PowerPoint file embeds its workbook as a macro-free OOXML package.
EMBEDDED_PACKAGES = {".xlsx", ".docx", ".pptx"}
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
# What each extension inside a zip must start with (".txt": no NUL byte at the start).
ZIP_ENTRY_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".webp": (b"RIFF",),
    **dict.fromkeys((".doc", ".xls", ".ppt"), (OLE2_MAGIC,)),
    **dict.fromkeys((".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"), (b"PK\x03\x04",)),
}

MACRO_MESSAGE = (
    "Tệp Office có macro (mã VBA) không được chấp nhận: hãy lưu lại thành tệp không có macro "
    "(.docx, .xlsx, .pptx) rồi đính kèm."
)


def _unexpected_part(part: str) -> EvidenceRejected:
    return EvidenceRejected(
        "Tệp Office chứa thành phần không được chấp nhận (điều khiển ActiveX, đối tượng nhúng, "
        f"chương trình hoặc liên kết ngoài): {safe_name(part)}. Hãy lưu lại tài liệu không có "
        "thành phần đó rồi đính kèm."
    )


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


def typed_name(name: str, file_type: FileType) -> str:
    """The display name with the extension of the type the content proved.

    A name with no extension gets the type's; a name whose extension is another type's
    (``.hta``, ``.html``, ``.bat`` on a PDF, ``.docm`` on anything) is refused: the name a
    person downloads under decides what their computer runs it with.
    """
    name = safe_name(name)
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name[:195]}.{file_type.extensions[0]}"
    if ext.lower() in file_type.extensions:
        return f"{stem}.{ext.lower()}"
    expected = ", ".join(f".{e}" for e in file_type.extensions)
    raise EvidenceRejected(
        f"Đuôi tên tệp “.{ext[:20]}” không khớp với nội dung tệp ({file_type.label}): "
        f"hãy đặt tên tệp với đuôi {expected}."
    )


def download_name(original_name: str, content_type: str) -> str:
    """The name a file is downloaded under: its extension is always its type's.

    Rows stored before the check (``typed_name``) may carry any name: the type's extension is
    added after it, so ``x.hta`` holding a PDF downloads as ``x.hta.pdf``.
    """
    file_type = TYPES_BY_CONTENT_TYPE.get(content_type)
    extensions = file_type.extensions if file_type else LEGACY_TYPES.get(content_type, ("bin",))
    name = safe_name(original_name)
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in extensions:
        return f"{stem}.{ext.lower()}"
    return f"{name[:195]}.{extensions[0]}"


def sniff(head: bytes, fileobj: IO[bytes]) -> FileType:
    """The type from the bytes, or EvidenceRejected (macros and unexpected parts included)."""
    for magic, file_type in MAGIC:
        if head.startswith(magic):
            return file_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(OLE2_MAGIC):
        return _sniff_ole2(fileobj)
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(fileobj)
    raise EvidenceRejected(
        "Loại tệp không được chấp nhận: chỉ nhận PDF, tài liệu Office, ảnh, hoặc tệp zip chứa các loại đó."
    )


# --- zip packages: OOXML, OpenDocument, plain zip -------------------------------------------

_EXTERNAL_REL = re.compile(rb"<Relationship\b[^>]*>", re.IGNORECASE)
# Relationship types that make Office fetch and run or embed something from elsewhere
# (remote templates, OLE objects: the "Follina" family); hyperlinks stay allowed.
_DANGEROUS_EXTERNAL = re.compile(
    rb"Type=\"[^\"]*/(oleObject|attachedTemplate|frame|subDocument|package|control)\"", re.IGNORECASE
)
_MAX_PART_READ = 2 * 1024 * 1024


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as part:
        return part.read(_MAX_PART_READ)


def _check_ooxml_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = info.filename
    lower = name.lower()
    base = lower.rsplit("/", 1)[-1]
    ext = os.path.splitext(lower)[1]
    if (
        base.startswith("vbaproject")
        or base.startswith("vbadata")
        or lower.endswith((".docm", ".xlsm", ".pptm"))
    ):
        raise EvidenceRejected(MACRO_MESSAGE)
    if "/activex/" in f"/{lower}" or base.startswith("oleobject"):
        raise _unexpected_part(name)
    if ext == ".bin":
        if "/printersettings/" in f"/{lower}":
            return
        raise _unexpected_part(name)
    if ext in EMBEDDED_PACKAGES and "/embeddings/" in f"/{lower}":
        return
    if ext not in PACKAGE_PARTS:
        raise _unexpected_part(name)
    if name == "[Content_Types].xml":
        if b"macroenabled" in _read_part(archive, info).lower():
            raise EvidenceRejected(MACRO_MESSAGE)
    elif ext == ".rels":
        for relationship in _EXTERNAL_REL.findall(_read_part(archive, info)):
            if b'targetmode="external"' in relationship.lower() and _DANGEROUS_EXTERNAL.search(relationship):
                raise _unexpected_part(name)


def _check_odf_part(info: zipfile.ZipInfo) -> None:
    lower = info.filename.lower()
    if lower.startswith(("basic/", "scripts/")):
        raise EvidenceRejected(
            "Tệp OpenDocument có macro không được chấp nhận: hãy lưu lại không có macro rồi đính kèm."
        )
    ext = os.path.splitext(lower)[1]
    if ext not in PACKAGE_PARTS and ext not in EMBEDDED_PACKAGES:
        raise _unexpected_part(info.filename)


OOXML_MAIN_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": ODS,
    b"application/vnd.oasis.opendocument.presentation": ODP,
}


def _sniff_zip(fileobj: IO[bytes]) -> FileType:
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise EvidenceRejected(f"Tệp nén có quá nhiều tệp con (tối đa {MAX_ZIP_ENTRIES}).")
            names = {info.filename for info in infos}
            files = [info for info in infos if not info.is_dir()]
            if "[Content_Types].xml" in names and "_rels/.rels" in names:
                file_type = next((t for part, t in OOXML_MAIN_PARTS if part in names), None)
                for info in files:
                    _check_ooxml_part(archive, info)
                if file_type is None:
                    raise EvidenceRejected(
                        "Tệp Office không nhận ra được (không phải văn bản, bảng tính hay trình chiếu)."
                    )
                return file_type
            if "mimetype" in names and "META-INF/manifest.xml" in names:
                file_type = ODF_MIMETYPES.get(archive.read("mimetype")[:100].strip())
                for info in files:
                    _check_odf_part(info)
                if file_type is None:
                    raise EvidenceRejected("Tệp OpenDocument không nhận ra được (chỉ nhận .odt, .ods, .odp).")
                return file_type
            # A plain zip: every entry an accepted type whose content starts as its name says.
            for info in files:
                ext = os.path.splitext(info.filename.lower())[1]
                if ext not in ALLOWED_IN_ZIP:
                    raise EvidenceRejected(
                        f"Tệp nén chứa tệp không được chấp nhận: {safe_name(info.filename)}."
                    )
                head = _read_head(archive, info)
                magics = ZIP_ENTRY_MAGIC.get(ext)
                mismatch = (b"\x00" in head) if magics is None else not head.startswith(magics)
                if mismatch and info.file_size:
                    raise EvidenceRejected(
                        f"Tệp nén chứa tệp có nội dung không khớp đuôi tên: {safe_name(info.filename)}."
                    )
            return ZIP
    except EvidenceRejected:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise EvidenceRejected("Tệp nén bị hỏng hoặc không đọc được.") from exc


def _read_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as entry:
        return entry.read(512)


# --- legacy Office (OLE2 compound file) -------------------------------------------------------

_END_OF_CHAIN = 0xFFFFFFFE
_MAX_DIRECTORY_ENTRIES = 50_000
OLE2_MAIN_STREAMS = (("WordDocument", DOC), ("Workbook", XLS), ("Book", XLS), ("PowerPoint Document", PPT))
# Storages holding a VBA project (Word: Macros; Excel: _VBA_PROJECT_CUR; both contain VBA).
OLE2_MACRO_NAMES = {"macros", "_vba_project_cur", "vba", "_vba_project"}
# An OLE "Package" object (any embedded file, programs included) and ActiveX controls.
OLE2_UNEXPECTED_NAMES = {"\x01ole10native", "\x03ocxname", "\x03ocxdata", "ocxdata"}


def ole2_entry_names(fileobj: IO[bytes]) -> list[str]:
    """The names of every storage and stream of a compound file (no dependency: the header,
    the FAT through the DIFAT, then the directory chain; every loop bounded)."""
    fileobj.seek(0)
    header = fileobj.read(512)
    if len(header) < 512:
        raise ValueError("short header")
    shift = struct.unpack_from("<H", header, 30)[0]
    if shift not in (9, 12):
        raise ValueError("sector size")
    size = 1 << shift
    fat_count, first_dir = struct.unpack_from("<II", header, 44)
    first_difat, difat_count = struct.unpack_from("<II", header, 68)

    def sector(number: int) -> bytes:
        fileobj.seek((number + 1) * size)
        data = fileobj.read(size)
        if len(data) != size:
            raise ValueError("sector beyond the end")
        return data

    fat_sectors = [n for n in struct.unpack_from("<109I", header, 76) if n < _END_OF_CHAIN]
    next_difat, seen = first_difat, 0
    while next_difat < _END_OF_CHAIN and seen < difat_count and seen < 10_000:
        data = sector(next_difat)
        entries = struct.unpack(f"<{size // 4}I", data)
        fat_sectors += [n for n in entries[:-1] if n < _END_OF_CHAIN]
        next_difat, seen = entries[-1], seen + 1
    if len(fat_sectors) > max(fat_count, 1) + 1:
        fat_sectors = fat_sectors[: fat_count or 1]
    fat: list[int] = []
    for number in fat_sectors:
        fat += struct.unpack(f"<{size // 4}I", sector(number))
    names: list[str] = []
    visited: set[int] = set()
    current = first_dir
    while current < _END_OF_CHAIN:
        if current in visited or current >= len(fat) or len(names) > _MAX_DIRECTORY_ENTRIES:
            raise ValueError("directory chain")
        visited.add(current)
        data = sector(current)
        for offset in range(0, size, 128):
            name_length = struct.unpack_from("<H", data, offset + 64)[0]
            kind = data[offset + 66]
            if kind in (1, 2, 5) and 2 <= name_length <= 64:
                names.append(data[offset : offset + name_length - 2].decode("utf-16-le", "replace"))
        current = fat[current]
    return names


def _sniff_ole2(fileobj: IO[bytes]) -> FileType:
    try:
        names = ole2_entry_names(fileobj)
    except (ValueError, struct.error, OSError) as exc:
        raise EvidenceRejected("Tệp Office 97–2003 bị hỏng hoặc không đọc được.") from exc
    lowered = {name.lower() for name in names}
    if lowered & OLE2_MACRO_NAMES:
        raise EvidenceRejected(MACRO_MESSAGE)
    unexpected = lowered & OLE2_UNEXPECTED_NAMES
    if unexpected:
        raise _unexpected_part(sorted(unexpected)[0].lstrip("\x01\x03"))
    present = set(names)
    for stream, file_type in OLE2_MAIN_STREAMS:
        if stream in present:
            return file_type
    raise EvidenceRejected("Tệp Office 97–2003 không nhận ra được (chỉ nhận .doc, .xls, .ppt).")


def store(upload: IO[bytes], *, name: str, size: int | None = None) -> StoredFile:
    """Check and write an uploaded file; returns what the database should record."""
    limit = settings.EVIDENCE_MAX_BYTES
    if size is not None and size > limit:
        raise EvidenceRejected(f"Tệp quá lớn: tối đa {_size(limit)}.")
    upload.seek(0)
    head = upload.read(16)
    if not head:
        raise EvidenceRejected("Tệp rỗng.")
    file_type = sniff(head, upload)
    display_name = typed_name(name, file_type)  # refused before anything is written
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
        original_name=display_name,
        stored_name=stored_name,
        content_type=file_type.content_type,
        size=written,
        sha256=digest.hexdigest(),
    )


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def discard(stored: StoredFile) -> None:
    stored.path.unlink(missing_ok=True)

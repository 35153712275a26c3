"""Small helpers of the documents tests: reading PDFs, changing their bytes."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pages_text(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def flip_byte(data: bytes, index: int | None = None) -> bytes:
    """The same file with one byte changed, in the first revision (what the signature covers)."""
    position = len(data) // 3 if index is None else index
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def without_signature(data: bytes) -> bytes:
    """The file as it was before the signature was appended: the signing revision removed."""
    end = data.rstrip().rfind(b"%%EOF", 0, len(data.rstrip()) - 5)
    assert end > 0
    return data[: end + len(b"%%EOF")] + b"\n"

"""PAdES signatures with pyHanko: one interface for a PKCS#12 file and a PKCS#11 token.

``signer_open(username)`` yields a pyHanko ``Signer`` for that person, whatever holds the key
(``documents.conf.signing_keys``): a PKCS#12 file (the demo, a server-held key) or a PKCS#11
module (a USB token such as the government's chữ ký số chuyên dùng, an HSM, a remote signing
service with a PKCS#11 interface). ``sign_pdf`` adds the visible signature block and the
PAdES signature (B-B level: no time-stamping authority is reachable from the office network).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from django.conf import settings
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle

from documents import conf

FIELD_NAME = "ChuKySo"  # the signature field of an issued document
FONT = "fonts/LiberationSerif-Regular.ttf"  # under static/: the documents' own font, with Vietnamese


class KeyUnavailable(Exception):
    """The signer's key cannot be reached; the message is Vietnamese and safe to show."""


@dataclass(frozen=True)
class Place:
    """Where the visible signature goes: page index and box in PDF points (origin bottom left)."""

    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Signature:
    """What the visible block says: authority form, title, full name; the time is added when signing."""

    authority: str  # "KT. GIÁM ĐỐC" or "GIÁM ĐỐC"
    title: str  # "PHÓ GIÁM ĐỐC" or ""
    name: str
    reason: str
    location: str


def key_entry(username: str) -> dict[str, Any]:
    keys = conf.signing_keys()
    entry = keys.get(username) or keys.get("default")
    if not entry:
        raise KeyUnavailable(f"Chưa cấu hình khóa ký số cho người ký {username}.")
    values = {"username": username, "pki_dir": str(conf.pki_dir())}
    return {k: v.format(**values) if isinstance(v, str) else v for k, v in entry.items()}


def _pkcs12(entry: dict[str, Any], username: str) -> signers.Signer:
    path = Path(entry["path"])
    if not path.is_file():
        raise KeyUnavailable(
            f"Không tìm thấy tệp khóa ký số của {username} ({path.name}); "
            "với bản demo, chạy: manage.py demo_pki."
        )
    passphrase: bytes | None = None
    if entry.get("passphrase_file"):
        pass_path = Path(entry["passphrase_file"])
        if pass_path.is_file():
            passphrase = pass_path.read_bytes().strip()
    elif entry.get("passphrase_env"):
        passphrase = os.environ.get(entry["passphrase_env"], "").encode() or None
    try:
        signer = signers.SimpleSigner.load_pkcs12(str(path), passphrase=passphrase)
    except Exception as exc:  # pyHanko logs and returns None, or raises, on a wrong passphrase
        raise KeyUnavailable(f"Không mở được tệp khóa ký số của {username}: {exc}") from exc
    if signer is None:
        raise KeyUnavailable(f"Không mở được tệp khóa ký số của {username} (sai mật khẩu hoặc tệp hỏng).")
    return signer


@contextlib.contextmanager
def _pkcs11(entry: dict[str, Any], username: str) -> Iterator[signers.Signer]:
    from pyhanko.sign.pkcs11 import PKCS11Signer, TokenCriteria, open_pkcs11_session

    pin = entry.get("pin")
    if entry.get("pin_env"):
        pin = os.environ.get(entry["pin_env"])
    try:
        session = open_pkcs11_session(
            entry["module"],
            token_criteria=TokenCriteria(label=entry.get("token_label")),
            user_pin=pin,
        )
    except Exception as exc:
        raise KeyUnavailable(f"Không kết nối được thiết bị ký số (token) của {username}: {exc}") from exc
    try:
        yield PKCS11Signer(
            session, key_label=entry.get("key_label") or username, cert_label=entry.get("cert_label")
        )
    finally:
        session.close()


@contextlib.contextmanager
def signer_open(username: str) -> Iterator[signers.Signer]:
    """The person's signer, open for the duration of the block (a token session is closed after)."""
    entry = key_entry(username)
    kind = entry.get("kind")
    if kind == "pkcs12":
        yield _pkcs12(entry, username)
    elif kind == "pkcs11":
        with _pkcs11(entry, username) as signer:
            yield signer
    else:
        raise KeyUnavailable(f"Loại khóa ký số không được hỗ trợ: {kind!r} (chỉ pkcs12, pkcs11).")


def _font_path() -> str:
    return str(Path(settings.BASE_DIR) / "static" / FONT)


def stamp_text(signature: Signature, moment: datetime.datetime) -> str:
    lines = [signature.authority]
    if signature.title:
        lines.append(signature.title)
    lines += [signature.name, f"Ký số: {moment.strftime('%d/%m/%Y %H:%M:%S')}"]
    return "\n".join(lines)


def sign_pdf(
    pdf: bytes, *, signer: signers.Signer, signature: Signature, place: Place, moment: datetime.datetime
) -> bytes:
    """The PDF with a visible signature block at ``place`` and a PAdES signature by ``signer``."""
    style = TextStampStyle(
        stamp_text=stamp_text(signature, moment),
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(_font_path(), font_size=9), leading=11),
        border_width=1,
        background=None,
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=signature.reason,
        location=signature.location,
        name=signature.name,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME, on_page=place.page, box=place.box),
    )
    out = BytesIO()
    pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf), strict=False), output=out)
    return out.getvalue()

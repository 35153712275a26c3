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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import StaticStampStyle

from documents import conf
from workflow.reports import pdf as report_pdf

FIELD_NAME = "ChuKySo"  # the signature field of an issued document


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


def moment_text(moment: datetime.datetime) -> str:
    offset = moment.strftime("%z")
    return f"{moment.strftime('%d/%m/%Y %H:%M:%S')} (GMT{offset[:3]}:{offset[3:]})"


def stamp_pdf(signature: Signature, moment: datetime.datetime, *, width: int, height: int) -> bytes:
    """The visible block as a one-page PDF drawn by WeasyPrint with the documents' own fonts
    (pyHanko's text stamps lay Vietnamese out badly): authority form, title, full name, time."""
    context = {"signature": signature, "moment_text": moment_text(moment), "width": width, "height": height}
    return report_pdf.render_pdf(
        render_to_string("documents/stamp.html", context),
        css=render_to_string("documents/stamp.css", context),
    )


def sign_pdf(
    pdf: bytes, *, signer: signers.Signer, signature: Signature, place: Place, moment: datetime.datetime
) -> bytes:
    """The PDF with a visible signature block at ``place`` and a PAdES signature by ``signer``."""
    x1, y1, x2, y2 = place.box
    stamp = stamp_pdf(signature, moment, width=x2 - x1, height=y2 - y1)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=signature.reason,
        location=signature.location,
        name=signature.name,
    )
    out = BytesIO()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as background:
        background.write(stamp)
        background.flush()
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            stamp_style=StaticStampStyle.from_pdf_file(background.name, border_width=0),
            new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD_NAME, on_page=place.page, box=place.box),
        )
        pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf), strict=False), output=out)
    return out.getvalue()

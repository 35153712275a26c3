"""Verifying a PDF for anyone: is the signature intact and valid, by whom, when, and are these
bytes exactly a document this department issued?

The verdict's ``ok`` is true only when all of it holds; ``reason`` names, in Vietnamese, the
first thing that does not (what the verification page and ``verify_document`` show).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from dataclasses import dataclass, field
from io import BytesIO

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from documents import conf
from documents.models import IssuedDocument

logger = logging.getLogger(__name__)

NOT_PDF = "Tệp không phải là PDF hoặc đã bị hỏng, không đọc được."
NO_SIGNATURE = "Tệp không có chữ ký số (chữ ký đã bị gỡ bỏ, hoặc đây không phải bản đã ký)."
NOT_INTACT = "Chữ ký số không còn nguyên vẹn: nội dung tệp đã bị thay đổi sau khi ký."
NOT_VALID = "Chữ ký số không hợp lệ: giá trị chữ ký không khớp với chứng thư số của người ký."
UNTRUSTED = (
    "Chữ ký số đúng về kỹ thuật nhưng chứng thư số của người ký không do tổ chức chứng thực mà Sở tin cậy "
    "cấp (chứng thư số không rõ nguồn gốc hoặc đã hết hạn, bị thu hồi)."
)
NOT_WHOLE = "Sau khi ký, tệp đã bị thêm nội dung: chữ ký số không bao trùm toàn bộ tệp."
NOT_ISSUED = (
    "Chữ ký số hợp lệ nhưng tệp không trùng khớp với văn bản nào Sở đã ban hành (mã SHA-256 không có trong "
    "sổ văn bản đi)."
)


@dataclass
class Verdict:
    ok: bool
    reason: str
    sha256: str
    signed: bool = False
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    signer_name: str = ""
    signer_title: str = ""
    signer_org: str = ""
    issuer_name: str = ""
    signed_at: datetime.datetime | None = None
    document: IssuedDocument | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def signed_at_text(self) -> str:
        return timezone.localtime(self.signed_at).strftime("%d/%m/%Y %H:%M:%S") if self.signed_at else ""

    def lines(self) -> list[str]:
        """The verdict as text (the command's output)."""
        out = [("HỢP LỆ: " if self.ok else "KHÔNG HỢP LỆ: ") + self.reason]
        if self.signed:
            out.append(
                f"Người ký: {self.signer_name}" + (f" – {self.signer_title}" if self.signer_title else "")
            )
            if self.signer_org:
                out.append(f"Cơ quan: {self.signer_org}")
            out.append(f"Chứng thư do: {self.issuer_name}")
            out.append(f"Thời điểm ký: {self.signed_at_text}")
        if self.document is not None:
            d = self.document
            out.append(f"Văn bản: số {d.number_text} ngày {d.issued_on_text} – {d.title}")
        out.append(f"SHA-256: {self.sha256}")
        return out


def _trust_roots() -> list[asn1_x509.Certificate]:
    roots = []
    for path in conf.trust_roots():
        if not path.is_file():
            logger.warning("trust root %s is missing", path)
            continue
        data = path.read_bytes()
        if asn1_pem.detect(data):
            for _, _, der in asn1_pem.unarmor(data, multiple=True):
                roots.append(asn1_x509.Certificate.load(der))
        else:
            roots.append(asn1_x509.Certificate.load(data))
    return roots


def _attribute(name: asn1_x509.Name, key: str) -> str:
    value = name.native.get(key, "")
    return value[-1] if isinstance(value, list) else str(value or "")


def verify_pdf(data: bytes) -> Verdict:
    sha = hashlib.sha256(data).hexdigest()
    issued = (
        IssuedDocument.objects.select_related("register", "replaces__register")
        .filter(sha256=sha, state=IssuedDocument.State.ISSUED)
        .first()
    )
    verdict = Verdict(ok=False, reason="", sha256=sha, document=issued)
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception:  # any parse error of a hostile or damaged file
        verdict.reason = NOT_PDF
        return verdict
    if not signatures:
        verdict.reason = NO_SIGNATURE
        return verdict
    signature = signatures[-1]  # the last revision's: it covers everything before it
    verdict.signed = True
    context = ValidationContext(trust_roots=_trust_roots(), allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(
            signature,
            context,
            key_usage_settings=KeyUsageConstraints(key_usage={"non_repudiation"}),
        )
    except Exception as exc:  # a signature so damaged that it cannot even be evaluated
        logger.info("signature could not be validated: %s", exc)
        verdict.reason = NOT_INTACT
        return verdict
    cert = status.signing_cert
    verdict.signer_name = _attribute(cert.subject, "common_name")
    verdict.signer_title = _attribute(cert.subject, "title")
    verdict.signer_org = _attribute(cert.subject, "organization_name")
    verdict.issuer_name = _attribute(cert.issuer, "common_name")
    verdict.signed_at = status.signer_reported_dt
    verdict.intact = bool(status.intact)
    verdict.valid = bool(status.valid)
    verdict.trusted = bool(status.trusted)
    verdict.whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if not verdict.intact:
        verdict.reason = NOT_INTACT
    elif not verdict.valid:
        verdict.reason = NOT_VALID
    elif not verdict.trusted:
        verdict.reason = UNTRUSTED
    elif not verdict.whole_file:
        verdict.reason = NOT_WHOLE
    elif issued is None:
        verdict.reason = NOT_ISSUED
    else:
        verdict.ok = True
        verdict.reason = (
            f"Chữ ký số nguyên vẹn và hợp lệ; tệp đúng là văn bản số {issued.number_text} "
            f"ngày {issued.issued_on_text} do Sở ban hành."
        )
        if issued.replaces is not None:
            verdict.reason += f" Văn bản này thay thế văn bản số {issued.replaces.number_text}."
        later = (
            issued.replaced_by.filter(state=IssuedDocument.State.ISSUED).select_related("register").first()
        )
        if later is not None:
            verdict.reason += f" Lưu ý: văn bản này đã được thay thế bởi văn bản số {later.number_text}."
    return verdict

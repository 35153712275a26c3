"""Verification for anyone: each way a file can fail is named; the public page and its limits."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils import generic
from pyhanko.sign import signers

from documents import pki, rendering, services, signing, verification
from documents.models import IssuedDocument
from tests.documents.helpers import flip_byte, without_signature

URL = "/van-ban/xac-minh/"


@pytest.fixture
def issued(leaders: dict[str, Any], period: Any, personas: dict[str, Any]) -> IssuedDocument:
    return services.issue_period_report(
        period_id=period.pk, signer=leaders["deputy"], actor=personas["office_reviewer"]
    )


def sign_with(pdf: bytes, certificate: Any, key: Any, ca: Any) -> bytes:
    """``pdf`` signed, like an issued document, by a key the department did not issue."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=None,
    )
    return signing.sign_pdf(
        pdf,
        signer=signer,
        signature=signing.Signature("GIÁM ĐỐC", "", "Kẻ Giả Mạo", "giả mạo", "Bắc Kạn"),
        place=signing.Place(0, (300, 40, 490, 102)),
        moment=timezone.localtime(),
    )


def test_an_issued_document_is_valid_and_found_in_the_register(issued: IssuedDocument) -> None:
    verdict = verification.verify_pdf(bytes(issued.pdf))

    assert verdict.ok and verdict.intact and verdict.valid and verdict.trusted and verdict.whole_file
    assert verdict.document == issued and verdict.signer_name == "Trần Thị Phó"
    assert verdict.signer_title == "Phó Giám đốc" and "DEMO" in verdict.issuer_name
    assert verdict.signed_at is not None


def test_a_changed_byte_is_reported_as_changed_after_signing(issued: IssuedDocument) -> None:
    verdict = verification.verify_pdf(flip_byte(bytes(issued.pdf)))

    assert not verdict.ok and verdict.document is None
    assert verdict.reason == verification.NOT_INTACT


def test_a_removed_signature_is_reported_as_missing(issued: IssuedDocument) -> None:
    stripped = without_signature(bytes(issued.pdf))

    verdict = verification.verify_pdf(stripped)

    assert not verdict.ok and not verdict.signed
    assert verdict.reason == verification.NO_SIGNATURE


def test_a_valid_signature_by_an_unknown_certificate_is_reported_as_untrusted(
    issued: IssuedDocument, leaders: dict[str, Any], period: Any
) -> None:
    # Given the same report, signed with a certificate from an authority nobody trusts here
    stranger = pki.authority_create("Một CA lạ")
    certificate, key = pki.person_certificate(stranger, full_name="Kẻ Giả Mạo", title="Giám đốc")
    body, _ = rendering.render_issued(
        "reports/period.html", services.period_source(period.pk).build(None), {}
    )
    forged = sign_with(body, certificate, key, stranger.certificate)

    verdict = verification.verify_pdf(forged)

    # Then the signature is intact and mathematically valid, but not trusted, and named so
    assert verdict.intact and verdict.valid and not verdict.trusted and not verdict.ok
    assert verdict.reason == verification.UNTRUSTED and verdict.signer_name == "Kẻ Giả Mạo"


def test_a_trusted_signature_on_bytes_the_department_never_issued_is_reported_as_not_issued(
    issued: IssuedDocument, leaders: dict[str, Any], pki_dir: Path
) -> None:
    # Given a file correctly signed with the deputy's key but never issued (outside the register)
    with signing.signer_open(leaders["deputy"].username) as key:
        other = signing.sign_pdf(
            without_signature(bytes(issued.pdf)),
            signer=key,
            signature=signing.Signature("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Trần Thị Phó", "thử", "Bắc Kạn"),
            place=signing.Place(0, (300, 40, 490, 102)),
            moment=timezone.localtime(),
        )

    verdict = verification.verify_pdf(other)

    assert verdict.intact and verdict.valid and verdict.trusted and verdict.document is None
    assert verdict.reason == verification.NOT_ISSUED


def test_content_appended_after_signing_is_reported(issued: IssuedDocument) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(bytes(issued.pdf)))
    writer.add_object(generic.TextStringObject("thêm"))
    out = BytesIO()
    writer.write(out)

    verdict = verification.verify_pdf(out.getvalue())

    assert not verdict.ok and verdict.intact and verdict.reason == verification.NOT_WHOLE


@pytest.mark.parametrize(
    "data", [b"", b"not a pdf", b"%PDF-1.7\n\x00\xff garbage", b"%PDF-1.4\n" + b"A" * 5000]
)
def test_what_is_not_a_pdf_is_reported_without_error(db: Any, data: bytes) -> None:
    verdict = verification.verify_pdf(data)
    assert not verdict.ok and verdict.reason in (verification.NOT_PDF, verification.NO_SIGNATURE)


# --- the page ------------------------------------------------------------------------------


def upload(client: Client, data: bytes, name: str = "van-ban.pdf") -> Any:
    return client.post(URL, {"file": SimpleUploadedFile(name, data, content_type="application/pdf")})


def test_anyone_without_login_verifies_on_the_page(issued: IssuedDocument) -> None:
    client = Client()
    assert reverse("documents:verify") == URL

    page = client.get(URL)
    good = upload(client, bytes(issued.pdf))
    bad = upload(client, flip_byte(bytes(issued.pdf)), name="sua.pdf")

    assert page.status_code == 200 and "Xác minh văn bản" in page.content.decode()
    assert good.status_code == 200 and bad.status_code == 200
    good_text, bad_text = good.content.decode(), bad.content.decode()
    assert "Văn bản hợp lệ" in good_text and "01/BC-SCT" in good_text and issued.sha256 in good_text
    assert "Trần Thị Phó" in good_text
    assert "Văn bản không hợp lệ" in bad_text and "đã bị thay đổi sau khi ký" in bad_text


def test_the_page_refuses_a_post_without_csrf_token(db: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = upload(client, b"%PDF-1.4")
    assert response.status_code == 403


def test_an_empty_post_or_too_large_file_is_400_in_vietnamese(db: Any, settings: Any) -> None:
    settings.DOCUMENT_VERIFY_MAX_BYTES = 1024 * 1024
    client = Client()

    empty = client.post(URL, {})
    large = upload(client, b"%PDF-1.4\n" + b"0" * (1024 * 1024))

    assert empty.status_code == 400 and "Trường này là bắt buộc" in empty.content.decode()
    assert large.status_code == 400 and "Tệp quá lớn: tối đa 1 MB." in large.content.decode()


def test_uploads_are_rate_limited_per_address_with_a_vietnamese_429(db: Any, settings: Any) -> None:
    settings.DOCUMENT_VERIFY_RATE = (3, 600)
    client = Client()
    codes = [upload(client, b"not a pdf").status_code for _ in range(4)]
    other = Client(REMOTE_ADDR="10.0.0.9")

    assert codes == [200, 200, 200, 429]
    assert "quá nhiều yêu cầu xác minh" in upload(client, b"x").content.decode()
    assert upload(other, b"not a pdf").status_code == 200  # another address has its own count
    assert client.get(URL).status_code == 200  # reading the page is not counted


def test_the_page_does_not_store_the_upload(issued: IssuedDocument) -> None:
    upload(Client(), flip_byte(bytes(issued.pdf)))
    assert IssuedDocument.objects.count() == 1

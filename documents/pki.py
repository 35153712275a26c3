"""The demo certificate authority and the demo leaders' certificates (``manage.py demo_pki``).

Clearly labelled as a demo in every certificate: a real deployment uses the certificates of
the government's specialised digital-signature service (chữ ký số chuyên dùng) on a token.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

DEMO_CA_NAME = "CCHC DEMO CA – KHÔNG DÙNG THẬT"
DEMO_ORG = "Sở Công Thương (DEMO – KHÔNG DÙNG THẬT)"


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def _name(common_name: str, *, title: str = "", org: str = DEMO_ORG) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if title:
        parts.append(x509.NameAttribute(NameOID.TITLE, title))
    return x509.Name(parts)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def authority_create(common_name: str = DEMO_CA_NAME, *, org: str = DEMO_ORG, years: int = 10) -> Authority:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(common_name, org=org)
    start = _now() - datetime.timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def person_certificate(
    authority: Authority, *, full_name: str, title: str, years: int = 3
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A signing certificate for one person: non-repudiation and digital signature."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = _now() - datetime.timedelta(days=1)
    org = authority.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert isinstance(org, str)  # an O= attribute is a string; only x500UniqueIdentifier is bytes
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(full_name, title=title, org=org))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False
        )
        .sign(authority.key, hashes.SHA256())
    )
    return certificate, key


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


def authority_save(authority: Authority, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(pem(authority.certificate))
    _write_private(
        directory / "ca.key",
        authority.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def authority_load(directory: Path) -> Authority | None:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Authority(x509.load_pem_x509_certificate(cert_path.read_bytes()), key)


def pkcs12_save(
    directory: Path,
    username: str,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
) -> Path:
    """``<username>.p12`` protected by a random passphrase kept in ``<username>.pass`` (both 0600)."""
    passphrase = secrets.token_urlsafe(24)
    data = pkcs12.serialize_key_and_certificates(
        username.encode(),
        key,
        certificate,
        [ca],
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    path = directory / f"{username}.p12"
    _write_private(path, data)
    _write_private(directory / f"{username}.pass", passphrase.encode())
    (directory / f"{username}.pem").write_bytes(pem(certificate))
    return path

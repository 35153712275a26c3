"""The token path: the same issuing, signed by a key inside a PKCS#11 token (SoftHSM2).

Each test makes its own token in a temporary directory (SOFTHSM2_CONF). Skipped, with the reason,
when SoftHSM2 is not installed: ``apt-get install -y softhsm2``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from documents import pki, services, signing, verification
from documents.models import IssuedDocument
from plans.roles import display_name

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
MODULE = next((m for m in MODULES if Path(m).is_file()), None)
PIN, SO_PIN, LABEL = "246810", "13579111", "CCHC-TOKEN"

pytestmark = pytest.mark.skipif(
    MODULE is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (apt-get install -y softhsm2): the PKCS#11 token path is not tested",
)


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    return tmp_path


def load_into_token(workdir: Path, label: str, certificate: Any, key: Any) -> None:
    """The key with softhsm2-util, the certificate with python-pkcs11 (both under ``label``, id 01)."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    key_file = workdir / f"{label}.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    subprocess.run(
        [
            "softhsm2-util",
            "--import",
            str(key_file),
            "--token",
            LABEL,
            "--label",
            label,
            "--id",
            "01",
            "--pin",
            PIN,
        ],
        check=True,
        capture_output=True,
    )
    key_file.unlink()
    library = pkcs11.lib(MODULE)
    with library.get_token(token_label=LABEL).open(rw=True, user_pin=PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.ID: b"\x01",
                Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                Attribute.SUBJECT: certificate.subject.public_bytes(),
            }
        )


def test_a_key_in_a_pkcs11_token_signs_through_the_same_interface(
    token: Path,
    pki_dir: Path,
    authority: pki.Authority,
    personas: dict[str, Any],
    period: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the director's key inside a token (and no PKCS#12 file anywhere), configured per signer
    director = personas["director"]
    certificate, key = pki.person_certificate(authority, full_name=display_name(director), title="Giám đốc")
    load_into_token(token, director.username, certificate, key)
    monkeypatch.setenv("CCHC_TOKEN_PIN", PIN)
    settings.DOCUMENT_SIGNING_KEYS = {
        director.username: {
            "kind": "pkcs11",
            "module": MODULE,
            "token_label": LABEL,
            "pin_env": "CCHC_TOKEN_PIN",
        },
    }
    assert not list(pki_dir.glob("*.p12"))

    # When the office issues the period report signed by the director
    document = services.issue_period_report(
        period_id=period.pk, signer=director, actor=personas["office_reviewer"]
    )

    # Then the signature is the token's key's: intact, valid, trusted, and the document is issued
    verdict = verification.verify_pdf(bytes(document.pdf))
    assert verdict.ok, verdict.reason
    assert verdict.signer_name == display_name(director)


def test_a_wrong_token_pin_is_a_clear_error_and_takes_no_number(
    token: Path, pki_dir: Path, personas: dict[str, Any], period: Any, settings: Any
) -> None:
    director = personas["director"]
    settings.DOCUMENT_SIGNING_KEYS = {
        "default": {"kind": "pkcs11", "module": MODULE, "token_label": LABEL, "pin": "000000"},
    }

    with pytest.raises(signing.KeyUnavailable, match="Không kết nối được thiết bị ký số"):
        services.issue_period_report(period_id=period.pk, signer=director, actor=personas["office_reviewer"])

    assert IssuedDocument.objects.count() == 0

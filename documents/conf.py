"""The documents app's settings, each with its default (override in config/settings.py or the
environment). Read through these functions so tests can change ``settings``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings


def pki_dir() -> Path:
    """Where ``demo_pki`` writes the demo authority and the leaders' keys (var/pki/)."""
    return Path(
        getattr(settings, "DOCUMENT_PKI_DIR", None)
        or os.environ.get("DOCUMENT_PKI_DIR")
        or (Path(settings.VAR_DIR) / "pki")
    )


def signing_keys() -> dict[str, dict[str, Any]]:
    """How each signer's key is reached: ``{"default": {...}, "<username>": {...}}``.

    An entry is ``{"kind": "pkcs12", "path": ..., "passphrase_file": ...}`` (a PKCS#12 file)
    or ``{"kind": "pkcs11", "module": ..., "token_label": ..., "pin_env": ..., "key_label": ...}``
    (a USB token, an HSM or a signing service's PKCS#11 module). ``{username}`` and
    ``{pki_dir}`` in the values are filled in. From settings.DOCUMENT_SIGNING_KEYS, else the
    environment variable of the same name (JSON), else the demo's PKCS#12 files in var/pki/.
    """
    configured = getattr(settings, "DOCUMENT_SIGNING_KEYS", None)
    if configured is None and os.environ.get("DOCUMENT_SIGNING_KEYS"):
        configured = json.loads(os.environ["DOCUMENT_SIGNING_KEYS"])
    return configured or {
        "default": {
            "kind": "pkcs12",
            "path": "{pki_dir}/{username}.p12",
            "passphrase_file": "{pki_dir}/{username}.pass",
        }
    }


def trust_roots() -> list[Path]:
    """The certificate authorities whose signatures verification accepts (PEM or DER files)."""
    configured = getattr(settings, "DOCUMENT_TRUST_ROOTS", None)
    if configured is None:
        raw = os.environ.get("DOCUMENT_TRUST_ROOTS", "")
        configured = [p for p in raw.split(",") if p.strip()] or [pki_dir() / "ca.pem"]
    return [Path(p) for p in configured]


def verify_max_bytes() -> int:
    return int(getattr(settings, "DOCUMENT_VERIFY_MAX_BYTES", 20 * 1024 * 1024))


def verify_rate() -> tuple[int, int]:
    """At most this many uploads per client address in this many seconds."""
    count, seconds = getattr(settings, "DOCUMENT_VERIFY_RATE", (30, 600))
    return int(count), int(seconds)

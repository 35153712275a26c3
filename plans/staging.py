"""An uploaded plan file waiting between preview and confirm.

The bytes wait in ``VAR_DIR/uploads/<random token>.bin`` (mode 0600), named only by the
session, never by anything the client sends; the session keeps the token, the name,
the SHA-256 (checked on every read) and the year asked for. A .doc/.odt waits as the
.docx LibreOffice made of it (``parse_name``), so that it is converted once; the
original's hash is kept as ``source_sha256``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest

__all__ = ["SESSION_KEY", "Staged", "discard", "pending", "stage"]

SESSION_KEY = "plan_upload"
_TOKEN = re.compile(r"[0-9a-f]{32}")
Staged = tuple[dict[str, Any], bytes]


def _directory() -> Path:
    return Path(settings.VAR_DIR) / "uploads"


def _path(token: str) -> Path:
    if not _TOKEN.fullmatch(token):
        raise ValueError("bad upload token")
    return _directory() / f"{token}.bin"


def _store(data: bytes) -> str:
    directory = _directory()
    directory.mkdir(parents=True, exist_ok=True)
    # Previews abandoned without Confirm or Cancel: gone once no session can still name them.
    stale_before = time.time() - settings.SESSION_MAX_AGE_SECONDS
    for old in directory.glob("*.bin"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < stale_before:
                old.unlink()
    token = secrets.token_hex(16)
    path = _path(token)
    with path.open("xb") as fh:
        fh.write(data)
    path.chmod(0o600)
    return token


def stage(
    request: HttpRequest,
    *,
    name: str,
    original: bytes,
    year: int | None,
    converted: bytes | None = None,
) -> None:
    """Keep the upload for this session (replacing one already waiting)."""
    discard(request)
    data = original if converted is None else converted
    entry: dict[str, Any] = {
        "token": _store(data),
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(original),
        "year": year,
    }
    if converted is not None:
        entry["parse_name"] = f"{name}.docx"
        entry["source_sha256"] = hashlib.sha256(original).hexdigest()
    request.session[SESSION_KEY] = entry


def discard(request: HttpRequest) -> None:
    """Forget the waiting upload and delete its bytes."""
    entry = request.session.pop(SESSION_KEY, None)
    if isinstance(entry, dict) and isinstance(entry.get("token"), str) and _TOKEN.fullmatch(entry["token"]):
        _path(entry["token"]).unlink(missing_ok=True)


def pending(request: HttpRequest) -> Staged | None:
    """The upload this session is working on and its bytes, if still intact."""
    entry = request.session.get(SESSION_KEY)
    if not isinstance(entry, dict):
        return None
    token = entry.get("token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    try:
        data = _path(token).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        return None
    return entry, data

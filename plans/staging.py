"""The files of an uploaded plan while it waits: for the parse job, then for the confirm.

``VAR_DIR/uploads/<random token>.bin`` holds the bytes sent (mode 0600) until the parse job
(``plans.tasks.parse_plan_upload``) has read them; ``<token>.json`` then holds the parsed
plan (``plan_to_json``) for the preview and the confirm. Files are named only by the token
of their ``PlanUpload`` row, never by anything the client sends, and every read checks the
SHA-256 kept in that row. The session remembers which upload it is working on.

One rule for files nobody will come back for: any staged file older than a session's life
(``SESSION_MAX_AGE_SECONDS``) is deleted when the next upload is stored; an upload that is
imported, cancelled, refused or failed deletes its own files at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

__all__ = [
    "SESSION_KEY",
    "discard",
    "drop_original",
    "forget",
    "read_original",
    "read_result",
    "remember",
    "remembered",
    "store",
    "store_result",
]

SESSION_KEY = "plan_upload"
_TOKEN = re.compile(r"[0-9a-f]{32}")
_SUFFIXES = (".bin", ".json")


def _directory() -> Path:
    return Path(settings.VAR_DIR) / "uploads"


def _path(token: str, suffix: str) -> Path:
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("bad upload token")
    return _directory() / f"{token}{suffix}"


def _write(path: Path, data: bytes) -> None:
    with path.open("xb") as fh:
        fh.write(data)
    path.chmod(0o600)


def _sweep(directory: Path) -> None:
    # Uploads abandoned without Confirm or Cancel: gone once no session can still name them.
    stale_before = time.time() - settings.SESSION_MAX_AGE_SECONDS
    for suffix in _SUFFIXES:
        for old in directory.glob(f"*{suffix}"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < stale_before:
                    old.unlink()


def store(data: bytes) -> str:
    """Keep the uploaded bytes under a new random token."""
    directory = _directory()
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_hex(16)
    _write(_path(token, ".bin"), data)
    return token


def _read(path: Path, sha256: str) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if sha256 and hashlib.sha256(data).hexdigest() == sha256 else None


def read_original(token: str, sha256: str) -> bytes | None:
    """The bytes sent, if still there and intact."""
    return _read(_path(token, ".bin"), sha256) if _TOKEN.fullmatch(token or "") else None


def store_result(token: str, data: bytes) -> str:
    """Keep the parsed plan (JSON bytes) next to the upload; returns its SHA-256."""
    _write(_path(token, ".json"), data)
    return hashlib.sha256(data).hexdigest()


def read_result(token: str, sha256: str) -> bytes | None:
    """The parsed plan, if still there and intact."""
    return _read(_path(token, ".json"), sha256) if _TOKEN.fullmatch(token or "") else None


def drop_original(token: str) -> None:
    """The bytes sent are no longer needed once the parsed plan is kept."""
    if _TOKEN.fullmatch(token or ""):
        _path(token, ".bin").unlink(missing_ok=True)


def discard(token: str) -> None:
    """Delete every file of the upload."""
    if _TOKEN.fullmatch(token or ""):
        for suffix in _SUFFIXES:
            _path(token, suffix).unlink(missing_ok=True)


# --- The session's upload -----------------------------------------------------------------


def remember(request: HttpRequest, upload_id: int) -> None:
    request.session[SESSION_KEY] = {"upload": upload_id}


def remembered(request: HttpRequest) -> int | None:
    """The id of the upload this session works on (preview, confirm, cancel), if any."""
    entry = request.session.get(SESSION_KEY)
    upload_id = entry.get("upload") if isinstance(entry, dict) else None
    return upload_id if isinstance(upload_id, int) and not isinstance(upload_id, bool) else None


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)

"""``parse_upload`` in a child process with memory, CPU, file-size and wall-clock limits.

The web process only writes the upload to a private temporary directory, starts
``python -m plans.parsing.worker DIR`` and waits (``Popen.wait`` sleeps without holding
the GIL, so other requests of the same process go on). The worker gives up its
priority (``nice``), sets ``RLIMIT_AS`` (its address space after start-up plus a budget),
``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and no core files, parses (converting a .doc/.odt with
LibreOffice first, which inherits the limits) and writes the tree as JSON. A file that
needs more memory or time than a plan ever does is refused with a Vietnamese message;
whatever the file, the web process's own memory does not grow with it.

Synchronous on purpose: the caller may be a request, a management command or a
background job; each gets the same limits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from plans.parsing.convert import CONVERT_SECONDS
from plans.parsing.dispatch import ReadUpload
from plans.parsing.errors import PlanParseError
from plans.parsing.rules import CONVERTED_SUFFIXES, check_name, check_size, upload_limit
from plans.parsing.tree import plan_from_json
from plans.parsing.units import UnitDirectory

__all__ = ["EXIT_MEMORY", "Limits", "child_env", "parse_upload_bounded"]

log = logging.getLogger(__name__)
MB = 1024 * 1024
EXIT_MEMORY = 3  # the worker ran out of its memory budget
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_MAX_RESULT = 64 * MB
# Parses running at once in one web process; more wait for a slot (never for long).
_SLOTS = threading.BoundedSemaphore(3)

MEMORY_MESSAGE = (
    "Tệp cần quá nhiều bộ nhớ để đọc (vượt giới hạn {budget} MB của một kế hoạch); "
    "không xử lý vì lý do an toàn. Hãy kiểm tra lại tệp."
)
TIME_MESSAGE = (
    "Đọc tệp mất quá {seconds:.0f} giây nên đã dừng; không xử lý vì lý do an toàn. "
    "Hãy kiểm tra lại tệp hoặc lưu lại thành .docx rồi tải lên."
)
BUSY_MESSAGE = "Hệ thống đang đọc nhiều tệp khác; hãy thử lại sau ít phút."
FAILED_MESSAGE = "Không đọc được tệp: tệp bị hỏng hoặc không đúng định dạng."


@dataclass(frozen=True)
class Limits:
    """What one parse may use. ``memory_bytes`` is a budget above the worker's own start-up."""

    memory_bytes: int = 200 * MB
    cpu_seconds: int = 10
    wall_seconds: float = 15.0
    file_bytes: int = 64 * MB  # anything the worker (or LibreOffice) writes
    convert_memory_bytes: int = 2048 * MB  # LibreOffice maps far more than it touches
    convert_seconds: float = CONVERT_SECONDS


def child_env(tmp: str) -> dict[str, str]:
    """Nothing of the web process's environment (no secrets, no database URL)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8"}


def parse_upload_bounded(
    name: str,
    data: bytes,
    units: UnitDirectory,
    *,
    limits: Limits | None = None,
    max_bytes: int | None = None,
) -> ReadUpload:
    """``plans.parsing.read_upload`` run in a bounded child; ``PlanParseError`` for any refusal."""
    limits = limits or Limits()
    suffix = check_name(name)  # the cheap refusals need no child
    max_bytes = upload_limit() if max_bytes is None else max_bytes
    check_size(len(data), max_bytes)
    converting = suffix in CONVERTED_SUFFIXES
    wall = limits.wall_seconds + (limits.convert_seconds if converting else 0)
    if not _SLOTS.acquire(timeout=wall):
        raise PlanParseError(BUSY_MESSAGE)
    try:
        with tempfile.TemporaryDirectory(prefix="cchc-parse-") as tmp:
            return _run(Path(tmp), name, data, units, limits, max_bytes, wall)
    finally:
        _SLOTS.release()


def _run(
    work: Path, name: str, data: bytes, units: UnitDirectory, limits: Limits, max_bytes: int, wall: float
) -> ReadUpload:
    (work / "upload.bin").write_bytes(data)
    request = {"name": name, "max_bytes": max_bytes, "units": units.to_json(), "limits": asdict(limits)}
    (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
    with (work / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own module, a fixed command line
            [sys.executable, "-E", "-s", "-m", "plans.parsing.worker", str(work)],
            cwd=_PROJECT_ROOT,
            env=child_env(str(work)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            code: int | None = process.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            code = None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the worker and a LibreOffice it started
            process.wait()
    if code is None or code in (-signal.SIGXCPU, -signal.SIGKILL):
        raise PlanParseError(TIME_MESSAGE.format(seconds=wall if code is None else limits.cpu_seconds))
    if code == EXIT_MEMORY:
        raise PlanParseError(MEMORY_MESSAGE.format(budget=limits.memory_bytes // MB))
    result = work / "result.json"
    if code != 0 or not result.is_file() or result.stat().st_size > _MAX_RESULT:
        _log_failure(work, code)
        raise PlanParseError(FAILED_MESSAGE)
    try:
        payload = json.loads(result.read_bytes())
        refused = (
            None if payload["ok"] else (str(payload["message"]), payload.get("row"), payload.get("text"))
        )
        plan = plan_from_json(payload["plan"]) if refused is None else None
    except (ValueError, KeyError, TypeError) as exc:
        _log_failure(work, code)
        raise PlanParseError(FAILED_MESSAGE) from exc
    if refused is not None or plan is None:
        message, row, text = refused or (FAILED_MESSAGE, None, "")
        raise PlanParseError(message, row=row if isinstance(row, int) else None, text=str(text or ""))
    converted = work / "converted.docx"
    return ReadUpload(plan=plan, converted=converted.read_bytes() if payload.get("converted") else None)


def _log_failure(work: Path, code: int | None) -> None:
    try:
        with (work / "stderr.txt").open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 2000))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    log.warning("plan parse worker failed (exit %s): %s", code, tail)

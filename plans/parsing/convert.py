"""Word 97 (.doc) and OpenDocument (.odt) plans, converted to .docx by LibreOffice headless.

Run inside the bounded parse worker (``plans.parsing.worker``), whose memory, CPU and
file-size limits LibreOffice inherits; here it gets its own throw-away profile and home
directory, a wall-clock timeout, and its whole process group is killed when it ends.
Where LibreOffice is not installed (Debian: ``libreoffice-writer-nogui``), the file is
refused with how to save it as .docx.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from plans.parsing.errors import PlanParseError

__all__ = ["CONVERT_SECONDS", "soffice_path", "to_docx"]

CONVERT_SECONDS = 60.0  # a first start with a fresh profile takes a few seconds; a plan converts in ~2 s
_KIND = {".doc": "Word 97–2003 (.doc)", ".odt": "OpenDocument (.odt)"}
_SAVE_AS = {
    ".doc": "Hãy mở tệp bằng Word hoặc LibreOffice, chọn Tệp → Lưu thành → “Tài liệu Word (*.docx)”, "
    "rồi tải tệp .docx lên.",
    ".odt": "Hãy mở tệp bằng LibreOffice Writer hoặc Word, chọn Tệp → Lưu thành → “Word 2007–365 (.docx)”, "
    "rồi tải tệp .docx lên.",
}


def soffice_path() -> str | None:
    """The LibreOffice executable, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def to_docx(data: bytes, suffix: str, *, timeout: float = CONVERT_SECONDS) -> bytes:
    """The .docx LibreOffice writes for a .doc or .odt file; ``PlanParseError`` otherwise."""
    kind, save_as = _KIND[suffix], _SAVE_AS[suffix]
    exe = soffice_path()
    if exe is None:
        raise PlanParseError(f"Máy chủ chưa cài LibreOffice nên chưa đọc được tệp {kind}. {save_as}")
    with tempfile.TemporaryDirectory(prefix="cchc-convert-") as tmp:
        work = Path(tmp)
        source = work / f"ke-hoach{suffix}"
        source.write_bytes(data)
        out = work / "out"
        out.mkdir()
        command = [
            exe,
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--nologo",
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
            str(out),
            str(source),
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8"}
        process = subprocess.Popen(  # noqa: S603 - a fixed command line; the file is ours
            command,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise PlanParseError(
                f"Chuyển đổi tệp {kind} mất quá {timeout:.0f} giây nên đã dừng. {save_as}"
            ) from exc
        finally:
            _kill_group(process.pid)  # soffice.bin may outlive its launcher
            process.wait()
        result = out / "ke-hoach.docx"
        if not result.is_file() or result.stat().st_size == 0:
            raise PlanParseError(f"Không chuyển đổi được tệp {kind}: tệp bị hỏng hoặc có mật khẩu. {save_as}")
        return result.read_bytes()

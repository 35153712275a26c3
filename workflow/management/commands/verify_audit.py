"""manage.py verify_audit: walk the audit chain; exit 1 naming the first tampered event.

The daily check (cron) is ``verify_audit --export --mail``: the previous head exported is
checked as an anchor, the new head is written to ``AUDIT_HEAD_DIR`` (outside the database's
directory), and the result is mailed to the auditors after the check.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, action_label
from audit.services import ChainStatus, verify_chain_status
from plans import access

_ANCHOR = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")
HEAD_FILE = "audit-head.txt"


def _anchor(value: str) -> tuple[int, str]:
    match = _ANCHOR.match(value.strip().lower())
    if match is None:
        raise CommandError("--anchor phải có dạng SỐ:MÃ_BĂM (mã băm SHA-256, 64 ký tự hex).")
    return int(match[1]), match[2]


def database_directories() -> list[Path]:
    """Where the database keeps its files, as far as the app can tell: the SQLite file's
    folder; PostgreSQL's data_directory when the role may read it."""
    if connection.vendor == "sqlite":
        name = str(settings.DATABASES["default"]["NAME"])
        return [] if name in ("", ":memory:") or name.startswith("file:") else [Path(name).resolve().parent]
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('data_directory', true)")
                (path,) = cursor.fetchone()
        except DatabaseError:  # not allowed to read it: only a superuser or pg_read_all_settings
            return []
        return [Path(path).resolve()] if path else []
    return []


def export_dir(value: str) -> Path:
    """The folder the head is exported to; refused inside the database's own folder."""
    if not value:
        raise CommandError("--export cần một thư mục (hoặc đặt AUDIT_HEAD_DIR).")
    folder = Path(value).resolve()
    for db_dir in database_directories():
        if folder == db_dir or folder.is_relative_to(db_dir):
            raise CommandError(
                f"Thư mục {folder} nằm trong thư mục của cơ sở dữ liệu ({db_dir}): "
                "hãy xuất mốc nhật ký ra nơi khác."
            )
    return folder


def read_exported_head(folder: Path) -> tuple[int, str] | None:
    path = folder / HEAD_FILE
    if not path.exists():
        return None
    try:
        return _anchor(path.read_text(encoding="ascii"))
    except (CommandError, UnicodeDecodeError) as exc:
        raise CommandError(f"Tệp mốc {path} không đúng dạng SỐ:MÃ_BĂM: đã bị sửa?") from exc


def write_exported_head(folder: Path, status: ChainStatus) -> Path:
    """Write ``SEQ:HASH`` as the latest head (atomically) and a dated copy beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    line = f"{status.head_seq}:{status.head_hash}\n"
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    (folder / f"audit-head-{stamp}.txt").write_text(line, encoding="ascii")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".audit-head-")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(line)
    os.replace(tmp, folder / HEAD_FILE)
    return folder / HEAD_FILE


def mail_auditors(subject: str, body: str) -> int:
    """Queue a mail to the auditors (the "Kiểm tra, thẩm định" group) on the durable mail queue
    (workflow/mail.py): the check never waits for the mail server. Returns the number of recipients."""

    from workflow.mail import SUBJECT_MAX, header_line, mails_enqueue
    from workflow.models import OutgoingMail

    recipients = sorted(access.auditors().exclude(email="").values_list("email", flat=True).distinct())
    line = header_line(subject, limit=SUBJECT_MAX)
    with transaction.atomic():
        mails_enqueue([OutgoingMail(recipient=r, subject=line, body=body) for r in recipients])
    return len(recipients)


class Command(BaseCommand):
    help = (
        "Kiểm tra tính toàn vẹn của nhật ký (chuỗi mã băm có khóa): báo sự kiện đầu tiên bị sửa, xóa, "
        "chèn, đổi thứ tự hoặc ghi thêm không có khóa; mã thoát khác 0 khi nhật ký bị can thiệp."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000, help="số sự kiện đọc mỗi lượt (mặc định 2000)")
        parser.add_argument(
            "--anchor",
            type=_anchor,
            help="SỐ:MÃ_BĂM đã ghi lại từ một lần kiểm tra trước: sự kiện đó phải còn nguyên",
        )
        parser.add_argument(
            "--export",
            nargs="?",
            const=None,
            default=False,
            metavar="THƯ_MỤC",
            help="kiểm tra cả mốc đã xuất lần trước, rồi ghi mốc mới (SỐ:MÃ_BĂM) vào thư mục này "
            "(mặc định AUDIT_HEAD_DIR), ngoài thư mục của cơ sở dữ liệu",
        )
        parser.add_argument(
            "--mail", action="store_true", help="gửi kết quả và mốc cho người kiểm tra, thẩm định"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch phải lớn hơn 0.")
        folder = None
        anchors = []
        if options["export"] is not False:
            folder = export_dir(options["export"] or settings.AUDIT_HEAD_DIR)
            previous = read_exported_head(folder)
            if previous is not None:
                anchors.append(previous)
        status = verify_chain_status(batch=options["batch"], anchor=options["anchor"], anchors=anchors)
        lines, code = self._report(status)
        if code == 0 and folder is not None:
            path = write_exported_head(folder, status)
            lines.append(f"Đã ghi mốc vào {path}.")
        for line in lines:
            (self.stdout if code == 0 else self.stderr).write(line)
        if options["mail"]:
            self._mail(status, lines)
        if code:
            raise SystemExit(code)

    def _report(self, status: ChainStatus) -> tuple[list[str], int]:
        broken = status.broken
        if broken is None:
            lines = [f"Nhật ký toàn vẹn: {status.checked} sự kiện."]
            if status.head_seq:
                lines.append(f"Sự kiện cuối: #{status.head_seq}, mã băm {status.head_hash}")
            if status.unkeyed:
                lines.append(
                    f"#1–#{status.unkeyed}: ghi trước khi nhật ký dùng khóa HMAC (mã băm không khóa)."
                )
            return lines, 0
        event = AuditEvent.objects.filter(seq=broken.seq).first()
        where = f"sự kiện #{broken.seq}"
        if event is not None:
            when = timezone.localtime(event.created_at).strftime("%d/%m/%Y %H:%M")
            where += f" ({action_label(event.action)}, {event.actor_name}, {when})"
        lines = [f"Nhật ký bị can thiệp tại {where}: {broken.problem}."]
        intact = min(status.checked, broken.seq - 1)
        if intact:
            lines.append(f"Các sự kiện #1–#{intact} trước đó còn nguyên vẹn.")
        return lines, 1

    def _mail(self, status: ChainStatus, lines: list[str]) -> None:
        today = timezone.localdate().strftime("%d/%m/%Y")
        verdict = "toàn vẹn" if status.intact else "BỊ CAN THIỆP"
        body = "\n".join(lines)
        if status.intact:
            body += (
                f"\n\nMốc nhật ký: {status.head_seq}:{status.head_hash}\n"
                "Hãy lưu giữ thư này ngoài máy chủ. Để kiểm tra sau này rằng nhật ký đến mốc này "
                f"không bị sửa: manage.py verify_audit --anchor {status.head_seq}:{status.head_hash}\n"
            )
        try:
            sent = mail_auditors(f"[CCHC] Kiểm tra nhật ký ngày {today}: {verdict}", body)
        except Exception as exc:  # noqa: BLE001 - any transport failure; the check itself stands
            self.stderr.write(f"Không gửi được thư cho người kiểm tra, thẩm định: {exc}")
            raise SystemExit(1 if not status.intact else 2) from exc
        if sent == 0:
            self.stderr.write("Không có người kiểm tra, thẩm định nào có địa chỉ thư: chưa gửi mốc cho ai.")
        else:
            self.stdout.write(f"Đã gửi kết quả cho {sent} người kiểm tra, thẩm định.")

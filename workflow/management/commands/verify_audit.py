"""manage.py verify_audit: walk the audit chain; exit 1 naming the first tampered event."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from workflow.audit import action_label, verify_chain_status
from workflow.models import AuditEvent

_ANCHOR = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


def _anchor(value: str) -> tuple[int, str]:
    match = _ANCHOR.match(value.strip().lower())
    if match is None:
        raise CommandError("--anchor phải có dạng SỐ:MÃ_BĂM (mã băm SHA-256, 64 ký tự hex).")
    return int(match[1]), match[2]


class Command(BaseCommand):
    help = (
        "Kiểm tra tính toàn vẹn của nhật ký (chuỗi mã băm): báo sự kiện đầu tiên bị sửa, xóa, "
        "chèn hoặc đổi thứ tự; mã thoát khác 0 khi nhật ký bị can thiệp."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000, help="số sự kiện đọc mỗi lượt (mặc định 2000)")
        parser.add_argument(
            "--anchor",
            type=_anchor,
            help="SỐ:MÃ_BĂM đã ghi lại từ một lần kiểm tra trước: sự kiện đó phải còn nguyên",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch phải lớn hơn 0.")
        status = verify_chain_status(batch=options["batch"], anchor=options["anchor"])
        broken = status.broken
        if broken is None:
            self.stdout.write(f"Nhật ký toàn vẹn: {status.checked} sự kiện.")
            if status.head_seq:
                self.stdout.write(f"Sự kiện cuối: #{status.head_seq}, mã băm {status.head_hash}")
            return
        event = AuditEvent.objects.filter(seq=broken.seq).first()
        where = f"sự kiện #{broken.seq}"
        if event is not None:
            when = timezone.localtime(event.created_at).strftime("%d/%m/%Y %H:%M")
            where += f" ({action_label(event.action)}, {event.actor_name}, {when})"
        self.stderr.write(f"Nhật ký bị can thiệp tại {where}: {broken.problem}.")
        intact = min(status.checked, broken.seq - 1)
        if intact:
            self.stderr.write(f"Các sự kiện #1–#{intact} trước đó còn nguyên vẹn.")
        raise SystemExit(1)

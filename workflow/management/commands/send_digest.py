"""manage.py send_digest: each person's notifications of a day in one mail (MAIL_DIGEST=1).

Cron: 0 6 * * * (README) mails the day before; ``--date dd/mm/yyyy`` for another day. Runs any
number of times without sending a person two digests of one day.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from workflow.notifications import digest_send


class Command(BaseCommand):
    help = "Gửi thư tóm tắt thông báo trong ngày cho từng người (khi MAIL_DIGEST=1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", default="", help="Ngày cần tóm tắt, dạng dd/mm/yyyy (mặc định: hôm qua)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.MAIL_DIGEST:
            self.stdout.write("MAIL_DIGEST chưa bật: thư được gửi theo từng thông báo, không gửi tóm tắt.")
            return
        if options["date"]:
            try:
                dd, mm, yyyy = (int(part) for part in options["date"].split("/"))
                day = datetime.date(yyyy, mm, dd)
            except ValueError as exc:  # not three numbers, or no such day
                raise CommandError("Ngày không hợp lệ: hãy ghi dạng dd/mm/yyyy, ví dụ 01/12/2026.") from exc
        else:
            day = timezone.localdate() - datetime.timedelta(days=1)
        queued = digest_send(day=day)
        self.stdout.write(f"Đã xếp {queued} thư tóm tắt ngày {day:%d/%m/%Y} vào hàng đợi gửi.")

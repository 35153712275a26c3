"""manage.py send_reminders: deadline reminders, each sent once. Cron: 0 7 * * * (see README)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from workflow.services import reminders_send


class Command(BaseCommand):
    help = "Gửi nhắc hạn (7, 3, 1 ngày trước hạn và khi quá hạn); mỗi nhắc chỉ gửi một lần."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = reminders_send()
        self.stdout.write(f"Đã gửi {sent} nhắc hạn.")

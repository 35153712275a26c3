"""manage.py launch_period --period Q1|H1|Q3|Y [--plan ID]: start a period for a whole plan."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from plans.models import Plan
from plans.periods import periods_ensure
from workflow import services


class Command(BaseCommand):
    help = "Khởi tạo quy trình báo cáo cho toàn bộ nhiệm vụ của một kỳ (chạy lại không tạo trùng)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, choices=["Q1", "H1", "Q3", "Y"], help="Mã kỳ báo cáo")
        parser.add_argument("--plan", type=int, help="Mã kế hoạch (mặc định: kế hoạch mới nhất)")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(pk=options["plan"]).first() if options["plan"] else Plan.objects.first()
        if plan is None:
            raise CommandError("Không tìm thấy kế hoạch. Hãy nhập kế hoạch trước (manage.py import_plan).")
        period = {p.code: p for p in periods_ensure(plan=plan)}[options["period"]]
        try:
            result = services.period_launch(period=period, actor=None)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            f"Kỳ {period.label}: khởi tạo {len(result.started)} quy trình, bỏ qua {result.skipped} đã có."
        )

"""manage.py export_plan: the plan as JSON (docs/plan-json.md) or as an Excel workbook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plans.models import Plan
from plans.selectors import plan_export_data
from plans.xlsx import plan_xlsx


class Command(BaseCommand):
    help = "Xuất kế hoạch ra JSON (định dạng ở docs/plan-json.md) hoặc Excel (.xlsx, mỗi phụ lục một trang)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--plan", type=int, help="ID kế hoạch (mặc định: kế hoạch mới nhất).")
        parser.add_argument("--format", choices=["json", "xlsx"], required=True, help="json hoặc xlsx")
        parser.add_argument("-o", "--output", help="Tệp kết quả (JSON: mặc định in ra màn hình).")

    def handle(self, *args: Any, **options: Any) -> None:
        plans = Plan.objects.order_by("-year", "-pk")
        plan = plans.filter(pk=options["plan"]).first() if options["plan"] is not None else plans.first()
        if plan is None:
            raise CommandError(
                f"Không có kế hoạch ID {options['plan']}."
                if options["plan"] is not None
                else "Chưa có kế hoạch nào."
            )
        output = Path(options["output"]) if options["output"] else None
        if options["format"] == "json":
            text = json.dumps(plan_export_data(plan), ensure_ascii=False, indent=2) + "\n"
            if output is None:
                self.stdout.write(text, ending="")
                return
            self._write(output, text.encode("utf-8"))
        else:
            if output is None:
                raise CommandError("Định dạng xlsx cần tệp kết quả: thêm -o TỆP.xlsx.")
            self._write(output, plan_xlsx(plan))
        self.stderr.write(f"Đã ghi {output}")

    def _write(self, path: Path, data: bytes) -> None:
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"Không ghi được tệp “{path}”: {exc.strerror or exc}") from exc

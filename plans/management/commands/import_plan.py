"""manage.py import_plan PATH: read the plan's appendices from a plan file into the database.

The file is parsed like an upload: in a bounded child process (``parse_upload_bounded``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plans.models import Plan
from plans.parsing import PlanParseError, check_name, check_size, parse_upload_bounded
from plans.services import ImportReport, plan_import, unit_directory


class Command(BaseCommand):
    help = (
        "Nhập kế hoạch CCHC từ tệp .docx, .xlsx, .txt, .doc hoặc .odt (các bảng phụ lục). Nhập lại cùng tệp không thay đổi gì; "
        "--dry-run chỉ báo cáo những gì sẽ thay đổi."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Tệp kế hoạch (.docx, .xlsx, .txt UTF-8, .doc, .odt)")
        parser.add_argument("--dry-run", action="store_true", help="Chỉ đọc và báo cáo, không ghi gì.")
        parser.add_argument(
            "--plan", type=int, help="Nhập vào kế hoạch có ID này (mặc định: kế hoạch cùng năm)."
        )
        parser.add_argument(
            "--year", type=int, help="Năm kế hoạch (mặc định: năm ghi trong tiêu đề phụ lục)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if path.exists() and not path.is_file():
            raise CommandError(f"“{path}” không phải là tệp.")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise CommandError(f"Không mở được tệp “{path}”: {exc.strerror or exc}") from exc
        try:
            check_name(path.name)
            check_size(size)
        except PlanParseError as exc:
            raise CommandError(exc.message) from exc
        data = path.read_bytes()

        plan = None
        if options["plan"] is not None:
            plan = Plan.objects.filter(pk=options["plan"]).first()
            if plan is None:
                raise CommandError(f"Không có kế hoạch ID {options['plan']}.")
        try:
            parsed = parse_upload_bounded(path.name, data, unit_directory()).plan
            report = plan_import(
                parsed=parsed,
                plan=plan,
                year=options["year"],
                source_name=path.name,
                source_sha256=hashlib.sha256(data).hexdigest(),
                dry_run=options["dry_run"],
            )
        except PlanParseError as exc:
            where = f" (dòng {exc.row})" if exc.row else ""
            raise CommandError(f"{exc.message}{where}") from exc
        self._summary(path.name, report)

    def _summary(self, name: str, report: ImportReport) -> None:
        out = self.stdout.write
        out(f"Tệp: {name}")
        if report.plan is not None:
            out(f"Kế hoạch: {report.plan.title} (ID {report.plan.pk}, năm {report.year})")
        else:
            out(f"Kế hoạch: mới, năm {report.year}")
        for a in report.appendices:
            out(f"  Phụ lục {a.number} ({a.index}): {a.tasks} nhiệm vụ, {a.inherited_cells} ô gộp kế thừa")
        out(
            f"Tổng: {len(report.appendices)} phụ lục, {report.tasks} nhiệm vụ, {report.inherited_cells} ô gộp kế thừa"
        )
        out(f"Thêm {len(report.added)}, sửa {len(report.changed)}, xóa {len(report.removed)} nhiệm vụ.")
        for label, keys in (("Thêm", report.added), ("Sửa", report.changed), ("Xóa", report.removed)):
            if keys and len(keys) <= 20:
                out(f"  {label}: {', '.join(keys)}")
        if report.dry_run:
            out("Chạy thử (--dry-run): chưa ghi gì vào cơ sở dữ liệu.")
        elif not report.has_changes:
            out("Không có gì thay đổi.")
        else:
            self.stdout.write(self.style.SUCCESS("Đã nhập xong."))

"""manage.py issue_report --period ID [--signer USERNAME] -o FILE.pdf

Issues the period report: the next number of the year's register, the signer's PAdES
signature, the frozen PDF stored in the register; writes the signed PDF to FILE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents import services, signing
from documents.models import IssuedDocument


class Command(BaseCommand):
    help = "Ban hành (cấp số, ký số) báo cáo kết quả của một kỳ và ghi tệp PDF đã ký."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", type=int, required=True, help="mã (id) kỳ báo cáo")
        parser.add_argument("--signer", help="tài khoản người ký (mặc định: Giám đốc)")
        parser.add_argument("--replaces", type=int, help="id văn bản đã ban hành mà văn bản này thay thế")
        parser.add_argument("-o", "--output", required=True, help="tệp PDF ghi ra")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if options.get("signer"):
            signer = users.filter(username=options["signer"]).first()
            if signer is None:
                raise CommandError(f"Không có tài khoản người ký {options['signer']}.")
        else:
            signer = services.default_signer()
            if signer is None:
                raise CommandError("Chưa có tài khoản Giám đốc; chỉ định --signer.")
        replaces = None
        if options.get("replaces"):
            replaces = IssuedDocument.objects.filter(pk=options["replaces"]).first()
            if replaces is None:
                raise CommandError(f"Không có văn bản số hiệu (id) {options['replaces']}.")
        try:
            document = services.issue_period_report(
                period_id=options["period"], signer=signer, actor=None, replaces=replaces
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except (signing.KeyUnavailable, services.IssueFailed) as exc:
            raise CommandError(str(exc)) from exc
        Path(options["output"]).write_bytes(bytes(document.pdf))
        self.stdout.write(
            f"Đã ban hành văn bản số {document.number_text} ngày {document.issued_on_text}, "
            f"người ký {document.signer_name}; SHA-256 {document.sha256}; tệp {options['output']}"
        )

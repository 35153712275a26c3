"""manage.py verify_document FILE: exit 0 when the signature is intact, valid, by a trusted
certificate, and the bytes are a document this department issued; 1 otherwise (the reason,
in Vietnamese, on the output)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.verification import verify_pdf


class Command(BaseCommand):
    help = "Xác minh chữ ký số và nguồn gốc của một tệp PDF văn bản."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="tệp PDF cần xác minh")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp {path}.")
        verdict = verify_pdf(path.read_bytes())
        for line in verdict.lines():
            self.stdout.write(line)
        if not verdict.ok:
            sys.exit(1)

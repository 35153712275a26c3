"""manage.py restore DIR: put back a backup written by ``manage.py backup``.

Everything is checked before anything changes: the manifest must be there and readable,
whole (its own SHA-256, ``manifest_sha256``, matches the rest of it: one edited row count
is a refusal, not a surprise after the live database was replaced), made for this kind of
database, and every file (the database file and each evidence file) must be listed and have
the SHA-256 the manifest says; a file too many or too few is a refusal as well. On SQLite
the backup file's row counts are compared with the manifest too, before the restore.
A refusal is a Vietnamese message, exit status 1, and nothing changed.

Then:

1. the evidence files are copied into a staging directory beside EVIDENCE_ROOT (and hashed
   again as they are written);
2. the database is replaced: PostgreSQL by ``pg_restore --clean --if-exists
   --single-transaction --exit-on-error`` (all or nothing; tables are dropped and recreated,
   so a trigger refusing UPDATE/DELETE on the audit table is no obstacle); SQLite by the
   online backup API in reverse (the backup file copied onto the live database through
   Django's own connection, in one step, under SQLite's lock);
3. the staged files are renamed into EVIDENCE_ROOT (a file uploaded after the backup, which
   no restored row names any more, is left where it is);
4. the row count of every table is compared with the manifest.

Stop the application (gunicorn) before restoring: on PostgreSQL, if pg_restore has to wait
for a table lock longer than ``--lock-timeout`` seconds, it is cancelled and nothing changes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from workflow.management.commands.backup import (
    DATABASE_FILES,
    EVIDENCE_DIR,
    FORMAT,
    MANIFEST,
    MANIFEST_DIGEST,
    copy_hashed,
    manifest_digest,
    pg_connect_params,
    pg_env,
    sha256_file,
    table_counts,
    vendor_of,
)

_SAFE_PART = re.compile(r"[0-9A-Za-z_][0-9A-Za-z_.-]*")
NOTHING_CHANGED = "Không khôi phục gì cả."


def _refuse(message: str) -> CommandError:
    return CommandError(f"{message} {NOTHING_CHANGED}")


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(parts) and all(_SAFE_PART.fullmatch(p) and p not in (".", "..") for p in parts)


class Command(BaseCommand):
    help = "Khôi phục cơ sở dữ liệu và các tệp minh chứng từ một bản sao lưu (thư mục có manifest.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR", help="Thư mục do “manage.py backup” tạo ra.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Không hỏi xác nhận.",
        )
        parser.add_argument(
            "--lock-timeout",
            type=int,
            default=30,
            help="PostgreSQL: số giây chờ khóa bảng trước khi bỏ cuộc (mặc định 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = DEFAULT_DB_ALIAS
        connection = connections[alias]
        vendor = vendor_of(alias)
        if connection.in_atomic_block:
            raise _refuse("Không khôi phục bên trong một giao dịch đang mở.")
        source = Path(options["directory"]).expanduser().resolve()
        manifest = self._manifest(source, vendor)
        db_file = self._check_files(source, manifest)

        if options["interactive"]:
            answer = input(
                f"Khôi phục sẽ THAY TOÀN BỘ dữ liệu của cơ sở dữ liệu “{connection.settings_dict['NAME']}” "
                f"bằng bản sao lưu lúc {manifest['created_at']} "
                f"({sum(manifest['tables'].values())} dòng, {len(manifest['evidence'])} tệp minh chứng).\n"
                "Hãy dừng ứng dụng trước khi khôi phục. Gõ “yes” để tiếp tục: "
            )
            if answer.strip().lower() != "yes":
                raise _refuse("Đã hủy theo yêu cầu.")

        root = Path(settings.EVIDENCE_ROOT)
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.restore-", dir=root.parent))
        try:
            self._stage_evidence(source / EVIDENCE_DIR, staging, manifest["evidence"])
            if vendor == "postgresql":
                self._restore_postgresql(alias, db_file, options["lock_timeout"])
            else:
                self._restore_sqlite(alias, db_file)
            moved = self._move_into_place(staging, root, manifest["evidence"])
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
        with connection.cursor() as cursor:
            counts = table_counts(cursor, vendor)
        expected = manifest["tables"]
        wrong = [
            f"{name}: {counts.get(name)} thay vì {n}" for name, n in expected.items() if counts.get(name) != n
        ]
        if wrong:
            raise CommandError(
                "Đã khôi phục nhưng số dòng không khớp manifest ở các bảng: " + "; ".join(wrong)
            )
        for name in sorted(set(counts) - set(expected)):
            self.stderr.write(f"Cảnh báo: bảng {name} không có trong bản sao lưu, được giữ nguyên.")
        self.stdout.write(
            f"Đã khôi phục từ {source}: {len(expected)} bảng, {sum(expected.values())} dòng (khớp manifest); "
            f"{moved} tệp minh chứng."
        )

    # --- checks (nothing changes here) ---

    def _manifest(self, source: Path, vendor: str) -> dict[str, Any]:
        path = source / MANIFEST
        if not source.is_dir():
            raise _refuse(f"Không tìm thấy thư mục sao lưu {source}.")
        if not path.is_file():
            raise _refuse(f"Thư mục {source} không có {MANIFEST}: đây không phải một bản sao lưu hoàn chỉnh.")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _refuse(f"Không đọc được {MANIFEST} ({exc}).") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            if isinstance(manifest, dict) and manifest.get("format") == "cchc-backup/1":
                raise _refuse(
                    f"{MANIFEST} theo định dạng cũ cchc-backup/1, không có mã SHA-256 của chính nó "
                    "nên không kiểm tra được trọn vẹn; hãy dùng một bản sao lưu mới hơn."
                )
            raise _refuse(f"{MANIFEST} không đúng định dạng {FORMAT}.")
        if manifest.get(MANIFEST_DIGEST) != manifest_digest(manifest):
            raise _refuse(
                f"{MANIFEST} có mã SHA-256 không khớp nội dung của nó: manifest bị hỏng hoặc bị sửa."
            )
        tables, evidence, database = (
            manifest.get("tables"),
            manifest.get("evidence"),
            manifest.get("database"),
        )
        if (
            not isinstance(tables, dict)
            or not all(isinstance(n, int) for n in tables.values())
            or not isinstance(evidence, dict)
            or not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in evidence.values())
            or not isinstance(database, dict)
        ):
            raise _refuse(f"{MANIFEST} thiếu hoặc sai các mục “tables”, “evidence”, “database”.")
        if manifest.get("vendor") != vendor:
            raise _refuse(
                f"Bản sao lưu này của cơ sở dữ liệu {manifest.get('vendor')}, "
                f"không khôi phục được vào {vendor}."
            )
        return manifest

    def _check_files(self, source: Path, manifest: dict[str, Any]) -> Path:
        database = manifest["database"]
        name = DATABASE_FILES[manifest["vendor"]]
        if database.get("file") != name:
            raise _refuse(f"{MANIFEST} ghi tệp cơ sở dữ liệu “{database.get('file')}” thay vì “{name}”.")
        db_file = source / name
        if not db_file.is_file():
            raise _refuse(f"Thiếu tệp cơ sở dữ liệu {name} trong bản sao lưu.")
        if sha256_file(db_file) != database.get("sha256"):
            raise _refuse(f"Tệp {name} có mã SHA-256 không khớp manifest: bản sao lưu bị hỏng hoặc bị sửa.")
        if manifest["vendor"] == "sqlite":
            self._check_sqlite_counts(db_file, manifest["tables"])

        listed: dict[str, dict[str, Any]] = manifest["evidence"]
        bad = [p for p in listed if not _safe_relative(p)]
        if bad:
            raise _refuse(f"{MANIFEST} có đường dẫn tệp minh chứng không hợp lệ: {bad[0]!r}.")
        tree = source / EVIDENCE_DIR
        present: set[str] = set()
        if tree.is_dir():
            for dirpath, _dirnames, filenames in os.walk(tree):
                for filename in filenames:
                    present.add((Path(dirpath) / filename).relative_to(tree).as_posix())
        if missing := sorted(set(listed) - present):
            raise _refuse(
                f"Thiếu {len(missing)} tệp minh chứng ghi trong manifest (ví dụ {missing[0]}): bản sao lưu không trọn vẹn."
            )
        if extra := sorted(present - set(listed)):
            raise _refuse(
                f"Có {len(extra)} tệp minh chứng không ghi trong manifest (ví dụ {extra[0]}): bản sao lưu bị sửa."
            )
        for relative, item in sorted(listed.items()):
            path = tree / relative
            if path.is_symlink() or sha256_file(path) != item["sha256"]:
                raise _refuse(
                    f"Tệp minh chứng {relative} có mã SHA-256 không khớp manifest: bản sao lưu bị hỏng hoặc bị sửa."
                )
        return db_file

    def _check_sqlite_counts(self, db_file: Path, expected: dict[str, int]) -> None:
        """The SQLite file's own row counts against the manifest (PostgreSQL's dump cannot be
        counted without restoring it: there the manifest's hash and the dump's hash stand)."""
        try:
            check = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
            try:
                counts = table_counts(check.cursor(), "sqlite")
            finally:
                check.close()
        except sqlite3.Error as exc:
            raise _refuse(f"Không đọc được tệp cơ sở dữ liệu SQLite của bản sao lưu: {exc}") from exc
        if counts != expected:
            wrong = sorted(set(counts) ^ set(expected) | {t for t in counts if counts[t] != expected.get(t)})
            raise _refuse(f"Số dòng trong tệp cơ sở dữ liệu không khớp manifest (bảng {wrong[0]}).")

    # --- the restore ---

    def _stage_evidence(self, tree: Path, staging: Path, listed: dict[str, dict[str, Any]]) -> None:
        for relative, item in sorted(listed.items()):
            digest, _size = copy_hashed(tree / relative, staging / relative)
            if digest != item["sha256"]:
                raise _refuse(f"Tệp minh chứng {relative} vừa thay đổi trong lúc khôi phục.")

    def _restore_postgresql(self, alias: str, db_file: Path, lock_timeout: int) -> None:
        """pg_restore in one transaction, watched: the archive sets ``lock_timeout = 0`` itself,
        so if its backend waits for a table lock longer than ``lock_timeout`` seconds (the
        site still running), this cancels that backend and the whole restore rolls back."""
        import psycopg

        pg_restore = shutil.which("pg_restore")
        if pg_restore is None:
            raise _refuse("Không tìm thấy pg_restore: cài gói postgresql-client cùng phiên bản với máy chủ.")
        db = connections[alias].settings_dict
        connections[alias].close()  # holds no lock while the tables are replaced
        env = pg_env(db)
        app_name = f"cchc-restore-{secrets.token_hex(6)}"
        env["PGAPPNAME"] = app_name
        params = pg_connect_params(db)
        try:
            watch = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            raise _refuse(f"Không kết nối được PostgreSQL: {exc}") from exc
        cancelled = False
        with watch, tempfile.TemporaryFile("w+") as errors:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={db['NAME']}",
                    str(db_file),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                text=True,
            )
            waiting_since: float | None = None
            while process.poll() is None:
                time.sleep(0.2)
                row = watch.execute(
                    "SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = %s",
                    [app_name],
                ).fetchone()
                if row is None or row[1] != "Lock":
                    waiting_since = None
                    continue
                waiting_since = waiting_since or time.monotonic()
                if not cancelled and time.monotonic() - waiting_since >= lock_timeout:
                    watch.execute("SELECT pg_cancel_backend(%s)", [row[0]])
                    cancelled = True
            errors.seek(0)
            stderr = errors.read().strip()
        if cancelled:
            raise _refuse(
                f"pg_restore đã chờ khóa bảng quá {lock_timeout} giây (ứng dụng vẫn đang chạy?) nên đã bị dừng, "
                "giao dịch đã được hủy. Hãy dừng ứng dụng rồi chạy lại."
            )
        if process.returncode != 0:
            raise _refuse(f"pg_restore thất bại (mã {process.returncode}), giao dịch đã được hủy: {stderr}")

    def _restore_sqlite(self, alias: str, db_file: Path) -> None:
        connection = connections[alias]
        connection.ensure_connection()
        source = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            # The backup API in reverse: the file's pages onto the live database, in one step.
            source.backup(connection.connection)
        except sqlite3.Error as exc:
            raise _refuse(f"Không ghi được vào cơ sở dữ liệu SQLite: {exc}") from exc
        finally:
            source.close()

    def _move_into_place(self, staging: Path, root: Path, listed: dict[str, dict[str, Any]]) -> int:
        for relative in sorted(listed):
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, target)
        return len(listed)

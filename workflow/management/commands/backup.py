"""manage.py backup [-o DIR]: the database and the evidence files, with a manifest.

The backup directory holds

* ``database.dump`` (PostgreSQL, ``pg_dump -Fc``) or ``database.sqlite3`` (SQLite, the
  online backup API): one consistent snapshot, taken while the site keeps running;
* ``evidence/``: a copy of the EVIDENCE_ROOT tree;
* ``manifest.json``: the row count of every table *in that snapshot*, the SHA-256 of the
  database file and of every evidence file, and its own SHA-256 (``manifest_sha256``, over
  the rest of it in canonical JSON). ``manage.py restore`` refuses a backup whose manifest
  is missing, does not match its own hash, or whose files do not match it.

Consistency: on PostgreSQL the row counts are read in a REPEATABLE READ transaction whose
snapshot pg_dump imports (``--snapshot``), so counts and dump are the same moment; on
SQLite they are read from the backup file itself. The evidence tree is copied *after*
the database snapshot: a file is always written before its row (workflow.evidence), so
every Evidence row of the snapshot has its file in the copy.

The directory is written next to its final place and renamed into it at the end, so a
backup that failed half-way never looks complete. It holds everything (password hashes,
sessions): it is created with mode 0700.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

FORMAT = "cchc-backup/2"  # 2: the manifest carries its own SHA-256
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest_sha256"
EVIDENCE_DIR = "evidence"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
_CHUNK = 1024 * 1024


# --- shared with restore ------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest without its own digest, as canonical JSON (sorted keys, no spaces)."""
    body = {key: value for key, value in manifest.items() if key != MANIFEST_DIGEST}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file and hash the bytes written, in one pass: (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("xb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    shutil.copystat(source, target)
    return digest.hexdigest(), size


def pg_env(db: dict[str, Any]) -> dict[str, str]:
    """Environment for pg_dump / pg_restore: the Django DATABASE settings, password in PGPASSWORD."""
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", db.get("HOST")),
        ("PGPORT", db.get("PORT")),
        ("PGUSER", db.get("USER")),
        ("PGPASSWORD", db.get("PASSWORD")),
        ("PGDATABASE", db.get("NAME")),
        ("PGSSLMODE", (db.get("OPTIONS") or {}).get("sslmode")),
    ):
        if value:
            env[key] = str(value)
    return env


def pg_connect_params(db: dict[str, Any]) -> dict[str, Any]:
    """psycopg.connect() keywords for a Django database, without the unset ones."""
    params = {
        "dbname": db["NAME"],
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "sslmode": (db.get("OPTIONS") or {}).get("sslmode"),
    }
    return {k: v for k, v in params.items() if v is not None}


def pg_tables_sql() -> str:
    """Ordinary and partitioned tables of the schemas on the search path."""
    return (
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(current_schemas(false)) "
        "ORDER BY c.relname"
    )


SQLITE_TABLES_SQL = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
)


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(cursor: Any, vendor: str) -> dict[str, int]:
    """Rows per table, through any DB-API cursor of the given vendor."""
    cursor.execute(pg_tables_sql() if vendor == "postgresql" else SQLITE_TABLES_SQL)
    names = [row[0] for row in cursor.fetchall()]
    counts: dict[str, int] = {}
    for name in names:
        cursor.execute(f"SELECT count(*) FROM {quote_name(name)}")  # noqa: S608 - quoted identifier
        counts[name] = int(cursor.fetchone()[0])
    return counts


def evidence_rows(cursor: Any) -> list[tuple[str, str]]:
    """(stored_name, sha256) of every Evidence row, through a DB-API cursor."""
    from workflow.models import Evidence

    cursor.execute(f"SELECT stored_name, sha256 FROM {quote_name(Evidence._meta.db_table)}")  # noqa: S608
    return [(row[0], row[1]) for row in cursor.fetchall()]


def migrations_applied(cursor: Any) -> list[str]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def vendor_of(alias: str = DEFAULT_DB_ALIAS) -> str:
    vendor = connections[alias].vendor
    if vendor not in DATABASE_FILES:
        raise CommandError(f"Chưa hỗ trợ sao lưu cơ sở dữ liệu loại “{vendor}” (chỉ PostgreSQL và SQLite).")
    return vendor


# --- the command --------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Sao lưu cơ sở dữ liệu và các tệp minh chứng vào một thư mục, kèm manifest.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-o",
            "--output",
            metavar="DIR",
            help="Thư mục đích (chưa có hoặc rỗng). Mặc định: VAR_DIR/backups/<ngày-giờ>.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = DEFAULT_DB_ALIAS
        vendor = vendor_of(alias)
        if connections[alias].in_atomic_block:
            raise CommandError("Không sao lưu bên trong một giao dịch đang mở.")
        created = timezone.now()
        target = self._target(options.get("output"), created)
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        try:
            work.chmod(0o700)
            db_file = work / DATABASE_FILES[vendor]
            if vendor == "postgresql":
                counts, rows, migrations = self._dump_postgresql(alias, db_file)
            else:
                counts, rows, migrations = self._dump_sqlite(alias, db_file)
            evidence, problems = self._copy_evidence(work / EVIDENCE_DIR, rows)
            manifest = {
                "format": FORMAT,
                "created_at": created.isoformat(),
                "vendor": vendor,
                "database": {
                    "file": db_file.name,
                    "sha256": sha256_file(db_file),
                    "size": db_file.stat().st_size,
                },
                "tables": counts,
                "migrations": migrations,
                "evidence": evidence,
                "evidence_problems": problems,
            }
            manifest[MANIFEST_DIGEST] = manifest_digest(manifest)
            (work / MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
            )
            os.replace(work, target)  # onto a missing or empty directory
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        for problem in problems:
            self.stderr.write(f"Cảnh báo: {problem}")
        size = sum(item["size"] for item in evidence.values())
        self.stdout.write(
            f"Đã sao lưu vào {target}: {len(counts)} bảng, {sum(counts.values())} dòng; "
            f"{len(evidence)} tệp minh chứng ({size / 1024 / 1024:.1f} MB)."
        )

    # --- where ---

    def _target(self, output: str | None, created: Any) -> Path:
        if output:
            target = Path(output).expanduser().resolve()
        else:
            stamp = timezone.localtime(created).strftime("%Y%m%d-%H%M%S")
            target = Path(settings.VAR_DIR) / "backups" / stamp
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise CommandError(f"Thư mục đích {target} đã có dữ liệu; hãy chọn một thư mục mới hoặc rỗng.")
        return target

    # --- the database ---

    def _dump_postgresql(self, alias: str, db_file: Path) -> tuple[dict[str, int], list[Any], list[str]]:
        import psycopg

        db = connections[alias].settings_dict
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise CommandError(
                "Không tìm thấy pg_dump: cài gói postgresql-client cùng phiên bản với máy chủ."
            )
        params = pg_connect_params(db)
        try:
            snapshot_conn = psycopg.connect(**params)
        except psycopg.Error as exc:
            raise CommandError(f"Không kết nối được PostgreSQL để sao lưu: {exc}") from exc
        with snapshot_conn:
            snapshot_conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot_conn.read_only = True
            with snapshot_conn.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                row = cursor.fetchone()
                assert row is not None  # a SELECT without FROM: always one row
                snapshot = row[0]
                counts = table_counts(cursor, "postgresql")
                rows = evidence_rows(cursor)
                migrations = migrations_applied(cursor)
                # The exporting transaction stays open until pg_dump has the same snapshot.
                result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                    [
                        pg_dump,
                        "--format=custom",
                        "--lock-wait-timeout=60000",
                        f"--snapshot={snapshot}",
                        f"--file={db_file}",
                    ],
                    env=pg_env(db),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            snapshot_conn.rollback()
        if result.returncode != 0:
            raise CommandError(f"pg_dump thất bại (mã {result.returncode}): {result.stderr.strip()}")
        return counts, rows, migrations

    def _dump_sqlite(self, alias: str, db_file: Path) -> tuple[dict[str, int], list[Any], list[str]]:
        connection = connections[alias]
        connection.ensure_connection()
        target = sqlite3.connect(db_file)
        try:
            # One step (pages=-1): the whole database under one read lock, a consistent copy.
            connection.connection.backup(target)
        finally:
            target.close()
        check = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        try:
            cursor = check.cursor()
            cursor.execute("PRAGMA integrity_check")
            if (verdict := cursor.fetchone()[0]) != "ok":
                raise CommandError(f"Bản sao SQLite không toàn vẹn: {verdict}")
            return table_counts(cursor, "sqlite"), evidence_rows(cursor), migrations_applied(cursor)
        finally:
            check.close()

    # --- the evidence files ---

    def _copy_evidence(
        self, target: Path, rows: list[tuple[str, str]]
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        root = Path(settings.EVIDENCE_ROOT)
        target.mkdir()
        evidence: dict[str, dict[str, Any]] = {}
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):  # symlinks are not followed
                dirnames.sort()
                for name in sorted(filenames):
                    source = Path(dirpath) / name
                    if source.is_symlink() or not source.is_file():
                        continue
                    relative = source.relative_to(root).as_posix()
                    digest, size = copy_hashed(source, target / relative)
                    evidence[relative] = {"sha256": digest, "size": size}
        by_name = {Path(rel).name: item for rel, item in evidence.items()}
        problems: list[str] = []
        for stored_name, sha in rows:
            item = by_name.get(stored_name)
            if item is None:
                problems.append(
                    f"tệp minh chứng {stored_name} có trong cơ sở dữ liệu nhưng không có trên đĩa."
                )
            elif item["sha256"] != sha:
                problems.append(f"tệp minh chứng {stored_name} trên đĩa khác với mã SHA-256 đã ghi nhận.")
        return evidence, problems

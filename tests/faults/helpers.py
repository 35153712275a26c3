"""Helpers of the fault tests: row counts, file hashes, the environment of a child process."""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def table_counts() -> dict[str, int]:
    """Rows per table of the test database (tables only, not views)."""
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        for info in connection.introspection.get_table_list(cursor):
            if info.type != "t":
                continue
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(info.name)}")  # noqa: S608
            counts[info.name] = cursor.fetchone()[0]
    return counts


def tree_hashes(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@functools.cache
def collected_static_root() -> str:
    """A STATIC_ROOT filled by a real `collectstatic` with DEBUG=0, once per test session.

    Child processes (gunicorn in test_db_restart.py, the commands) run the production
    settings, whose pages name static files by the hashed names of this manifest.
    """
    root = tempfile.mkdtemp(prefix="cchc-static-")
    atexit.register(shutil.rmtree, root, True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0", "STATIC_ROOT": root}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"collectstatic failed (exit {result.returncode}):\n{result.stderr}")
    return root


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a child Django process on this test database."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DB_NAME", "SQLITE_TEST_NAME"}}
    if connection.vendor == "postgresql":
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        url = f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        SECRET_KEY=django_settings.SECRET_KEY,
        VAR_DIR=str(django_settings.VAR_DIR),
        EVIDENCE_ROOT=str(django_settings.EVIDENCE_ROOT),
        STATIC_ROOT=collected_static_root(),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def sqlite_in_memory() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()

"""manage.py backup / restore: the round trip on the database in use (SQLite or PostgreSQL),
and the refusals (no manifest, a file that does not match it) that change nothing.

The commands work through Django's own connection (SQLite: the online backup API from and
back onto it; PostgreSQL: pg_dump / pg_restore on the same database settings), so on SQLite
they run against the in-memory test database itself; on PostgreSQL the test owns its
database and restores into it. ``transactional_db``: the backup must see committed rows,
and a restore cannot run inside the test's transaction.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditEvent
from audit.services import verify_chain
from tests.faults.helpers import PYTHON, ROOT, subprocess_env, table_counts, tree_hashes
from workflow import services
from workflow.management.commands.backup import manifest_digest
from workflow.models import Evidence, Notification, Step

pytestmark = pytest.mark.django_db(transaction=True)


def backup(target: Path) -> dict[str, Any]:
    call_command("backup", "-o", str(target), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return json.loads((target / "manifest.json").read_text(encoding="utf-8"))


def restore(source: Path) -> None:
    call_command("restore", str(source), "--no-input", stdout=open("/dev/null", "w"))  # noqa: SIM115


def damage(populated: dict[str, Any], evidence_root: Path) -> None:
    """What a bad day does: rows deleted and changed, an event appended, an evidence file lost."""
    personas = populated["personas"]
    Notification.objects.filter(pk__in=list(Notification.objects.values_list("pk", flat=True)[:3])).delete()
    Step.objects.filter(pk=populated["lead_b"].pk).update(result="ghi đè sai")
    services.step_save_draft(
        step_id=populated["lead_b"].pk, user=personas["other_staff"], data={"result": "sau sao lưu"}
    )
    lost = Evidence.objects.order_by("pk").first()
    next(evidence_root.rglob(lost.stored_name)).unlink()
    other = Evidence.objects.order_by("pk").last()
    next(evidence_root.rglob(other.stored_name)).write_bytes(b"%PDF-1.4 bi sua")


def _triggers() -> list[str]:
    """The audit table's triggers (PostgreSQL: migration workflow 0002 refuses UPDATE/DELETE)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = %s::regclass ORDER BY 1",
            [AuditEvent._meta.db_table],
        )
        return [row[0] for row in cursor.fetchall()]


def test_round_trip_restores_rows_chain_and_evidence(populated, evidence_root, tmp_path):
    assert AuditEvent.objects.count() >= 10 and Evidence.objects.count() == 3
    counts, files, triggers = table_counts(), tree_hashes(evidence_root), _triggers()
    result_b = Step.objects.get(pk=populated["lead_b"].pk).result

    started = time.perf_counter()
    manifest = backup(tmp_path / "bk")
    backup_s = time.perf_counter() - started

    assert manifest["vendor"] == connection.vendor
    assert manifest["tables"] == counts
    assert {k: v["sha256"] for k, v in manifest["evidence"].items()} == files
    assert manifest["evidence_problems"] == []

    damage(populated, evidence_root)
    assert table_counts() != counts and tree_hashes(evidence_root) != files

    started = time.perf_counter()
    restore(tmp_path / "bk")
    restore_s = time.perf_counter() - started

    assert table_counts() == counts
    assert verify_chain() is None
    assert tree_hashes(evidence_root) == files
    assert _triggers() == triggers  # dropped and recreated by pg_restore --clean
    assert Step.objects.get(pk=populated["lead_b"].pk).result == result_b
    for evidence in Evidence.objects.all():  # the files are the ones the rows recorded
        assert files[f"{evidence.stored_name[:2]}/{evidence.stored_name}"] == evidence.sha256
    # The restored database takes new work: the chain goes on from the restored end.
    services.step_save_draft(
        step_id=populated["lead_b"].pk, user=populated["personas"]["other_staff"], data={"result": "tiếp"}
    )
    assert verify_chain() is None
    print(
        f"\n[{connection.vendor}] backup {backup_s:.2f}s, restore {restore_s:.2f}s, {sum(counts.values())} rows"
    )


def test_backup_refuses_a_directory_that_is_not_empty(populated, tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "x").write_text("x")
    with pytest.raises(CommandError, match="đã có dữ liệu"):
        call_command("backup", "-o", str(tmp_path / "bk"))


def test_backup_warns_about_an_evidence_file_already_missing(populated, evidence_root, tmp_path, capsys):
    lost = Evidence.objects.order_by("pk").first()
    next(evidence_root.rglob(lost.stored_name)).unlink()
    call_command("backup", "-o", str(tmp_path / "bk"))
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["evidence_problems"]) == 1
    assert "không có trên đĩa" in capsys.readouterr().err


def _unchanged_after_refusal(source: Path, match: str, evidence_root: Path) -> None:
    counts, files = table_counts(), tree_hashes(evidence_root)
    with pytest.raises(CommandError, match=match) as info:
        restore(source)
    assert "Không khôi phục gì cả" in str(info.value)
    assert table_counts() == counts
    assert tree_hashes(evidence_root) == files
    assert verify_chain() is None


@pytest.fixture
def backed_up_then_changed(populated, evidence_root, tmp_path) -> Path:
    backup(tmp_path / "bk")
    damage(populated, evidence_root)
    return tmp_path / "bk"


def test_restore_refuses_a_backup_without_manifest(backed_up_then_changed, evidence_root):
    (backed_up_then_changed / "manifest.json").unlink()
    _unchanged_after_refusal(backed_up_then_changed, "không có manifest.json", evidence_root)


def test_restore_refuses_an_evidence_file_that_does_not_match(backed_up_then_changed, evidence_root):
    victim = next(p for p in sorted((backed_up_then_changed / "evidence").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\n")
    _unchanged_after_refusal(backed_up_then_changed, "SHA-256 không khớp", evidence_root)


def test_restore_refuses_a_missing_or_an_extra_evidence_file(backed_up_then_changed, evidence_root):
    victim = next(p for p in sorted((backed_up_then_changed / "evidence").rglob("*")) if p.is_file())
    moved = victim.with_name("khac")
    victim.rename(moved)
    _unchanged_after_refusal(backed_up_then_changed, "Thiếu 1 tệp minh chứng", evidence_root)
    shutil.copy(moved, victim)
    _unchanged_after_refusal(backed_up_then_changed, "không ghi trong manifest", evidence_root)


def test_restore_refuses_a_database_file_that_does_not_match(backed_up_then_changed, evidence_root):
    manifest = json.loads((backed_up_then_changed / "manifest.json").read_text(encoding="utf-8"))
    db_file = backed_up_then_changed / manifest["database"]["file"]
    data = bytearray(db_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    db_file.write_bytes(bytes(data))
    _unchanged_after_refusal(backed_up_then_changed, "SHA-256 không khớp", evidence_root)


def rewrite_manifest(source: Path, change: Callable[[dict[str, Any]], None], rehash: bool) -> None:
    """Edit a backup's manifest; ``rehash``: recompute its own SHA-256 as the backup would."""
    path = source / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    if rehash:
        manifest["manifest_sha256"] = manifest_digest(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_restore_refuses_a_path_outside_the_evidence_tree(backed_up_then_changed, evidence_root):
    rewrite_manifest(
        backed_up_then_changed,
        lambda m: m["evidence"].update({"../../etc/x": {"sha256": "0" * 64, "size": 1}}),
        rehash=True,
    )
    _unchanged_after_refusal(backed_up_then_changed, "không hợp lệ", evidence_root)


def test_backup_manifest_carries_its_own_hash(populated, tmp_path):
    manifest = backup(tmp_path / "bk")
    assert manifest["format"] == "cchc-backup/2"
    assert manifest["manifest_sha256"] == manifest_digest(manifest)


def test_restore_refuses_a_manifest_with_one_changed_row_count_before_touching_the_database(
    backed_up_then_changed, evidence_root
):
    # Given a backup whose manifest says one row more in one table than the backup holds
    def one_more_row(manifest: dict[str, Any]) -> None:
        manifest["tables"]["workflow_step"] += 1

    rewrite_manifest(backed_up_then_changed, one_more_row, rehash=False)

    # Then the restore refuses before replacing anything: the database and files stay as they were
    _unchanged_after_refusal(backed_up_then_changed, "manifest bị hỏng hoặc bị sửa", evidence_root)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a SQLite backup file is counted before restoring")
def test_restore_refuses_a_rehashed_manifest_whose_counts_differ_from_the_sqlite_file(
    backed_up_then_changed, evidence_root
):
    def one_more_row(manifest: dict[str, Any]) -> None:
        manifest["tables"]["workflow_step"] += 1

    rewrite_manifest(backed_up_then_changed, one_more_row, rehash=True)
    _unchanged_after_refusal(backed_up_then_changed, "bảng workflow_step", evidence_root)


def test_restore_refuses_a_backup_of_the_old_format_without_its_hash(backed_up_then_changed, evidence_root):
    def old_format(manifest: dict[str, Any]) -> None:
        manifest["format"] = "cchc-backup/1"
        del manifest["manifest_sha256"]

    rewrite_manifest(backed_up_then_changed, old_format, rehash=False)
    _unchanged_after_refusal(backed_up_then_changed, "định dạng cũ cchc-backup/1", evidence_root)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL table locks")
def test_restore_that_cannot_get_its_locks_changes_nothing(backed_up_then_changed, evidence_root):
    """The site still running a transaction on a table: pg_restore gives up after
    --lock-timeout and its single transaction rolls back; the evidence stays as it was too."""
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None
    ) as other:
        other.execute("SELECT 1 FROM workflow_step LIMIT 1")  # holds ACCESS SHARE until rollback
        counts, files = table_counts(), tree_hashes(evidence_root)
        with pytest.raises(CommandError, match="chờ khóa bảng quá 1 giây") as info:
            call_command("restore", str(backed_up_then_changed), "--no-input", "--lock-timeout", "1")
        other.rollback()
    assert "Không khôi phục gì cả" in str(info.value)
    assert table_counts() == counts
    assert tree_hashes(evidence_root) == files
    assert verify_chain() is None


def test_restore_from_the_command_line_exits_non_zero_with_a_vietnamese_message(tmp_path):
    """The refusal as an operator sees it (checked before any database access)."""
    (tmp_path / "bk").mkdir()
    env = subprocess_env(DATABASE_URL=f"sqlite:///{tmp_path / 'none.sqlite3'}")
    result = subprocess.run(
        [PYTHON, "manage.py", "restore", str(tmp_path / "bk"), "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "không có manifest.json" in result.stderr and "Không khôi phục gì cả" in result.stderr

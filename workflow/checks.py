"""System checks run by ``manage.py check --deploy``: the database role the app runs as.

The audit trail is append-only for the app only if its PostgreSQL role is neither a superuser
nor the audit table's owner (or a member of the owner's role), and has no UPDATE, DELETE or
TRUNCATE right on it (``manage.py db_roles``; docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError, connection

HINT = (
    "Chạy ứng dụng bằng vai trò riêng: manage.py db_roles --owner … --app … (docs/operations.md). / "
    "Run the app as its own role: manage.py db_roles --owner … --app … (docs/operations.md)."
)


def database_role_problems(cursor: Any, table: str = "workflow_auditevent") -> list[CheckMessage]:
    """What is wrong with the current role, through any DB-API cursor (Django's or psycopg's)."""
    cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    user, superuser = cursor.fetchone()
    if superuser:
        return [
            Warning(
                f"Ứng dụng kết nối PostgreSQL bằng vai trò siêu quản trị “{user}”: vai trò này xóa, sửa "
                f"được nhật ký. / The app connects to PostgreSQL as the superuser “{user}”, which can "
                "rewrite the audit trail.",
                hint=HINT,
                id="cchc.W001",
            )
        ]
    cursor.execute(
        "SELECT pg_has_role(current_user, c.relowner, 'USAGE'), "
        "has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE') "
        "OR has_table_privilege(c.oid, 'TRUNCATE') "
        "FROM pg_class c WHERE c.oid = to_regclass(%s)",
        [table],
    )
    row = cursor.fetchone()
    if row is None:  # not migrated yet
        return []
    owns, may_change = row
    if owns:
        return [
            Warning(
                f"Ứng dụng kết nối PostgreSQL bằng vai trò “{user}”, chủ sở hữu bảng nhật ký: vai trò này "
                f"TRUNCATE, tắt hoặc xóa được trigger chỉ-ghi-thêm. / The app connects as “{user}”, the "
                "owner of the audit table: it can truncate it or disable its append-only trigger.",
                hint=HINT,
                id="cchc.W002",
            )
        ]
    if may_change:
        return [
            Warning(
                f"Vai trò “{user}” của ứng dụng có quyền UPDATE, DELETE hoặc TRUNCATE trên bảng nhật ký. / "
                f"The app's role “{user}” may UPDATE, DELETE or TRUNCATE the audit table.",
                hint=HINT,
                id="cchc.W003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_audit_database_role(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """PostgreSQL only: warn when the app's role could rewrite the audit trail."""
    if connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            return database_role_problems(cursor)
    except DatabaseError as exc:
        return [
            Warning(
                f"Không kiểm tra được vai trò PostgreSQL của ứng dụng: {exc}. / Could not check the app's "
                "PostgreSQL role.",
                id="cchc.W004",
            )
        ]


@register(Tags.security, deploy=True)
def check_audit_hmac_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The audit key must come from the environment in production: a key generated into var/
    is lost with the server (backups do not hold it), and with it the proof of the trail."""
    if settings.DEBUG or getattr(settings, "AUDIT_HMAC_KEY_SOURCE", "env") == "env":
        return []
    return [
        Warning(
            "AUDIT_HMAC_KEY không được đặt trong biến môi trường: khóa của nhật ký đang được sinh ra trong "
            "var/. / AUDIT_HMAC_KEY is not set in the environment: the audit key was generated into var/.",
            hint="Đặt AUDIT_HMAC_KEY (64 ký tự hex ngẫu nhiên) và giữ một bản ở nơi an toàn ngoài máy chủ "
            "(docs/operations.md). / Set AUDIT_HMAC_KEY and keep a copy off the server.",
            id="cchc.W005",
        )
    ]

"""manage.py db_roles: the PostgreSQL roles that keep the audit trail out of the app's reach.

Two roles: the **owner** owns the tables and runs the migrations; the **app** (the role in the
running site's DATABASE_URL) may read and write the tables it works on, but only SELECT and
INSERT on the audit table. Not owning the table, it can neither TRUNCATE it, nor disable or
drop the append-only trigger; without UPDATE and DELETE it cannot change an event either.

    manage.py db_roles --owner cchc_owner --app cchc_app            # print the SQL
    manage.py db_roles --owner cchc_owner --app cchc_app --apply    # run it (as the owner)
    manage.py db_roles ... --setup [--apply]                         # once, as a superuser:
        create both roles and hand every existing table to the owner

The grants part is idempotent: run it after every ``migrate`` (new tables get the app's
rights through default privileges too).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from audit.models import AuditEvent

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TRIGGER_FUNCTION = "workflow_auditevent_append_only"


def _role(value: str) -> str:
    if not _ROLE.match(value):
        raise CommandError(f"Tên vai trò không hợp lệ: {value!r} (chữ thường, số, dấu gạch dưới).")
    return value


def role_sql(
    *, owner: str, app: str, database: str, schema: str = "public", setup: bool = False
) -> list[str]:
    """The statements, in order. ``setup``: also create the roles and move ownership to the
    owner (needs a superuser); otherwise only the grants (the owner may run them)."""
    q = connection.ops.quote_name
    audit = q(AuditEvent._meta.db_table)
    o, a, s, db = q(owner), q(app), q(schema), q(database)
    statements: list[str] = []
    if setup:
        for role, extra in ((owner, ""), (app, " NOINHERIT")):
            statements.append(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                f"'{role}') THEN CREATE ROLE {q(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE{extra}; "
                "END IF; END $$"
            )
        statements += [
            f"ALTER ROLE {a} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
            f"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {db} TO {o}",
            f"ALTER SCHEMA {s} OWNER TO {o}",
            # Every table of the schema (their sequences follow), then the trigger's function.
            # The names were checked against _ROLE: no quote can reach the SQL.
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables "  # noqa: S608
            f"WHERE schemaname = '{schema}' LOOP EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', "
            f"'{schema}', r.tablename, '{owner}'); END LOOP; END $$",
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_proc WHERE proname = "
            f"'{TRIGGER_FUNCTION}') THEN ALTER FUNCTION {s}.{TRIGGER_FUNCTION}() OWNER TO {o}; END IF; END $$",
        ]
    statements += [
        f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {db} TO {a}",
        f"GRANT USAGE ON SCHEMA {s} TO {a}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {a}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {a}",
        # The audit trail: read and append, nothing else.
        f"REVOKE ALL ON {s}.{audit} FROM {a}",
        f"REVOKE ALL ON {s}.{audit} FROM PUBLIC",
        f"GRANT SELECT, INSERT ON {s}.{audit} TO {a}",
        # Tables the owner creates later (new migrations) get the same ordinary rights.
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {a}",
    ]
    return statements


class Command(BaseCommand):
    help = (
        "In (hoặc chạy với --apply) các lệnh SQL phân quyền PostgreSQL: vai trò chủ sở hữu chạy migrate, "
        "vai trò ứng dụng chỉ được SELECT và INSERT trên bảng nhật ký."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--owner", required=True, type=_role, help="vai trò sở hữu các bảng, chạy migrate"
        )
        parser.add_argument("--app", required=True, type=_role, help="vai trò ứng dụng dùng khi chạy")
        parser.add_argument("--schema", default="public", type=_role)
        parser.add_argument(
            "--setup",
            action="store_true",
            help="lần đầu, bằng superuser: tạo hai vai trò và chuyển quyền sở hữu các bảng cho chủ sở hữu",
        )
        parser.add_argument("--apply", action="store_true", help="chạy các lệnh trên cơ sở dữ liệu hiện tại")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Lệnh này chỉ dùng cho PostgreSQL (DATABASE_URL=postgres://…).")
        if options["owner"] == options["app"]:
            raise CommandError("Vai trò ứng dụng phải khác vai trò chủ sở hữu.")
        statements = role_sql(
            owner=options["owner"],
            app=options["app"],
            database=connection.settings_dict["NAME"],
            schema=options["schema"],
            setup=options["setup"],
        )
        if not options["apply"]:
            for statement in statements:
                self.stdout.write(f"{statement};")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"Đã phân quyền: {options['app']} chỉ được đọc và ghi thêm vào nhật ký; "
            f"{options['owner']} sở hữu các bảng."
        )

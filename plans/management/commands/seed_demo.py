"""manage.py seed_demo: the department's units, role groups and (in development) demo accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from plans import organisation, roles
from plans.defaults import DEFAULT_UNITS
from plans.models import Membership, Unit

DEMO_PASSWORD = "cchc-demo-2024"  # noqa: S105 - documented development password


def demo_accounts() -> list[dict[str, Any]]:
    """One account per role and unit; usernames are ASCII, names Vietnamese."""
    accounts: list[dict[str, Any]] = [
        {"username": "giamdoc", "name": "Nguyễn Văn Giám", "global": roles.DIRECTOR},
        {
            "username": "phogiamdoc",
            "name": "Trần Thị Phó",
            "global": roles.DEPUTY_DIRECTOR,
            "oversees": ["QLCN", "QLTM", "TTKC"],
        },
        {
            "username": "vanphong",
            "name": "Lê Thị Đầu Mối",
            "global": roles.OFFICE_REVIEWER,
            "unit": "VP",
            "role": Membership.Role.STAFF,
        },
        {"username": "kiemtra", "name": "Phạm Văn Kiểm", "global": roles.AUDITOR},
    ]
    for seed in DEFAULT_UNITS:
        short = seed["short_name"]
        slug = short.lower()
        accounts.append(
            {
                "username": f"{slug}.cv",
                "name": f"Chuyên viên {short}",
                "unit": short,
                "role": Membership.Role.STAFF,
            }
        )
        accounts.append(
            {"username": f"{slug}.tp", "name": f"Trưởng {short}", "unit": short, "role": Membership.Role.HEAD}
        )
    return accounts


class Command(BaseCommand):
    help = "Tạo các đơn vị, nhóm vai trò và (khi phát triển) tài khoản mẫu. Chạy lại không tạo trùng."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-accounts", action="store_true", help="Tạo tài khoản mẫu cả khi DEBUG tắt."
        )
        parser.add_argument("--no-demo-accounts", action="store_true", help="Không tạo tài khoản mẫu.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        organisation.roles_ensure()
        units = {u.short_name: u for u in organisation.units_seed(seeds=DEFAULT_UNITS)}
        self.stdout.write(f"Đơn vị: {Unit.objects.count()}")
        make_demo = (settings.DEBUG or options["demo_accounts"]) and not options["no_demo_accounts"]
        if not make_demo:
            self.stdout.write("Không tạo tài khoản mẫu (DEBUG tắt; dùng --demo-accounts nếu cần).")
            return
        User = get_user_model()
        rows = []
        for account in demo_accounts():
            last, _, first = account["name"].rpartition(" ")
            user, created = User.objects.get_or_create(
                username=account["username"],
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{account['username']}@sct.local",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if "unit" in account:
                organisation.membership_set(user=user, unit=units[account["unit"]], role=account["role"])
            if "global" in account:
                organisation.global_role_add(user=user, role=account["global"])
            if "oversees" in account:
                organisation.deputy_set_units(user=user, units=[units[s] for s in account["oversees"]])
            rows.append(user.pk)
        self.stdout.write(f"Tài khoản mẫu (mật khẩu: {DEMO_PASSWORD}):")
        # Read again: each account's roles as they now are (the services changed them).
        people = User.objects.in_bulk(rows)
        for pk in rows:
            user = people[pk]
            self.stdout.write(
                f"  {user.username:<12} {roles.display_name(user):<22} {roles.roles_of(user).label}"
            )

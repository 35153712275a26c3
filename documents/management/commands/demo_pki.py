"""manage.py demo_pki: a demo certificate authority and a signing certificate per demo leader.

Writes into var/pki/ (``DOCUMENT_PKI_DIR``): ca.pem (the trust root verification uses), ca.key,
and for each leader ``<username>.p12`` with its passphrase in ``<username>.pass``. Every
certificate says "DEMO – KHÔNG DÙNG THẬT". Safe to run again: an existing authority and existing
keys are kept (``--force`` makes new ones, which invalidates documents signed before).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents import conf, pki
from plans import roles


class Command(BaseCommand):
    help = "Tạo tổ chức chứng thực DEMO và chứng thư số cho từng lãnh đạo (var/pki/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="tạo lại CA và mọi khóa")
        parser.add_argument(
            "usernames", nargs="*", help="tài khoản lãnh đạo (mặc định: mọi Giám đốc, Phó Giám đốc)"
        )

    def handle(
        self, *args: Any, force: bool = False, usernames: list[str] | None = None, **options: Any
    ) -> None:
        directory = conf.pki_dir()
        authority = None if force else pki.authority_load(directory)
        if authority is None:
            authority = pki.authority_create()
            pki.authority_save(authority, directory)
            self.stdout.write(f"Đã tạo CA demo: {pki.DEMO_CA_NAME} ({directory / 'ca.pem'})")
        users = get_user_model().objects.filter(is_active=True)
        if usernames:
            users = users.filter(username__in=usernames)
            missing = set(usernames) - set(users.values_list("username", flat=True))
            if missing:
                raise CommandError(f"Không có tài khoản: {', '.join(sorted(missing))}")
        else:
            users = users.filter(groups__name__in=[roles.DIRECTOR, roles.DEPUTY_DIRECTOR]).distinct()
        for user in users.order_by("username"):
            if not force and (directory / f"{user.username}.p12").is_file():
                self.stdout.write(f"Giữ nguyên khóa của {user.username}")
                continue
            groups = set(user.groups.values_list("name", flat=True))
            title = roles.DIRECTOR if roles.DIRECTOR in groups else roles.DEPUTY_DIRECTOR
            certificate, key = pki.person_certificate(
                authority, full_name=roles.display_name(user), title=title
            )
            path = pki.pkcs12_save(directory, user.username, certificate, key, authority.certificate)
            self.stdout.write(f"Đã cấp chứng thư số demo cho {user.username}: {path}")

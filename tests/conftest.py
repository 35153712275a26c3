"""Shared fixtures: the seeded department and one persona per role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from plans import organisation, roles
from plans.defaults import DEFAULT_UNITS
from plans.models import Membership, Unit

User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Real hashers cost ~0.3 s per user; tests create dozens."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_working_calendar() -> None:
    """The working-day calendar and the period pickers are kept per process (plans.calendar,
    workflow.selectors): tests roll back without telling them."""
    from plans import calendar
    from workflow.selectors import period_choices_forget

    calendar.cache_clear()
    period_choices_forget()


@pytest.fixture(autouse=True)
def _plain_static_names(settings: Any) -> None:
    """Pages name static files by their plain names: the tests run no collectstatic.

    Production uses WhiteNoise's manifest storage (hashed names; config/settings.py); that
    path is tested with a real collectstatic by tests/security/test_static_files.py, by the
    fault tests' child processes (tests/faults/helpers.py) and by `make deploy-check`.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def evidence_root(settings: Any, tmp_path: Path) -> Path:
    """Evidence files go to a fresh directory per test."""
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return settings.EVIDENCE_ROOT


@pytest.fixture
def units(db: Any) -> dict[str, Unit]:
    """The department's seven units, keyed by short name, with role groups in place."""
    organisation.roles_ensure()
    return {u.short_name: u for u in organisation.units_seed(seeds=DEFAULT_UNITS)}


@pytest.fixture
def make_user(units: dict[str, Unit]) -> Callable[..., Any]:
    def make(
        username: str,
        *,
        unit: str | None = None,
        head: bool = False,
        role: str | None = None,
        oversees: tuple[str, ...] = (),
    ) -> Any:
        user = User.objects.create_user(
            username=username, password="pw-test-123", first_name=username, email=f"{username}@sct.local"
        )
        if unit:
            organisation.membership_set(
                user=user, unit=units[unit], role=Membership.Role.HEAD if head else Membership.Role.STAFF
            )
        if role:
            organisation.global_role_add(user=user, role=role)
        if oversees:
            organisation.deputy_set_units(user=user, units=[units[s] for s in oversees])
        return user

    return make


@pytest.fixture
def personas(make_user: Callable[..., Any]) -> dict[str, Any]:
    """staff / unit_head of QLCN, staff of QLTM and ATNL, office reviewer, director, deputy, auditor."""
    return {
        "staff": make_user("qlcn_cv", unit="QLCN"),
        "unit_head": make_user("qlcn_tp", unit="QLCN", head=True),
        "other_staff": make_user("qltm_cv", unit="QLTM"),
        "atnl_staff": make_user("atnl_cv", unit="ATNL"),
        "office_reviewer": make_user("vp_cchc", unit="VP", role=roles.OFFICE_REVIEWER),
        "director": make_user("giamdoc", role=roles.DIRECTOR),
        "deputy": make_user("pgd", role=roles.DEPUTY_DIRECTOR, oversees=("QLCN",)),
        "other_deputy": make_user("pgd2", role=roles.DEPUTY_DIRECTOR, oversees=("ATNL",)),
        "auditor": make_user("kiemtra", role=roles.AUDITOR),
    }

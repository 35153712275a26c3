"""Fixtures of the documents tests: a demo PKI in a temp dir, a launched period, the leaders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from documents import pki
from plans.roles import display_name
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services as workflow_services


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()  # the verification page's rate counters
    yield
    cache.clear()


@pytest.fixture(scope="session")
def authority() -> pki.Authority:
    return pki.authority_create()


@pytest.fixture
def pki_dir(tmp_path: Path, settings: Any, authority: pki.Authority) -> Path:
    directory = tmp_path / "pki"
    pki.authority_save(authority, directory)
    settings.DOCUMENT_PKI_DIR = directory
    settings.DOCUMENT_SIGNING_KEYS = None
    settings.DOCUMENT_TRUST_ROOTS = None
    return directory


def give_key(directory: Path, authority: pki.Authority, user: Any, title: str) -> None:
    certificate, key = pki.person_certificate(authority, full_name=display_name(user), title=title)
    pki.pkcs12_save(directory, user.username, certificate, key, authority.certificate)


@pytest.fixture
def leaders(personas: dict[str, Any], pki_dir: Path, authority: pki.Authority) -> dict[str, Any]:
    """The director and a deputy, with full names and demo keys."""
    director, deputy = personas["director"], personas["deputy"]
    director.first_name, director.last_name = "Giám", "Nguyễn Văn"
    deputy.first_name, deputy.last_name = "Phó", "Trần Thị"
    director.save()
    deputy.save()
    give_key(pki_dir, authority, director, "Giám đốc")
    give_key(pki_dir, authority, deputy, "Phó Giám đốc")
    return {"director": director, "deputy": deputy}


@pytest.fixture
def period(personas: dict[str, Any], units: dict[str, Any]) -> Any:
    """Q1 of a plan with one task led by QLTM, launched by the office."""
    criterion = CriterionFactory()
    plan_task(criterion, lead=[units["QLTM"]], partners=[units["ATNL"]])
    q1 = periods(criterion.section.appendix.plan)["Q1"]
    workflow_services.period_launch(period=q1, actor=personas["office_reviewer"])
    return q1

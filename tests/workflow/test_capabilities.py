"""Page-level rights come from one place (plans.access.capabilities), and the navigation shows
exactly the pages a person may open."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from plans.access import capabilities, signers_for
from workflow import access

FIELDS = (
    "launch",
    "import_plan",
    "setup",
    "calendar_view",
    "calendar_edit",
    "audit_search",
    "period_downloads",
    "dashboard_scope",
    "awaiting",
    "unit_queue",
    "failed_mails",
    "document_register",
    "document_issue",
)

EXPECTED = {
    #                 launch import setup cal  cal_e  audit  period dash   await  queue  mails  reg    issue
    "staff": (False, False, False, False, False, False, False, "", False, True, False, False, False),
    "unit_head": (False, False, False, False, False, False, False, "unit", False, True, False, False, False),
    "office_reviewer": (True, True, True, True, True, True, True, "all", True, True, True, True, True),
    "director": (False, False, False, True, False, True, True, "all", True, False, False, True, False),
    "deputy": (False, False, False, True, False, True, True, "all", True, False, False, True, False),
    "auditor": (False, False, False, True, False, True, True, "all", False, False, False, True, False),
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_capabilities_of_each_role(personas: dict[str, Any], persona: str) -> None:
    got = capabilities(personas[persona])
    assert tuple(getattr(got, name) for name in FIELDS) == EXPECTED[persona]


def test_anonymous_and_deactivated_people_may_do_nothing(personas: dict[str, Any]) -> None:
    from django.contrib.auth.models import AnonymousUser

    office = personas["office_reviewer"]
    office.is_active = False
    assert capabilities(office) == access.Capabilities()
    assert capabilities(AnonymousUser()) == access.Capabilities()


def test_a_superuser_may_open_every_page_but_waits_for_no_decision(db: Any) -> None:
    admin = get_user_model().objects.create_superuser("quantri", "qt@sct.local", "pw-test-123")
    got = capabilities(admin)
    assert (got.launch, got.import_plan, got.setup, got.audit_search, got.dashboard_scope) == (
        True,
        True,
        True,
        True,
        "all",
    )
    assert got.awaiting is False


NAV = {
    "workflow:unit_queue": "unit_queue",
    "workflow:awaiting": "awaiting",
    "dashboard:index": "dashboard",
    "history:search": "audit_search",
    "plans:calendar": "calendar_view",
    "workflow:launch": "launch",
    "plans:upload": "import_plan",
    "documents:register": "document_register",
    "workflow:failed_mails": "failed_mails",
    "plans:setup": "setup",
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_navigation_links_follow_the_capabilities(personas: dict[str, Any], persona: str) -> None:
    client = Client()
    client.force_login(personas[persona])
    nav = client.get(reverse("workflow:my_steps")).content.decode().split("<main", 1)[0]
    shown = {name for name in NAV if f'href="{reverse(name)}"' in nav}
    allowed = {name for name, field in NAV.items() if getattr(capabilities(personas[persona]), field)}
    assert shown == allowed


def test_signers_of_a_unit_are_the_director_and_the_deputies_overseeing_it(
    personas: dict[str, Any], units: dict[str, Any]
) -> None:
    assert set(signers_for(units["QLCN"].pk)) == {personas["director"], personas["deputy"]}
    assert set(signers_for(units["ATNL"].pk)) == {personas["director"], personas["other_deputy"]}
    assert set(signers_for(None)) == {personas["director"]}
    assert access.may_sign_off(personas["deputy"], units["QLCN"])
    assert not access.may_sign_off(personas["deputy"], units["ATNL"])
    assert not access.may_sign_off(personas["office_reviewer"], units["QLCN"])

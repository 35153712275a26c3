"""Browser tests: Playwright (sync API) driving Debian's chromium against the app on a live server.

Every test here is marked ``e2e`` and skips, rather than fails, when the ``playwright`` package or
the chromium binary is missing. ``make e2e`` runs them; ``make test`` leaves them out. See docs/e2e.md.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command

from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    E2E_TASK_TEXT,
    ROOT,
    SEED_TASK_KEY,
    SEED_TASK_TEXT,
    TIMEOUT_MS,
    Person,
    Story,
)

SEED_PLAN = ROOT / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"


def pytest_configure(config: pytest.Config) -> None:
    # Until pyproject.toml lists it (then this line is a harmless duplicate).
    config.addinivalue_line("markers", "e2e: browser end-to-end tests (Playwright + chromium; make e2e)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip, before any data is seeded, when the browser cannot run here (fail instead with E2E_REQUIRE=1)."""
    try:
        found = importlib.util.find_spec("playwright.sync_api") is not None
    except ImportError:
        found = False
    missing = ""
    if not found:
        missing = "the playwright package is missing (pip install -r requirements-dev.txt)"
    elif not os.access(CHROMIUM, os.X_OK):
        missing = f"no chromium at {CHROMIUM} (apt-get install chromium, or set E2E_CHROMIUM)"
    if missing and os.environ.get("E2E_REQUIRE") == "1":
        pytest.fail(f"E2E_REQUIRE=1 but {missing}", pytrace=False)
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-django's live server (static files served through the staticfiles finders), on 127.0.0.1."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer(request.config.getvalue("liveserver") or "127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def e2e_plan(live_server: Any, transactional_db: Any) -> Any:
    """The department, the demo accounts and the 2024 seed plan.

    Data only (the same commands as ``make run``); every workflow action in the tests is a click.
    """
    from plans.models import Plan

    call_command("seed_demo", "--demo-accounts", stdout=io.StringIO())
    call_command("import_plan", str(SEED_PLAN), stdout=io.StringIO())
    return Plan.objects.get(year=2024)


@pytest.fixture
def seed_task(e2e_plan: Any) -> Any:
    """A task of the seed plan as imported: led by QLCN alone; its partners are "Các phòng, đơn vị
    thuộc sở" (six units, none named one by one, so none proposed: the lead ticks whom to ask)."""
    from plans.models import PlanTask

    task = PlanTask.objects.get(plan=e2e_plan, key=SEED_TASK_KEY)
    assert task.task.startswith(SEED_TASK_TEXT), task.task
    assert [u.short_name for u in task.lead_units.all()] == ["QLCN"]
    assert task.partner_text == "Các phòng, đơn vị thuộc sở"
    assert task.partner_units.count() == 6 and not task.partner_units_named.exists()
    return task


@pytest.fixture
def e2e_task(e2e_plan: Any) -> Any:
    """One task added to the seed plan: led by QLCN with QLTM, named, as partner (the phone pages)."""
    from plans.models import PlanTask, Unit

    plan = e2e_plan
    qlcn, qltm = Unit.objects.get(short_name="QLCN"), Unit.objects.get(short_name="QLTM")
    near = PlanTask.objects.filter(plan=plan, lead_units=qlcn).order_by("position").first()
    last = PlanTask.objects.filter(plan=plan).order_by("-position").first()
    task = PlanTask.objects.create(
        plan=plan,
        criterion=near.criterion,
        key=f"{near.key.rsplit('/', 1)[0]}/99",
        order=99,
        position=last.position + 1,
        task=E2E_TASK_TEXT,
        lead_text=qlcn.name,
        partner_text=qltm.name,
        timeline_text="Quý I/2024",
        timeline_kind=PlanTask.TimelineKind.OTHER,
    )
    task.lead_units.set([qlcn])
    task.partner_units.set([qltm])
    task.partner_units_named.set([qltm])  # the text names it one by one (plans.partner_scope)
    return task


@pytest.fixture
def browser(e2e_plan: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless chromium for this test (set up after the data, closed before the database is flushed)."""
    from playwright import sync_api

    # Playwright's sync API keeps an asyncio loop "running" in this thread: without this, Django
    # would refuse the test body's own queries (see browser.orm_in_test_body).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def story(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Story]:
    story = Story(browser=browser, base_url=live_server.url, name=request.node.name)
    yield story
    story.close()


@pytest.fixture
def person(story: Story) -> Callable[[str], Person]:
    """A person at their own browser, logged in with their demo account."""

    def make(username: str) -> Person:
        with story.step(f"login-{username}"):
            someone = story.person(username)
            someone.log_in()
        return someone

    return make

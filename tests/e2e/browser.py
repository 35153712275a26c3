"""The people of a browser scenario: Person (one browser context) and Story (steps, screenshots)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "test-results" / "e2e"
DEMO_PASSWORD = "cchc-demo-2024"  # the documented development password of seed_demo's accounts
TIMEOUT_MS = 10_000

# The plan task the scenario takes from launch to sign-off: led by QLCN, one partner (QLTM).
E2E_TASK_TEXT = "Rà soát, đề xuất cắt giảm thủ tục hành chính về công nghiệp liên quan đến thương mại"


@contextlib.contextmanager
def orm_in_test_body() -> Iterator[None]:
    """Database queries from the test body while the browser runs.

    Once Playwright's sync API has started, the test body runs in another contextvars context than
    its fixtures, so Django hands it a connection of its own, which nothing would close (on
    PostgreSQL the test database then cannot be dropped). Close it after use.
    """
    from django.db import connections

    try:
        yield
    finally:
        connections.close_all()


class Person:
    """One person at their own browser (a separate context: own cookies, own session)."""

    def __init__(self, *, username: str, page: Any, base_url: str) -> None:
        from playwright.sync_api import expect

        self.username = username
        self.page = page
        self.base_url = base_url
        self.expect = expect
        self.problems: list[str] = []
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"JS error: {error}"))

    def _on_response(self, response: Any) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.problems.append(f"{response.status} {response.url}")

    def _on_console(self, message: Any) -> None:
        # CSP violations and script errors land here; a 400/409 page a form answers with does too.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    # --- what a person does ---------------------------------------------------------------

    def open_site(self) -> None:
        self.page.goto(self.base_url + "/")

    def log_in(self) -> None:
        self.open_site()
        self.expect(self.page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
        self.page.get_by_label("Tên đăng nhập").fill(self.username)
        self.page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Đăng nhập").click()
        self.expect(self.page.get_by_role("button", name="Đăng xuất")).to_be_visible()

    def follow(self, link: Any) -> None:
        """Click a link and wait for its page (so that nothing is checked on the page before)."""
        href = link.get_attribute("href")
        link.click()
        self.page.wait_for_url(f"**{href}")

    def nav(self, name: str) -> None:
        self.follow(self.nav_bar().get_by_role("link", name=name, exact=True))

    def nav_bar(self) -> Any:
        return self.page.get_by_role("navigation", name="Điều hướng chính")

    def click(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def open_task(self, text: str, *, kind: str) -> None:
        """In a list of steps, the row of this task at this step; follow its link."""
        row = self.page.locator("table.grid tbody tr").filter(has_text=text).filter(has_text=kind)
        self.expect(row).to_have_count(1)
        self.follow(row.get_by_role("link"))

    # --- what a person sees ---------------------------------------------------------------

    def heading(self) -> Any:
        return self.page.locator("main h1")

    def sees_form(self, title: str) -> None:
        """The step's form, under its own heading: only there for the person who may act now."""
        self.expect(self.page.get_by_role("heading", name=title, exact=True)).to_be_visible()

    def sees_heading(self, text: str) -> None:
        self.expect(self.heading()).to_have_text(text)

    def sees(self, *texts: str) -> None:
        for text in texts:
            self.expect(self.page.locator("main")).to_contain_text(text)

    def sees_message(self, text: str) -> None:
        self.expect(self.page.locator("main ul.messages").first).to_contain_text(text)

    def has_no_text(self, *texts: str) -> None:
        for text in texts:
            self.expect(self.page.locator("main")).not_to_contain_text(text)

    def has_no_button(self, *names: str) -> None:
        for name in names:
            self.expect(self.page.get_by_role("button", name=name, exact=True)).to_have_count(0)


class Story:
    """The people of one scenario and its steps; a failing step leaves every person's screen behind."""

    def __init__(self, *, browser: Any, base_url: str, name: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.name = re.sub(r"[^\w.-]+", "_", name)
        self.every_step = os.environ.get("E2E_SCREENSHOTS") == "all"
        shutil.rmtree(RESULTS_DIR / self.name, ignore_errors=True)  # no stale screens from a past run
        self.people: list[Person] = []
        self.contexts: list[Any] = []
        self.number = 0

    def person(self, username: str) -> Person:
        context = self.browser.new_context(
            locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        person = Person(username=username, page=context.new_page(), base_url=self.base_url)
        self.people.append(person)
        return person

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        try:
            yield
        except BaseException:
            self.save_screens(f"{self.number:02d}-{title}")
            raise
        if self.every_step:
            self.save_screens(f"{self.number:02d}-{title}")

    def save_screens(self, label: str) -> None:
        folder = RESULTS_DIR / self.name
        folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^\w.-]+", "-", label).strip("-")
        for person in self.people:
            base = f"{slug}-{person.username}"
            with contextlib.suppress(Exception):
                person.page.screenshot(path=str(folder / f"{base}.png"), full_page=True)
                (folder / f"{base}.html").write_text(person.page.content(), encoding="utf-8")

    def problems(self) -> list[str]:
        return [f"{p.username}: {problem}" for p in self.people for problem in p.problems]

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()

"""The people of a browser scenario: Person (one browser context) and Story (steps, screenshots)."""

from __future__ import annotations

import contextlib
import json
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
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an ordinary phone; a phone story checks every page against it

# Runs in every page of a phone story (injected by the browser, so the strict CSP does not apply):
# when the page has loaded, report its width, its path, its heading and what sticks out.
MEASURE_ON_LOAD = """addEventListener('load', () => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 1)
    .slice(0, 3)
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
  const h1 = document.querySelector('main h1');
  console.debug('e2e-width ' + JSON.stringify(
    [root.scrollWidth, location.pathname + location.search, (h1 ? h1.textContent : document.title).trim(), wide]));
});"""
WIDTH_MARK = "e2e-width "

# The seed plan's task the report flow takes from launch to sign-off (plans/seed/, row 2/VII/-/1/2):
# led by QLCN alone, partners "Các phòng, đơn vị thuộc sở". SEED_TASK_TEXT is how its text begins
# (unique in the plan; lists show it whole or cut further on).
SEED_TASK_KEY = "2/VII/-/1/2"
SEED_TASK_TEXT = "Tháo gỡ khó khăn, vướng mắc của các cơ sở công nghiệp"
# The task conftest.e2e_task adds (led by QLCN, one named partner, QLTM): the phone pages use it.
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
        self.max_width: int | None = None  # set on a phone: every page loaded is measured against it
        self.pages_measured: list[tuple[int, str, str]] = []  # (scroll width, path, heading)
        self.too_wide: list[str] = []
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

    def on_page_measured(self, message: Any) -> None:
        """A page of this person's context (any tab) has loaded: MEASURE_ON_LOAD's report."""
        if message.type != "debug" or not message.text.startswith(WIDTH_MARK):
            return
        width, path, heading, wide = json.loads(message.text[len(WIDTH_MARK) :])
        self.pages_measured.append((width, path, heading))
        if self.max_width is not None and width > self.max_width:
            self.too_wide.append(
                f"{self.username}: the page “{heading}” ({path}) is {width} px wide at a {self.max_width} px"
                f" viewport; sticking out: {', '.join(wide) or '?'}"
            )

    def fits(self) -> None:
        """Every page this person has loaded so far is no wider than the screen (the one width check).

        Waits for the page being loaded, so that its measure has arrived; Story.step calls it
        after every step, for every person.
        """
        if self.max_width is None:
            return
        with contextlib.suppress(Exception):  # a closed page has nothing left to load
            self.page.wait_for_load_state("load")
        assert not self.too_wide, "\n".join(self.too_wide)

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
        link = self.nav_bar().get_by_role("link", name=name, exact=True, include_hidden=True)
        if not link.is_visible():  # on a phone the menu is folded behind its button (static/js/menu.js)
            self.page.get_by_role("button", name="Danh mục").click()
        self.follow(link)

    def nav_bar(self) -> Any:
        # include_hidden: on a phone the menu is folded until its button is pressed
        return self.page.get_by_role("navigation", name="Điều hướng chính", include_hidden=True)

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
        self.viewport = DESKTOP
        self.phone = False
        self.base_url = base_url
        self.name = re.sub(r"[^\w.-]+", "_", name)
        self.every_step = os.environ.get("E2E_SCREENSHOTS") == "all"
        shutil.rmtree(RESULTS_DIR / self.name, ignore_errors=True)  # no stale screens from a past run
        self.people: list[Person] = []
        self.contexts: list[Any] = []
        self.number = 0

    def on_a_phone(self) -> None:
        """Everyone from now on browses at 390 x 844, and every page they load must fit its width."""
        self.viewport = PHONE
        self.phone = True

    def person(self, username: str, *, language: str = "vi-VN") -> Person:
        """A person at their own browser context; ``language`` is the browser's (its Accept-Language)."""
        context = self.browser.new_context(
            locale=language,
            extra_http_headers={"Accept-Language": f"{language},{language.split('-')[0]};q=0.9"},
            timezone_id="Asia/Ho_Chi_Minh",
            viewport=self.viewport,
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        if self.phone:
            context.add_init_script(MEASURE_ON_LOAD)
        person = Person(username=username, page=context.new_page(), base_url=self.base_url)
        if self.phone:
            person.max_width = self.viewport["width"]
            context.on("console", person.on_page_measured)  # every tab of the context
        self.people.append(person)
        return person

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        try:
            yield
            for person in self.people:
                person.fits()
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
        return [f"{p.username}: {problem}" for p in self.people for problem in [*p.problems, *p.too_wide]]

    def pages_measured(self) -> list[tuple[int, str, str]]:
        return [page for p in self.people for page in p.pages_measured]

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()

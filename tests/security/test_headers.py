"""Response headers: the Content Security Policy, and templates that need no inline script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}
# Every template of the project: templates/ and any app's own templates/ folder.
TEMPLATE_FILES = sorted(
    path
    for root in [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR).glob("*/templates")]
    for path in root.rglob("*")
    if path.is_file() and path.suffix in {".html", ".txt", ".xml", ".svg"} and ".venv" not in path.parts
)
# Drawn into a PDF by WeasyPrint on the server, never sent to a browser: no policy applies.
PDF_ONLY = {"templates/history/task_pdf.html"}
# What a strict policy blocks, so what no template sent to a browser may contain.
INLINE = {
    "inline <script> (no src)": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I | re.S),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S),
    "event-handler attribute (on...=)": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def directives(response: Any) -> set[str]:
    """The policy's directives (django-csp does not keep their order)."""
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def test_templates_were_found() -> None:
    names = {p.relative_to(settings.BASE_DIR).as_posix() for p in TEMPLATE_FILES}
    assert {
        "templates/base.html",
        "templates/registration/login.html",
        "templates/workflow/step.html",
    } <= names


@pytest.mark.parametrize("kind", INLINE)
def test_no_template_has_inline_script_or_style(kind: str) -> None:
    pattern = INLINE[kind]
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)[:80]!r}"
        for path in TEMPLATE_FILES
        if path.relative_to(settings.BASE_DIR).as_posix() not in PDF_ONLY
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_login_page_sends_the_policy_and_the_other_headers(client: Any) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert directives(response) == CSP
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("name", ["workflow:my_steps", "plans:plan", "workflow:launch"])
def test_pages_and_error_pages_send_the_policy(client: Any, personas: dict[str, Any], name: str) -> None:
    # launch is a 403 page for the staff member: error pages carry the policy too
    client.force_login(personas["staff"])
    response = client.get(reverse(name))
    assert response.status_code in (200, 403)
    assert directives(response) == CSP


def test_session_and_csrf_cookies_are_http_only_and_same_site(client: Any, personas: dict[str, Any]) -> None:
    response = client.post(reverse("login"), {"username": "qlcn_cv", "password": "pw-test-123"})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (cookie["httponly"], cookie["samesite"], cookie["max-age"]) == (True, "Lax", 1800)

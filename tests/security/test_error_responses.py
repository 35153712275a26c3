"""Error responses and their log lines: an unknown Host is a 400, a 403 is one log line."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from config.log import OneLineClientErrors
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.models import PeriodTask


@pytest.mark.parametrize("secure_redirect", [False, True], ids=["plain", "behind-tls-proxy"])
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_unknown_host_header_is_a_400_page_not_a_server_error(
    client: Client, personas: dict[str, Any], settings: Any, secure_redirect: bool, logged_in: bool
) -> None:
    # Given the deployment's settings (the host check happens before the session is read)
    settings.ALLOWED_HOSTS = ["cchc.sct.example.vn"]
    settings.SECURE_SSL_REDIRECT = secure_redirect
    if logged_in:
        client.force_login(personas["staff"])

    # When a request names another host
    response = client.get(reverse("login"), HTTP_HOST="evil.example.com")

    # Then it is the Vietnamese 400 page, without the navigation of a logged-in user
    assert response.status_code == 400
    page = response.content.decode()
    assert "Yêu cầu không hợp lệ (400)" in page
    assert "Việc của tôi" not in page
    assert "Content-Security-Policy" in response


def test_context_processors_work_on_a_request_without_user() -> None:
    from django.test import RequestFactory

    from plans.context_processors import roles
    from workflow.context_processors import notifications

    request = RequestFactory().get("/")
    assert not hasattr(request, "user")
    assert roles(request)["roles"].unit is None
    assert notifications(request) == {}


def _denied_step(personas: dict[str, Any], units: dict[str, Any]) -> str:
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    lead = PeriodTask.objects.get(plan_task=task).steps.get(kind="lead")
    return reverse("workflow:step", args=[lead.pk])


@contextmanager
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler (gunicorn's log in production) writes meanwhile."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, OneLineClientErrors) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_403_is_logged_as_one_line_without_traceback(
    client: Client, personas: dict[str, Any], units: dict[str, Any]
) -> None:
    # Given a step of QLCN, opened by QLTM's staff
    url = _denied_step(personas, units)
    client.force_login(personas["other_staff"])

    with console_log() as log:
        response = client.get(url)

    # Then 403, and the log has one line naming the path, no traceback
    assert response.status_code == 403
    assert log.getvalue() == f"Forbidden (Permission denied): {url}\n"


def test_an_unknown_host_is_logged_as_one_line(client: Client, db: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["cchc.sct.example.vn"]
    with console_log() as log:
        assert client.get("/", HTTP_HOST="evil.example.com").status_code == 400
    assert log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("Invalid HTTP_HOST header: 'evil.example.com'.")


def test_a_server_error_keeps_its_traceback() -> None:
    # The one-line rule is for 4xx only: a 500 is logged with everything needed to fix it
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (), None
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.status_code = 500
    assert OneLineClientErrors().filter(record) is True
    assert record.exc_info is not None

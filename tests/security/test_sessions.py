"""Sessions: 30 minutes idle, 12 hours at most whatever the activity; a disabled user is out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

START = dt.datetime(2024, 3, 4, 7, 30, tzinfo=dt.UTC)


def page(client: Any) -> int:
    return client.get(reverse("workflow:my_steps")).status_code


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_settings_are_30_minutes_idle_and_12_hours_in_all() -> None:
    assert settings.SESSION_COOKIE_AGE == 1800
    assert settings.SESSION_SAVE_EVERY_REQUEST is False  # refreshed at most once a minute instead
    assert settings.SESSION_REFRESH_SECONDS == 60
    assert settings.SESSION_MAX_AGE_SECONDS == 12 * 3600


def test_idle_session_ends_after_30_minutes_and_activity_keeps_it(
    client: Any, personas: dict[str, Any]
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given a logged-in user who opens a page
        client.force_login(personas["staff"])
        assert page(client) == 200

        # When they come back after 29 minutes, twice (58 minutes since login)
        traveller.shift(dt.timedelta(minutes=29))
        first = page(client)
        traveller.shift(dt.timedelta(minutes=29))
        second = page(client)
        # Then each visit kept the session alive
        assert (first, second) == (200, 200)

        # When they come back after 30 minutes and 1 second of idleness
        traveller.shift(dt.timedelta(minutes=30, seconds=1))
        response = client.get(reverse("workflow:my_steps"))
        # Then they are sent to the login page
        assert is_login_redirect(response)


def test_idle_limit_counts_from_the_last_refresh_at_most_a_minute_old(
    client: Any, personas: dict[str, Any]
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given a page at START (expiry refreshed) and another 50 seconds later (not refreshed)
        client.force_login(personas["staff"])
        assert page(client) == 200
        traveller.shift(dt.timedelta(seconds=50))
        assert page(client) == 200

        # When the user comes back 29 min 9 s after that last page (30 min after START)
        traveller.shift(dt.timedelta(minutes=29, seconds=10))
        response = client.get(reverse("workflow:my_steps"))

        # Then the session has ended: idle time is counted from a refresh at most a minute old
        assert is_login_redirect(response)


def test_busy_session_ends_12_hours_after_login(client: Any, personas: dict[str, Any]) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given a user logged in at START who opens a page every 20 minutes
        client.force_login(personas["staff"])
        statuses = [page(client)]
        for _ in range(35):  # the last at 11 h 40 min after login
            traveller.shift(dt.timedelta(minutes=20))
            statuses.append(page(client))
        assert statuses == [200] * 36
        # At 11 h 59 min 59 s it still works
        traveller.shift(dt.timedelta(minutes=19, seconds=59))
        assert page(client) == 200

        # When 12 hours have passed since login
        traveller.shift(dt.timedelta(seconds=1))
        response = client.get(reverse("workflow:my_steps"))

        # Then the session is ended: login page, and the next page too
        assert is_login_redirect(response)
        assert is_login_redirect(client.get(reverse("workflow:my_steps")))
        assert "_auth_user_id" not in client.session


def test_12_hour_clock_starts_at_the_login_page(client: Any, personas: dict[str, Any]) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given a user who logs in through the login page
        response = client.post(reverse("login"), {"username": "qlcn_cv", "password": "pw-test-123"})
        assert response.status_code == 302
        assert client.session["_login_at"] == START.timestamp()

        # When they keep working for 12 hours, one page every 25 minutes
        for _ in range(28):  # 11 h 40 min
            traveller.shift(dt.timedelta(minutes=25))
            assert page(client) == 200
        traveller.shift(dt.timedelta(minutes=20))

        # Then at 12 h the session ends with a Vietnamese message on the login page
        response = client.get(reverse("workflow:my_steps"), follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("login"))
        assert "Phiên làm việc đã quá 12 giờ. Vui lòng đăng nhập lại." in response.content.decode()


def test_disabling_a_user_ends_their_open_sessions(client: Any, personas: dict[str, Any]) -> None:
    # Given the staff member has an open session
    user = personas["staff"]
    client.force_login(user)
    assert page(client) == 200

    # When an administrator disables the account
    user.is_active = False
    user.save(update_fields=["is_active"])

    # Then their next request is anonymous and sent to the login page; a POST changes nothing
    assert is_login_redirect(client.get(reverse("workflow:my_steps")))
    assert is_login_redirect(client.post(reverse("workflow:notifications")))
    # and they cannot log in again
    client.logout()
    response = client.post(reverse("login"), {"username": user.username, "password": "pw-test-123"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_deletes_the_session_row(client: Any, personas: dict[str, Any]) -> None:
    client.force_login(personas["staff"])
    assert page(client) == 200
    key = client.session.session_key
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()

"""Failed logins: 5 failures of one username from one address lock that pair for 15 minutes;
20 failures of one username from any addresses lock that username everywhere for 15 minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse

START = dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.UTC)
PASSWORD = "pw-test-123"  # tests/conftest.py make_user


def attempt(client: Any, username: str, password: str, ip: str = "10.0.0.1", url: str = "") -> Any:
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Any) -> bool:
    return "_auth_user_id" in client.session


def test_fifth_failed_login_locks_username_and_ip_for_15_minutes(
    client: Any, personas: dict[str, Any]
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given four failed logins of qlcn_cv from one address
        first_four = [attempt(client, "qlcn_cv", "sai-mat-khau").status_code for _ in range(4)]

        # When the fifth fails too, then the right password is given from the same address
        fifth = attempt(client, "qlcn_cv", "sai-mat-khau")
        right = attempt(client, "qlcn_cv", PASSWORD)

        # Then the first four show the login form again; the fifth and the right password get
        # the Vietnamese lockout page (429) and nobody is logged in
        assert first_four == [200, 200, 200, 200]
        assert (fifth.status_code, right.status_code) == (429, 429)
        page = right.content.decode()
        assert "Tài khoản đã bị tạm khóa do nhập sai mật khẩu 5 lần liên tiếp." in page
        assert "trong <strong>15 phút</strong>" in page
        assert not logged_in(client)

        # When 14 minutes have passed, it is still locked
        traveller.shift(dt.timedelta(minutes=14))
        assert attempt(client, "qlcn_cv", PASSWORD).status_code == 429

        # When 15 minutes have passed since the last attempt, the right password logs in
        traveller.shift(dt.timedelta(minutes=15, seconds=1))
        response = attempt(client, "qlcn_cv", PASSWORD)
        assert response.status_code == 302
        assert logged_in(client)


def test_lockout_is_per_username_and_address(client: Any, personas: dict[str, Any]) -> None:
    # Given qlcn_cv is locked from 10.0.0.1
    for _ in range(5):
        attempt(client, "qlcn_cv", "sai-mat-khau")
    assert attempt(client, "qlcn_cv", PASSWORD).status_code == 429

    # When the same user logs in from another address, and another user from the same one
    other_address = attempt(client, "qlcn_cv", PASSWORD, ip="10.0.0.2")
    client.logout()
    other_user = attempt(client, "qltm_cv", PASSWORD)

    # Then both get in: an attacker cannot lock a colleague out everywhere
    assert (other_address.status_code, other_user.status_code) == (302, 302)


def test_twenty_failures_of_one_username_from_many_addresses_lock_it_everywhere(
    client: Any, personas: dict[str, Any]
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        # Given guesses at qlcn_cv's password from five addresses, four from each (no pair locked)
        statuses = [
            attempt(client, "qlcn_cv", "sai-mat-khau", ip=f"10.0.1.{n}").status_code
            for n in range(1, 6)
            for _ in range(4)
        ]

        # Then the 20th failure locks the username
        assert statuses == [200] * 19 + [429]

        # When the right password comes from an address never seen before
        right = attempt(client, "qlcn_cv", PASSWORD, ip="10.0.9.9")

        # Then it is refused with the Vietnamese page that says "from any machine"
        assert right.status_code == 429
        page = right.content.decode()
        assert "Tài khoản đã bị tạm khóa do có 20 lần nhập sai mật khẩu, từ nhiều máy khác nhau." in page
        assert "không thể đăng nhập từ bất kỳ máy nào trong <strong>15 phút</strong>" in page
        assert not logged_in(client)

        # And another user from one of those addresses is not locked
        assert attempt(client, "qltm_cv", PASSWORD, ip="10.0.1.1").status_code == 302
        client.logout()

        # When 15 minutes have passed since the last failure, the right password logs in
        traveller.shift(dt.timedelta(minutes=15, seconds=1))
        assert attempt(client, "qlcn_cv", PASSWORD, ip="10.0.9.9").status_code == 302


def test_nineteen_failures_over_many_addresses_do_not_lock_the_username(
    client: Any, personas: dict[str, Any]
) -> None:
    for n in range(1, 20):
        assert attempt(client, "qlcn_cv", "sai-mat-khau", ip=f"10.0.2.{n}").status_code == 200
    assert attempt(client, "qlcn_cv", PASSWORD, ip="10.0.9.9").status_code == 302


def test_admin_login_counts_and_locks_the_same_way(client: Any, personas: dict[str, Any]) -> None:
    admin_login = reverse("admin:login")
    statuses = [attempt(client, "giamdoc", "sai-mat-khau", url=admin_login).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert attempt(client, "giamdoc", PASSWORD).status_code == 429


def test_a_successful_login_resets_the_count(client: Any, personas: dict[str, Any]) -> None:
    # Given four failures, then a success
    for _ in range(4):
        attempt(client, "qlcn_cv", "sai-mat-khau")
    assert attempt(client, "qlcn_cv", PASSWORD).status_code == 302
    client.logout()

    # When four more failures follow, the right password still works
    for _ in range(4):
        attempt(client, "qlcn_cv", "sai-mat-khau")
    assert attempt(client, "qlcn_cv", PASSWORD).status_code == 302


def test_failures_are_recorded_with_username_and_address(client: Any, personas: dict[str, Any]) -> None:
    for _ in range(3):
        attempt(client, "qlcn_cv", "sai-mat-khau", ip="192.0.2.7")
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")) == [
        ("qlcn_cv", "192.0.2.7", 3)
    ]


@pytest.mark.parametrize(
    ("forwarded", "counted"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", "203.0.113.9"),
        ("203.0.113.9, <script>", "127.0.0.1"),
        ("", "127.0.0.1"),
    ],
)
def test_behind_the_proxy_the_address_it_appended_is_the_one_counted(
    client: Any, personas: dict[str, Any], settings: Any, forwarded: str, counted: str
) -> None:
    # Given the site runs behind its TLS proxy; the client forges an X-Forwarded-For entry
    settings.BEHIND_TLS_PROXY = True
    client.post(
        reverse("login"),
        {"username": "qlcn_cv", "password": "sai"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    # Then the right-most address (the one the proxy appended) is recorded; garbage is ignored
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [counted]


def test_test_client_login_and_force_login_still_work(client: Any, personas: dict[str, Any]) -> None:
    # The lockout backend steps aside when there is no request (test client, shell)
    assert client.login(username="qlcn_cv", password=PASSWORD) is True
    assert client.get(reverse("workflow:my_steps")).status_code == 200
    client.logout()
    assert client.login(username="qlcn_cv", password="sai") is False
    client.force_login(personas["auditor"])
    assert client.get(reverse("workflow:my_steps")).status_code == 200

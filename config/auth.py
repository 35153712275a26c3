"""Login hardening: the django-axes backend as this project uses it, and the client's IP.

Every login that comes over HTTP (our login page, the admin's) calls ``authenticate`` with
the request, and django-axes counts and locks those. ``authenticate`` without a request can
only come from code running on the server (the test client's ``login()``, a shell), where
there is no client to lock out, so the lockout check steps aside instead of raising.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out username + IP (django-axes); never logs anyone in itself."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


class LoginLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a limit of its own for each lockout parameter.

    ``AXES_LOCKOUT_PARAMETERS`` lists what is counted (here the username with the address,
    then the username alone, over every address) and ``LOGIN_FAILURE_LIMITS`` the limit of
    each, in the same order; axes itself compares the largest count with one limit. A count
    at its limit locks; the result is given on axes' scale (``AXES_FAILURE_LIMIT`` means
    locked), so the rest of axes (the backend's check, the lockout page) works unchanged.
    ``request.login_lockout`` says which limit was reached, for the lockout page.
    """

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        counts = [
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        for count, limit, parameter in zip(
            counts, settings.LOGIN_FAILURE_LIMITS, settings.AXES_LOCKOUT_PARAMETERS, strict=True
        ):
            if count >= limit:
                # HttpRequest has no such attribute: set here, read by the lockout page.
                request.login_lockout = {  # type: ignore[attr-defined]
                    "by": parameter if isinstance(parameter, str) else "+".join(parameter),
                    "limit": limit,
                }
                return max(counts[0], settings.AXES_FAILURE_LIMIT)
        return counts[0]


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind our TLS proxy the address it appended.

    The proxy appends the peer's address to X-Forwarded-For, so only the right-most entry
    is trustworthy; anything to its left was sent by the client and may be forged. What is
    not an IP address is ignored (the audit tables store addresses as such).
    """
    candidates = [request.META.get("REMOTE_ADDR", "")]
    if settings.BEHIND_TLS_PROXY:
        candidates.insert(0, request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip())
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None

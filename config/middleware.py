"""Session lifetime: idle sessions end, and every session ends the same day.

Idle: the session's expiry (SESSION_COOKIE_AGE) is pushed on by a save at most every
SESSION_REFRESH_SECONDS, instead of SESSION_SAVE_EVERY_REQUEST's write on every request
(three statements a page); an idle session ends between SESSION_COOKIE_AGE minus that
interval and SESSION_COOKIE_AGE after the last request.
Absolute: any session ends SESSION_MAX_AGE_SECONDS after the login, so a stolen or
forgotten session that is kept busy still dies the same day.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

LOGIN_AT_KEY = "_login_at"
SEEN_AT_KEY = "_seen_at"


class SessionMaxAgeMiddleware:
    """Records when a session was first seen logged in; logs it out once too old."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now().timestamp()
        if request.user.is_authenticated:
            login_at = request.session.get(LOGIN_AT_KEY)
            if not isinstance(login_at, int | float):
                request.session[LOGIN_AT_KEY] = now
            elif now - login_at >= settings.SESSION_MAX_AGE_SECONDS:
                # logout() flushes the session: the request goes on as anonymous, so the
                # view's login_required sends the user to the login page.
                logout(request)
                hours = settings.SESSION_MAX_AGE_SECONDS // 3600
                messages.warning(request, f"Phiên làm việc đã quá {hours} giờ. Vui lòng đăng nhập lại.")
        response = self.get_response(request)
        if request.user.is_authenticated:
            # A login during this request (the login page's POST): start the clock now.
            if LOGIN_AT_KEY not in request.session:
                request.session[LOGIN_AT_KEY] = now
            seen_at = request.session.get(SEEN_AT_KEY)
            if not isinstance(seen_at, int | float) or now - seen_at >= settings.SESSION_REFRESH_SECONDS:
                request.session[SEEN_AT_KEY] = now  # saved by SessionMiddleware: a new expiry
        return response

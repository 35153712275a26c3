from __future__ import annotations

from django.http import HttpRequest

from workflow.models import Notification


def notifications(request: HttpRequest) -> dict[str, object]:
    """Unread notifications count for the navigation bar (one query). Counted when the page is
    rendered, after the view marked read what it shows (a step, a launch's filtered list).

    Nothing for a request that has no ``user`` (refused before AuthenticationMiddleware,
    e.g. an unknown Host header) or an anonymous one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}

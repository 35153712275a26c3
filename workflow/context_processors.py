from __future__ import annotations

from django.http import HttpRequest

from workflow.models import Notification


def notifications(request: HttpRequest) -> dict[str, object]:
    """Unread notifications count for the navigation bar (one query)."""
    if not request.user.is_authenticated:
        return {}
    return {
        "unread_notifications": Notification.objects.filter(user=request.user, read_at__isnull=True).count()
    }

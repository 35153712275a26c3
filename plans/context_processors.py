from __future__ import annotations

from django.http import HttpRequest

from plans.roles import roles_of


def roles(request: HttpRequest) -> dict[str, object]:
    """The user's roles, for the navigation."""
    return {"roles": roles_of(request.user)}

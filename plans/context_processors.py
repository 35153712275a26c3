from __future__ import annotations

from django.http import HttpRequest

from plans.access import capabilities as capabilities_of
from plans.roles import NO_ROLES, roles_of


def roles(request: HttpRequest) -> dict[str, object]:
    """The user's roles, for the navigation.

    A request refused before AuthenticationMiddleware ran (an unknown Host header: a 400)
    has no ``user``; its error page is rendered with no roles."""
    user = getattr(request, "user", None)
    return {"roles": roles_of(user) if user is not None else NO_ROLES}


def capabilities(request: HttpRequest) -> dict[str, object]:
    """What the user may open (plans.access.capabilities): templates ask this, never a role."""
    return {"capabilities": capabilities_of(getattr(request, "user", None))}

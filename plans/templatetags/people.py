"""Template filters about people."""

from __future__ import annotations

from typing import Any

from django import template

from plans.roles import display_name

register = template.Library()


@register.filter
def person(user: Any) -> str:
    """A user's name in Vietnamese order (họ, đệm, tên), else the username."""
    return display_name(user)

"""The one error of the plan readers: ``PlanParseError`` with a Vietnamese ``message``."""

from __future__ import annotations

__all__ = ["PlanParseError"]


class PlanParseError(ValueError):
    """Bad input.

    ``message`` is a clear Vietnamese sentence for the user; ``row`` the 1-based line
    (txt) or table row (docx) when known; ``text`` the offending text.
    """

    def __init__(self, message: str, *, row: int | None = None, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.text = text

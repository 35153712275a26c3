"""Who signs an official document and how the signature block reads (Nghị định 30/2020/NĐ-CP).

One rule, used by the draft PDFs (``workflow.reports``) and by issuing (``documents.services``):
the director signs in his own right ("GIÁM ĐỐC"); a deputy signs on his behalf ("KT. GIÁM ĐỐC"
over "PHÓ GIÁM ĐỐC"); the full name (family name first, ``plans.roles.display_name``) stands
under the signature. Nobody outside the Ban Giám đốc signs an outgoing document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from plans import access
from plans.roles import display_name

DIRECTOR_AUTHORITY = "GIÁM ĐỐC"
DEPUTY_AUTHORITY = "KT. GIÁM ĐỐC"
DEPUTY_TITLE = "PHÓ GIÁM ĐỐC"


@dataclass(frozen=True)
class SignerBlock:
    """The lines of the signature block: authority form, title (empty for the director), name."""

    authority: str
    title: str
    name: str


# A draft whose leadership is not set up yet: the director's form, no name.
UNSIGNED = SignerBlock(DIRECTOR_AUTHORITY, "", "")


def signer_block(user: Any) -> SignerBlock:
    """The signature block of a leader; a ``ValidationError`` (Vietnamese) for anyone else."""
    name = display_name(user)
    if not user.is_active:
        raise ValidationError(f"Tài khoản {user.username} đã bị khóa, không thể ký văn bản.")
    kind = access.leader_kind(user)
    if kind == "director":
        return SignerBlock(DIRECTOR_AUTHORITY, "", name)
    if kind == "deputy":
        return SignerBlock(DEPUTY_AUTHORITY, DEPUTY_TITLE, name)
    raise ValidationError(f"{name} không thuộc Ban Giám đốc Sở nên không thể ký văn bản đi.")


def leaders() -> QuerySet[Any]:
    """The people who may sign: active members of the Ban Giám đốc (who they are: plans.access)."""
    return access.leaders().order_by("last_name", "first_name", "pk")


def director() -> Any:
    """The director (the first active one), who signs when no one else is named; or None."""
    return access.director().first()


def director_block() -> SignerBlock:
    """The director's block (one query), ``UNSIGNED`` while there is no director."""
    user = director()
    return SignerBlock(DIRECTOR_AUTHORITY, "", display_name(user)) if user is not None else UNSIGNED


def signer_chosen(raw: str | None, *, default: Any = None) -> SignerBlock:
    """The block of the signer a request names (``?signer=<user id>``), else of ``default``,
    else of the director; ``UNSIGNED`` when the department has no leader yet.

    A ``signer`` that is not a number or not a leader is a ``ValidationError`` with a message.
    """
    if raw not in (None, ""):
        raw = str(raw).strip()
        if not raw.isdigit() or len(raw) > 12:
            raise ValidationError("Người ký không hợp lệ.")
        user = leaders().filter(pk=int(raw)).first()
        if user is None:
            raise ValidationError("Người ký phải là Giám đốc hoặc Phó Giám đốc Sở đang hoạt động.")
        return signer_block(user)
    if default is not None:
        try:
            return signer_block(default)
        except ValidationError:
            pass  # the person who signed off left the leadership: the director signs
    return director_block()

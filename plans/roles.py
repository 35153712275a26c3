"""Roles are Django groups; this module names them and answers "what is this user?".

Unit-scoped rights are guardian object permissions on Unit (see Unit's docstring);
the global roles below carry model permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from plans.models import Unit

STAFF: Final = "Chuyên viên"
UNIT_HEAD: Final = "Trưởng đơn vị"
OFFICE_REVIEWER: Final = "Văn phòng Sở - đầu mối CCHC"
DIRECTOR: Final = "Giám đốc"
DEPUTY_DIRECTOR: Final = "Phó Giám đốc"
AUDITOR: Final = "Kiểm tra, thẩm định"

# Model permissions each global role carries ("app.codename").
ROLE_PERMISSIONS: Final[dict[str, list[str]]] = {
    STAFF: ["workflow.view_taskprocess"],
    UNIT_HEAD: ["workflow.view_taskprocess"],
    OFFICE_REVIEWER: [
        "workflow.view_taskprocess",
        "workflow.launch_taskprocess",
        "workflow.review_taskprocess",
        "plans.import_plan",
    ],
    DIRECTOR: [
        "workflow.view_taskprocess",
        "workflow.audit_taskprocess",
        "plans.sign_off_unit",
    ],
    DEPUTY_DIRECTOR: ["workflow.view_taskprocess", "workflow.audit_taskprocess"],
    AUDITOR: ["workflow.view_taskprocess", "workflow.audit_taskprocess"],
}


@dataclass(frozen=True)
class Roles:
    """What a user is, loaded once per request (two queries) and cached on the user."""

    groups: frozenset[str]
    unit: Unit | None
    is_head: bool

    @property
    def is_office(self) -> bool:
        return OFFICE_REVIEWER in self.groups

    @property
    def is_director(self) -> bool:
        return DIRECTOR in self.groups

    @property
    def is_deputy(self) -> bool:
        return DEPUTY_DIRECTOR in self.groups

    @property
    def is_leadership(self) -> bool:
        return self.is_director or self.is_deputy

    @property
    def is_auditor(self) -> bool:
        return AUDITOR in self.groups

    @property
    def sees_everything(self) -> bool:
        """Read access to every process: office, leadership, auditors."""
        return self.is_office or self.is_leadership or self.is_auditor

    @property
    def label(self) -> str:
        names: list[str] = [
            g for g in (DIRECTOR, DEPUTY_DIRECTOR, OFFICE_REVIEWER, AUDITOR) if g in self.groups
        ]
        if self.unit is not None:
            names.append(f"{UNIT_HEAD if self.is_head else STAFF} – {self.unit.name}")
        return "; ".join(names)


NO_ROLES: Final = Roles(groups=frozenset(), unit=None, is_head=False)


def roles_of(user: AbstractBaseUser | AnonymousUser) -> Roles:
    if not user.is_authenticated:
        return NO_ROLES
    cached = getattr(user, "_roles_cache", None)
    if cached is not None:
        return cached
    from plans.models import Membership

    membership = Membership.objects.select_related("unit").filter(user=user).first()  # type: ignore[misc]
    roles = Roles(
        groups=groups_of(user),
        unit=membership.unit if membership else None,
        is_head=bool(membership and membership.role == Membership.Role.HEAD),
    )
    user._roles_cache = roles  # type: ignore[union-attr,attr-defined]
    return roles


def groups_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The names of the user's role groups: from ``roles_of``'s cache if it was read, else one
    query (the groups only: a signature block needs no unit)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_roles_cache", None)
    if cached is not None:
        return cached.groups
    return frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]


def display_name(user: object) -> str:
    """Vietnamese order: family and middle names (last_name) before the given name (first_name).

    Django's get_full_name() puts the given name first, which reads wrongly in Vietnamese.
    """
    if user is None:
        return ""
    full = f"{getattr(user, 'last_name', '')} {getattr(user, 'first_name', '')}".strip()
    return full or getattr(user, "username", "")

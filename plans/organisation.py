"""Writes about the organisation: units, their groups and rights, memberships, roles.

Changes to who belongs where and who may do what are audited (``membership_changed``,
``role_changed``), with the acting administrator as actor (None: the system, e.g. a seed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from plans import roles
from plans.defaults import UnitSeed
from plans.models import Membership, Unit
from workflow.audit import audit_record

User = get_user_model()


def _forget_roles(user: Any) -> None:
    # roles_of() caches on the user object; the audit trail copies the actor's unit and
    # role from it, so a changed person must not act under their old role afterwards.
    user.__dict__.pop("_roles_cache", None)


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_ensure() -> None:
    """Create the role groups with exactly their model permissions."""
    for name, perms in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([_permission(p) for p in perms])


@transaction.atomic
def unit_ensure_groups(*, unit: Unit) -> tuple[Group, Group]:
    """The unit's member and head groups, with their object permissions on the unit."""
    members, _ = Group.objects.get_or_create(name=unit.member_group_name)
    heads, _ = Group.objects.get_or_create(name=unit.head_group_name)
    assign_perm("plans.work_on_unit", members, unit)
    assign_perm("plans.work_on_unit", heads, unit)
    assign_perm("plans.manage_unit", heads, unit)
    return members, heads


@transaction.atomic
def units_seed(*, seeds: Iterable[UnitSeed]) -> list[Unit]:
    """Create the department's units (kept as edited if they exist) and their groups."""
    units = []
    for order, seed in enumerate(seeds, start=1):
        unit, _ = Unit.objects.get_or_create(
            name=seed["name"],
            defaults={
                "short_name": seed["short_name"],
                "kind": seed["kind"],
                "aliases": seed["aliases"],
                "order": order,
            },
        )
        unit_ensure_groups(unit=unit)
        units.append(unit)
    return units


@transaction.atomic
def membership_set(*, user: User, unit: Unit, role: str, actor: Any = None) -> Membership:
    """Put a user in one unit with a role, moving their unit and role groups along."""
    old = Membership.objects.filter(user=user).select_related("unit").first()
    if old is not None:
        user.groups.remove(
            *Group.objects.filter(name__in=[old.unit.member_group_name, old.unit.head_group_name])
        )
    members, heads = unit_ensure_groups(unit=unit)
    user.groups.add(members)
    role_group = Group.objects.get(name=roles.UNIT_HEAD if role == Membership.Role.HEAD else roles.STAFF)
    user.groups.remove(*Group.objects.filter(name__in=[roles.UNIT_HEAD, roles.STAFF]))
    user.groups.add(role_group)
    if role == Membership.Role.HEAD:
        user.groups.add(heads)
    membership, _ = Membership.objects.update_or_create(user=user, defaults={"unit": unit, "role": role})
    if old is None or old.unit_id != unit.pk or old.role != role:
        audit_record(
            actor=actor,
            action="membership_changed",
            data={
                "user": user.username,
                "before": {"unit": old.unit.name, "role": old.role} if old else None,
                "after": {"unit": unit.name, "role": role},
            },
        )
    _forget_roles(user)
    return membership


@transaction.atomic
def global_role_add(*, user: User, role: str, actor: Any = None) -> None:
    group = Group.objects.get(name=role)
    if user.groups.filter(pk=group.pk).exists():
        return
    user.groups.add(group)
    audit_record(actor=actor, action="role_changed", data={"user": user.username, "added": role})
    _forget_roles(user)


@transaction.atomic
def deputy_set_units(*, user: User, units: Iterable[Unit], actor: Any = None) -> None:
    """The units a Phó Giám đốc oversees: they sign off those units' tasks."""
    wanted = {u.pk for u in units}
    before = get_objects_for_user(
        user,
        "plans.sign_off_unit",
        klass=Unit,
        use_groups=False,
        with_superuser=False,
        accept_global_perms=False,
    )
    had = {u.pk: u.name for u in before}
    all_units = list(Unit.objects.all())
    for unit in all_units:
        if unit.pk in wanted:
            assign_perm("plans.sign_off_unit", user, unit)
        else:
            remove_perm("plans.sign_off_unit", user, unit)
    if set(had) != wanted:
        audit_record(
            actor=actor,
            action="role_changed",
            data={
                "user": user.username,
                "oversees_before": [u.name for u in all_units if u.pk in had],
                "oversees_after": [u.name for u in all_units if u.pk in wanted],
            },
        )

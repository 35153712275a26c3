"""Writes about the organisation: units, their groups and rights, memberships, roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from plans import roles
from plans.defaults import UnitSeed
from plans.models import Membership, Unit

User = get_user_model()


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
def membership_set(*, user: User, unit: Unit, role: str) -> Membership:
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
    return membership


@transaction.atomic
def global_role_add(*, user: User, role: str) -> None:
    user.groups.add(Group.objects.get(name=role))


@transaction.atomic
def deputy_set_units(*, user: User, units: Iterable[Unit]) -> None:
    """The units a Phó Giám đốc oversees: they sign off those units' tasks."""
    wanted = {u.pk for u in units}
    for unit in Unit.objects.all():
        if unit.pk in wanted:
            assign_perm("plans.sign_off_unit", user, unit)
        else:
            remove_perm("plans.sign_off_unit", user, unit)

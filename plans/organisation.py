"""Writes about the organisation: units, their groups and rights, memberships, roles.

Changes to who belongs where and who may do what are audited (``membership_changed``,
``role_changed``), with the acting administrator as actor (None: the system, e.g. a seed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from audit.services import audit_record
from plans import access, roles
from plans.defaults import UnitSeed
from plans.models import Membership, Unit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

    Actor = AbstractBaseUser | AnonymousUser | None
else:
    User = get_user_model()


def _forget_roles(user: Any) -> None:
    # roles_of() caches on the user object; the audit trail copies the actor's unit and
    # role from it, so a changed person must not act under their old role afterwards.
    user.__dict__.pop("_roles_cache", None)
    user.__dict__.pop("_capabilities_cache", None)  # plans.access.capabilities, derived from the roles


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
def membership_set(*, user: User, unit: Unit, role: str, actor: Actor = None) -> Membership:
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
def global_role_add(*, user: User, role: str, actor: Actor = None) -> None:
    group = Group.objects.get(name=role)
    if user.groups.filter(pk=group.pk).exists():
        return
    user.groups.add(group)
    audit_record(actor=actor, action="role_changed", data={"user": user.username, "added": role})
    _forget_roles(user)


@transaction.atomic
def deputy_set_units(*, user: User, units: Iterable[Unit], actor: Actor = None) -> None:
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


@transaction.atomic
def global_role_remove(*, user: User, role: str, actor: Actor = None) -> None:
    group = Group.objects.get(name=role)
    if not user.groups.filter(pk=group.pk).exists():
        return
    user.groups.remove(group)
    audit_record(actor=actor, action="role_changed", data={"user": user.username, "removed": role})
    _forget_roles(user)


@transaction.atomic
def membership_clear(*, user: User, actor: Actor = None) -> None:
    """The user leaves their unit (e.g. appointed to the leadership): groups and rights go with it."""
    old = Membership.objects.filter(user=user).select_related("unit").first()
    if old is None:
        return
    user.groups.remove(
        *Group.objects.filter(
            name__in=[old.unit.member_group_name, old.unit.head_group_name, roles.UNIT_HEAD, roles.STAFF]
        )
    )
    old.delete()
    audit_record(
        actor=actor,
        action="membership_changed",
        data={"user": user.username, "before": {"unit": old.unit.name, "role": old.role}, "after": None},
    )
    _forget_roles(user)


# --- the office's set-up pages (plans/views_setup.py) ---------------------------------------

UNIT_FIELDS = ("name", "short_name", "kind", "aliases", "active_from", "active_to", "order")
PERSON_FIELDS = ("last_name", "first_name", "email")
# The roles the set-up pages grant; unit staff and heads come with a membership.
GLOBAL_ROLES = (roles.OFFICE_REVIEWER, roles.DIRECTOR, roles.DEPUTY_DIRECTOR, roles.AUDITOR)


def _values(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


@transaction.atomic
def unit_save(*, unit: Unit | None, data: dict[str, Any], actor: Actor) -> Unit:
    """Create a unit or change one (names are effective-dated: a unit that ends gets an end
    date, never a delete). Its groups follow its short name; the change is audited."""
    from django.core.exceptions import ValidationError

    creating = unit is None
    if unit is None:
        unit, before = Unit(), {}
    else:
        unit = Unit.objects.select_for_update().get(pk=unit.pk)
        before = _values(unit, UNIT_FIELDS)
    old_groups = (unit.member_group_name, unit.head_group_name)
    for name, value in data.items():
        setattr(unit, name, value)
    if not creating and unit.name != before["name"] and before["name"] not in unit.aliases:
        # Older plan files still name the unit as it was called: they keep importing.
        unit.aliases = [*unit.aliases, before["name"]]
    unit.full_clean()
    if not creating and unit.short_name != before["short_name"]:
        new_groups = (unit.member_group_name, unit.head_group_name)
        if Group.objects.filter(name__in=new_groups).exists():
            raise ValidationError({"short_name": "Tên viết tắt này trùng tên một nhóm quyền đang có."})
        for old, new in zip(old_groups, new_groups, strict=True):
            Group.objects.filter(name=old).update(name=new)
    unit.save()
    unit_ensure_groups(unit=unit)
    changes = _changes(before, _values(unit, UNIT_FIELDS))
    if changes:
        audit_record(
            actor=actor,
            action="unit_created" if creating else "unit_changed",
            data={"unit": unit.name, "changes": changes},
        )
    return unit


@transaction.atomic
def person_create(
    *, username: str, last_name: str, first_name: str, email: str, password: str, actor: Actor
) -> User:
    """A new account; its unit and roles are set by ``person_update`` in the same transaction."""
    user = User(username=username, last_name=last_name, first_name=first_name, email=email)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(
        actor=actor,
        action="person_created",
        data={"user": username, "name": roles.display_name(user), "email": email},
    )
    return user


@transaction.atomic
def person_update(
    *,
    user: User,
    actor: Actor,
    last_name: str,
    first_name: str,
    email: str,
    is_active: bool,
    unit: Unit | None,
    unit_role: str,
    global_roles: Iterable[str],
    oversees: Iterable[Unit],
) -> User:
    """Name, e-mail, unit and role in it, global roles, units overseen (Phó Giám đốc), active.

    Each kind of change is audited by the service that makes it. Nobody deactivates
    themselves or takes away their own office role: the department would be locked out of
    its own set-up.
    """
    from django.core.exceptions import PermissionDenied, ValidationError

    if access.is_administrator(user):
        raise PermissionDenied("Tài khoản quản trị hệ thống chỉ được sửa trong trang quản trị.")
    wanted_roles = set(global_roles) & set(GLOBAL_ROLES)
    if actor is not None and user.pk == actor.pk:
        if not is_active:
            raise ValidationError({"is_active": "Không thể tự khóa tài khoản của chính mình."})
        if roles.OFFICE_REVIEWER in roles.roles_of(user).groups and roles.OFFICE_REVIEWER not in wanted_roles:
            raise ValidationError({"global_roles": "Không thể tự bỏ vai trò đầu mối CCHC của chính mình."})
    oversees = list(oversees)
    if oversees and roles.DEPUTY_DIRECTOR not in wanted_roles:
        raise ValidationError({"oversees": "Chỉ Phó Giám đốc được phân công phụ trách đơn vị."})

    before = _values(user, PERSON_FIELDS)
    user.last_name, user.first_name, user.email = last_name, first_name, email
    changes = _changes(before, _values(user, PERSON_FIELDS))
    was_active = user.is_active
    user.is_active = is_active
    user.full_clean(exclude=["password"])
    user.save()
    if changes:
        audit_record(actor=actor, action="person_changed", data={"user": user.username, "changes": changes})
    if was_active != is_active:
        audit_record(
            actor=actor,
            action="person_reactivated" if is_active else "person_deactivated",
            data={"user": user.username},
        )
    if unit is not None:
        membership_set(user=user, unit=unit, role=unit_role, actor=actor)
    else:
        membership_clear(user=user, actor=actor)
    for role in GLOBAL_ROLES:
        if role in wanted_roles:
            global_role_add(user=user, role=role, actor=actor)
        else:
            global_role_remove(user=user, role=role, actor=actor)
    deputy_set_units(user=user, units=oversees, actor=actor)
    _forget_roles(user)
    return user

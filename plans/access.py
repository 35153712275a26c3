"""Who may do what, at the level of pages and of the plan's own records.

The object-level checks of workflow records (a run, a step) live in ``workflow.access``,
which re-exports everything here: views of either app ask one of the two, never a group,
``is_superuser`` or ``has_perm`` themselves. This half sits in ``plans`` because plans'
own pages (set-up, calendar, plan upload) need it and ``plans`` imports nothing from
``workflow``.

Page-level rights are read from the user's roles (``plans.roles``: loaded once per request,
already by the navigation), through ``ROLE_PERMISSIONS``, the one table of what each role
may do, so asking them costs no query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from plans.roles import DIRECTOR, ROLE_PERMISSIONS, Roles, groups_of, roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from plans.models import PlanUpload, Unit

    AnyUser = AbstractBaseUser | AnonymousUser

DashboardScopeKind = Literal["", "unit", "all"]


def _role_perm(roles: Roles, perm: str) -> bool:
    return any(perm in ROLE_PERMISSIONS.get(group, ()) for group in roles.groups)


def _roles_with(perm: str) -> list[str]:
    """The role groups that carry ``perm``: the same table read the other way."""
    return [group for group, perms in ROLE_PERMISSIONS.items() if perm in perms]


@dataclass(frozen=True)
class Capabilities:
    """What a user may open or start, page by page; in every template as ``capabilities``."""

    launch: bool = False  # Khởi tạo kỳ báo cáo, hủy quy trình
    import_plan: bool = False  # Nhập kế hoạch
    setup: bool = False  # Thiết lập: units, people, period deadlines
    calendar_view: bool = False  # Lịch làm việc
    calendar_edit: bool = False  # days off and make-up working days
    audit_search: bool = False  # Tra cứu nhật ký
    period_downloads: bool = False  # the period report (PDF, workbook)
    dashboard_scope: DashboardScopeKind = ""  # Tổng quan: "" none, "unit" a head's unit, "all"
    awaiting: bool = False  # Chờ thẩm định, phê duyệt
    unit_queue: bool = False  # Việc của đơn vị
    failed_mails: bool = False  # Thư gửi lỗi, gửi lại
    document_register: bool = False  # Sổ văn bản đi and the issued PDFs
    document_issue: bool = False  # cấp số, ký số, ban hành

    @property
    def dashboard(self) -> bool:
        return bool(self.dashboard_scope)


NONE: Capabilities = Capabilities()


def capabilities(user: AnyUser | None) -> Capabilities:
    """The page-level rights of ``user``, computed once per request and kept on the user."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NONE
    cached = getattr(user, "_capabilities_cache", None)
    if cached is not None:
        return cached
    roles = roles_of(user)
    superuser = bool(getattr(user, "is_superuser", False))
    reads_all = roles.sees_everything or superuser
    office = roles.is_office or superuser
    runs_periods = superuser or _role_perm(roles, "workflow.launch_taskprocess")
    scope: DashboardScopeKind = "all" if reads_all else ("unit" if roles.is_head and roles.unit else "")
    result = Capabilities(
        launch=runs_periods,
        import_plan=superuser or _role_perm(roles, "plans.import_plan"),
        setup=office,
        calendar_view=reads_all,
        calendar_edit=office,
        audit_search=reads_all,
        period_downloads=reads_all,
        dashboard_scope=scope,
        awaiting=roles.is_office or roles.is_leadership,
        unit_queue=roles.unit is not None,
        failed_mails=runs_periods,
        document_register=reads_all,
        document_issue=runs_periods,
    )
    user._capabilities_cache = result  # type: ignore[union-attr,attr-defined]
    return result


def require(allowed: bool, message: str) -> None:
    """Refuse with a 403 and a Vietnamese reason unless ``allowed``."""
    if not allowed:
        raise PermissionDenied(message)


def may_manage_organisation(user: AnyUser) -> bool:
    """The office's set-up pages (units, people and their roles, period deadlines): the CCHC
    focal point of Văn phòng Sở, as for launching and importing; superusers have the admin too."""
    return capabilities(user).setup


def working_calendar_check(user: AnyUser, *, edit: bool = False) -> None:
    """Lịch làm việc: office, leadership and auditors read it; only the office (Văn phòng Sở,
    đầu mối CCHC) enters or removes days off and make-up working days."""
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("Bạn cần đăng nhập.")
    if edit:
        require(capabilities(user).calendar_edit, "Chỉ Văn phòng Sở được nhập ngày nghỉ, ngày làm bù.")
        return
    require(
        capabilities(user).calendar_view,
        "Lịch làm việc dành cho Văn phòng Sở, Lãnh đạo Sở và người kiểm tra.",
    )


def is_administrator(user: AnyUser | None) -> bool:
    """Superusers are administrators, not people of the department: the set-up pages leave them out."""
    return bool(getattr(user, "is_superuser", False))


def has_unit_perm(user: AnyUser, perm: str, unit: Unit) -> bool:
    """Object permission on a unit, through one guardian checker per user object (it caches
    the user's and groups' grants, so several checks on one page cost two queries)."""
    from guardian.core import ObjectPermissionChecker

    checker = getattr(user, "_unit_perm_checker", None)
    if checker is None:
        checker = ObjectPermissionChecker(user)  # type: ignore[arg-type]
        user._unit_perm_checker = checker  # type: ignore[union-attr,attr-defined]
    return bool(checker.has_perm(perm.split(".", 1)[1], unit))


def reviews_reports(user: AnyUser) -> bool:
    """Thẩm định: the office's CCHC focal point reviews every run's reports."""
    if not user.is_authenticated or not user.is_active:
        return False
    return is_administrator(user) or _role_perm(roles_of(user), "workflow.review_taskprocess")


def signs_off_everything(user: AnyUser) -> bool:
    """The director (the role's global ``plans.sign_off_unit``) signs off any unit's run."""
    if not user.is_authenticated or not user.is_active:
        return False
    return is_administrator(user) or _role_perm(roles_of(user), "plans.sign_off_unit")


def leader_kind(user: AnyUser) -> Literal["director", "deputy", ""]:
    """Which member of the Ban Giám đốc ``user`` is, for a signature block: "director" signs in
    his own right, "deputy" on his behalf (KT.); "" for anyone else."""
    # Only the groups decide it (one query, none if the user's roles were read already).
    leadership = Roles(groups=groups_of(user), unit=None, is_head=False)
    if leadership.is_director:
        return "director"
    if leadership.is_deputy:
        return "deputy"
    return ""


def may_sign_off(user: AnyUser, unit: Unit | None) -> bool:
    """Is ``user`` one of ``signers_for(unit)``? The same rule, asked of one person."""
    if signs_off_everything(user):
        return True
    return unit is not None and user.is_active and has_unit_perm(user, "plans.sign_off_unit", unit)


def units_signed_off_by(user: AnyUser) -> list[int]:
    """The units whose runs a deputy signs off (their own ``sign_off_unit`` grants)."""
    from guardian.shortcuts import get_objects_for_user

    from plans.models import Unit

    if not user.is_authenticated or not user.is_active:
        return []
    units = get_objects_for_user(user, "plans.sign_off_unit", klass=Unit, accept_global_perms=False)
    return list(units.values_list("pk", flat=True))


def reviewers() -> QuerySet:
    """Who reviews the reports (the office's CCHC focal point), to be told a review is waiting."""
    reviewing = _roles_with("workflow.review_taskprocess")
    return get_user_model().objects.filter(groups__name__in=reviewing, is_active=True).distinct()


def signers_for(unit_id: int | None) -> QuerySet:
    """Who signs off the run of the unit ``unit_id`` (Lãnh đạo Sở): the director, and the deputies who oversee
    the unit (guardian's ``sign_off_unit`` on it). The one rule behind the sign-off step's
    qualification, its notification and the "Chờ phê duyệt" list."""
    from guardian.models import UserObjectPermission

    signers = Q(groups__name__in=_roles_with("plans.sign_off_unit"))  # the director
    if unit_id is not None:
        signers |= Q(
            pk__in=UserObjectPermission.objects.filter(
                permission__codename="sign_off_unit", object_pk=str(unit_id)
            ).values("user_id")
        )
    return get_user_model().objects.filter(signers, is_active=True).distinct()


def leaders() -> QuerySet:
    """Lãnh đạo Sở (director and deputies, active): who may be named to sign a document."""
    from plans.roles import DEPUTY_DIRECTOR

    users = get_user_model().objects.filter(is_active=True, groups__name__in=[DIRECTOR, DEPUTY_DIRECTOR])
    return users.distinct()


def director() -> QuerySet:
    """The director (active), first by id: who signs when no one else is named."""
    return get_user_model().objects.filter(is_active=True, groups__name=DIRECTOR).order_by("pk")


def auditors() -> QuerySet:
    """Tổ kiểm tra (active): who receives the exported head of the audit chain."""
    from plans.roles import AUDITOR

    return get_user_model().objects.filter(groups__name=AUDITOR, is_active=True)


def department_people() -> QuerySet:
    """The department's accounts: everyone but the system administrators (``is_superuser``),
    who are managed in the admin only."""
    return get_user_model().objects.filter(is_superuser=False)


def upload_visible(user: AnyUser, upload: PlanUpload) -> bool:
    """A plan upload's status and preview: the person who sent it, and whoever imports plans
    (the office)."""
    if not user.is_authenticated:
        return False
    return upload.uploaded_by_id == user.pk or capabilities(user).import_plan

"""Who may see or do what: the one place each kind of object is checked.

Views call ``period_task_get_for_user`` / ``step_get_for_user``; the custom viewflow
node delegates ``can_assign`` / ``can_execute`` here too, so the engine and the pages
cannot disagree. A denial is a ``PermissionDenied`` (HTTP 403), never a login redirect.
"""

from __future__ import annotations

from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404

from plans.roles import roles_of
from workflow.models import PeriodTask, Step

StepAction = Literal["view", "claim", "assign", "execute"]


def may_view_period_task(user: Any, period_task: PeriodTask) -> bool:
    """Office, leadership and auditors see everything; a unit sees the tasks it leads or helps with."""
    if not user.is_authenticated:
        return False
    roles = roles_of(user)
    if roles.sees_everything or user.is_superuser:
        return True
    if roles.unit is None:
        return False
    return period_task.steps.filter(unit=roles.unit).exists() or (
        period_task.plan_task.lead_units.filter(pk=roles.unit.pk).exists()
        or period_task.plan_task.partner_units.filter(pk=roles.unit.pk).exists()
    )


def may_manage_organisation(user: Any) -> bool:
    """The office's set-up pages (units, people and their roles, period deadlines): the CCHC
    focal point of Văn phòng Sở, as for launching and importing; superusers have the admin too."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or roles_of(user).is_office


def _has_unit_perm(user: Any, perm: str, unit: Any) -> bool:
    """Object permission on a unit, through one guardian checker per user object (it caches
    the user's and groups' grants, so several checks on one page cost two queries)."""
    from guardian.core import ObjectPermissionChecker

    checker = getattr(user, "_unit_perm_checker", None)
    if checker is None:
        checker = ObjectPermissionChecker(user)
        user._unit_perm_checker = checker
    return checker.has_perm(perm.split(".", 1)[1], unit)


def wrote_report_under_decision(user: Any, step: Step) -> bool:
    """Separation of duties: did ``user`` submit a lead or partner report that this review or
    sign-off step decides on?

    The reports a decision is about are, for each unit and kind, the lead and partner steps
    last submitted up to the decision's round: a return to the lead unit starts a new round
    with new lead steps (and new partner steps only when asked again), while a sign-off sent
    back to the office re-reviews the same reports in the next round. One query per step and
    user, remembered on the step instance (a page asks several times).
    """
    cache: dict[int, bool] = step.__dict__.setdefault("_wrote_report_cache", {})
    if user.pk in cache:
        return cache[user.pk]
    in_force: dict[tuple[str, int | None], int | None] = {}
    rows = (
        Step.objects.filter(
            period_task_id=step.period_task_id,
            kind__in=(Step.Kind.LEAD, Step.Kind.PARTNER),
            state=Step.State.DONE,
            round__lte=step.round,
        )
        .order_by("pk")
        .values_list("kind", "unit_id", "submitted_by_id")
    )
    for kind, unit_id, submitted_by_id in rows:
        in_force[(kind, unit_id)] = submitted_by_id  # later rows (higher pk) replace earlier ones
    cache[user.pk] = user.pk in in_force.values()
    return cache[user.pk]


def is_qualified(user: Any, step: Step) -> bool:
    """The user's role fits the step's kind and unit; nobody decides on their own report."""
    if not user.is_authenticated or not user.is_active:
        return False
    if step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER):
        return step.unit is not None and _has_unit_perm(user, "plans.work_on_unit", step.unit)
    if step.kind == Step.Kind.REVIEW:
        return user.has_perm("workflow.review_taskprocess") and not wrote_report_under_decision(user, step)
    if step.kind == Step.Kind.SIGN_OFF:
        if not (
            user.has_perm("plans.sign_off_unit")
            or (step.unit is not None and _has_unit_perm(user, "plans.sign_off_unit", step.unit))
        ):
            return False
        return not wrote_report_under_decision(user, step)
    return False


def may_claim(user: Any, step: Step) -> bool:
    return step.state == Step.State.OPEN and step.assignee_id is None and is_qualified(user, step)


def may_assign(user: Any, step: Step) -> bool:
    """A unit head hands their unit's open steps to a member (or to another one)."""
    return (
        step.state == Step.State.OPEN
        and step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER)
        and step.unit is not None
        and user.is_authenticated
        and user.is_active
        and _has_unit_perm(user, "plans.manage_unit", step.unit)
    )


def may_assign_to(step: Step, assignee: Any) -> bool:
    return assignee.is_active and is_qualified(assignee, step)


def may_execute(user: Any, step: Step) -> bool:
    return step.state == Step.State.OPEN and step.assignee_id == user.pk and is_qualified(user, step)


def may_manage_outgoing_mail(user: Any) -> bool:
    """The failed-deliveries page and "Gửi lại": the office (Văn phòng Sở), who runs the periods."""
    return user.is_authenticated and user.is_active and user.has_perm("workflow.launch_taskprocess")


def may_issue_documents(user: Any) -> bool:
    """Numbering, signing and issuing outgoing documents (documents/): the office (Văn phòng Sở)."""
    return user.is_authenticated and user.is_active and user.has_perm("workflow.launch_taskprocess")


def may_read_issued_documents(user: Any) -> bool:
    """The register of issued documents and their frozen PDFs: who may read the period report."""
    return user.is_authenticated and user.is_active and (roles_of(user).sees_everything or user.is_superuser)


_CHECKS = {"claim": may_claim, "assign": may_assign, "execute": may_execute}


def period_task_get_for_user(*, user: Any, pk: int) -> PeriodTask:
    try:
        period_task = PeriodTask.objects.select_related("plan_task", "period").get(pk=pk)
    except PeriodTask.DoesNotExist as exc:
        raise Http404("Không tìm thấy nhiệm vụ.") from exc
    if not may_view_period_task(user, period_task):
        raise PermissionDenied("Bạn không có quyền xem nhiệm vụ này.")
    return period_task


def step_get_for_user(*, user: Any, pk: int, action: StepAction = "view") -> Step:
    try:
        step = Step.objects.select_related(
            "period_task__plan_task", "period_task__period", "unit", "task"
        ).get(pk=pk)
    except Step.DoesNotExist as exc:
        raise Http404("Không tìm thấy bước xử lý.") from exc
    if not may_view_period_task(user, step.period_task):
        raise PermissionDenied("Bạn không có quyền xem bước này.")
    if action != "view" and not _CHECKS[action](user, step):
        raise PermissionDenied("Bạn không có quyền thực hiện thao tác này ở bước này.")
    return step


def working_calendar_check(user: Any, *, edit: bool = False) -> None:
    """Lịch làm việc: office, leadership and auditors read it; only the office (Văn phòng Sở,
    đầu mối CCHC) enters or removes days off and make-up working days."""
    roles = roles_of(user)
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("Bạn cần đăng nhập.")
    if edit:
        if roles.is_office or user.is_superuser:
            return
        raise PermissionDenied("Chỉ Văn phòng Sở được nhập ngày nghỉ, ngày làm bù.")
    if roles.sees_everything or user.is_superuser:
        return
    raise PermissionDenied("Lịch làm việc dành cho Văn phòng Sở, Lãnh đạo Sở và người kiểm tra.")


def may_decide_in_bulk(user: Any) -> bool:
    """The bulk approval page: the office (reviews) and the leadership (sign-offs), who have a
    list of steps awaiting their decision; each run is still checked on its own (is_qualified)."""
    from plans.roles import roles_of

    if not (user.is_authenticated and user.is_active):
        return False
    roles = roles_of(user)
    return roles.is_office or roles.is_leadership

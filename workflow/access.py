"""Who may see or do what: the one place each kind of object is checked.

Page-level rights (``capabilities(user)``: launch, import, audit search, dashboard scope,
period downloads, set-up, calendar, failed mails, documents) come from ``plans.access``
and are re-exported here.

Views call ``period_task_get_for_user`` / ``step_get_for_user``; the custom viewflow
node delegates ``can_assign`` / ``can_execute`` here too, so the engine and the pages
cannot disagree. A denial is a ``PermissionDenied`` (HTTP 403), never a login redirect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404

# Page-level rights and the plan's own checks live in plans.access (plans imports nothing
# from workflow); re-exported so that workflow's views and documents ask this one module.
from plans.access import (
    Capabilities,
    auditors,
    capabilities,
    director,
    has_unit_perm,
    is_administrator,
    leaders,
    may_manage_organisation,
    may_sign_off,
    require,
    reviewers,
    reviews_reports,
    signers_for,
    signs_off_everything,
    units_signed_off_by,
    working_calendar_check,
)
from plans.roles import roles_of
from workflow.models import PeriodTask, Step

__all__ = [
    "Capabilities",
    "auditors",
    "capabilities",
    "director",
    "leaders",
    "may_manage_organisation",
    "may_sign_off",
    "reviews_reports",
    "signs_off_everything",
    "units_signed_off_by",
    "reviewers",
    "period_task_get_for_user",
    "require",
    "signers_for",
    "step_get_for_user",
    "working_calendar_check",
]

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

StepAction = Literal["view", "claim", "assign", "execute"]


def may_view_period_task(user: AnyUser, period_task: PeriodTask, *, step: Step | None = None) -> bool:
    """Office, leadership and auditors see everything; a unit sees the tasks it leads or helps with
    (a step of the run is its unit's; ``step``, a step of the run already read, answers that
    without a query when it is the unit's own)."""
    if not user.is_authenticated:
        return False
    roles = roles_of(user)
    if roles.sees_everything or is_administrator(user):
        return True
    if roles.unit is None:
        return False
    if step is not None and step.unit_id == roles.unit.pk:
        return True
    return period_task.steps.filter(unit=roles.unit).exists() or (
        period_task.plan_task.lead_units.filter(pk=roles.unit.pk).exists()
        or period_task.plan_task.partner_units.filter(pk=roles.unit.pk).exists()
    )


def wrote_report_under_decision(user: AnyUser, step: Step) -> bool:
    """Separation of duties: did ``user`` submit a lead or partner report that this review or
    sign-off step decides on?

    The reports a decision is about are, for each unit and kind, the lead and partner steps
    last submitted up to the decision's round: a return to the lead unit starts a new round
    with new lead steps (and new partner steps only when asked again), while a sign-off sent
    back to the office re-reviews the same reports in the next round. One query per step and
    user, remembered on the step instance (a page asks several times).
    """
    cache: dict[int | None, bool] = step.__dict__.setdefault("_wrote_report_cache", {})
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


def is_qualified(user: AnyUser, step: Step) -> bool:
    """The user's role fits the step's kind and unit; nobody decides on their own report."""
    if not user.is_authenticated or not user.is_active:
        return False
    if step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER):
        return step.unit is not None and has_unit_perm(user, "plans.work_on_unit", step.unit)
    if step.kind == Step.Kind.REVIEW:
        return reviews_reports(user) and not wrote_report_under_decision(user, step)
    if step.kind == Step.Kind.SIGN_OFF:
        return may_sign_off(user, step.unit) and not wrote_report_under_decision(user, step)
    return False


def may_claim(user: AnyUser, step: Step) -> bool:
    return step.state == Step.State.OPEN and step.assignee_id is None and is_qualified(user, step)


def may_assign(user: AnyUser, step: Step) -> bool:
    """A unit head hands their unit's open steps to a member (or to another one)."""
    return (
        step.state == Step.State.OPEN
        and step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER)
        and step.unit is not None
        and user.is_authenticated
        and user.is_active
        and has_unit_perm(user, "plans.manage_unit", step.unit)
    )


def may_assign_to(step: Step, assignee: AnyUser) -> bool:
    return assignee.is_active and is_qualified(assignee, step)


def may_execute(user: AnyUser, step: Step) -> bool:
    return step.state == Step.State.OPEN and step.assignee_id == user.pk and is_qualified(user, step)


_CHECKS = {"claim": may_claim, "assign": may_assign, "execute": may_execute}


def period_task_get_for_user(*, user: AnyUser, pk: int) -> PeriodTask:
    try:
        period_task = PeriodTask.objects.select_related("plan_task", "period__plan").get(pk=pk)
    except PeriodTask.DoesNotExist as exc:
        raise Http404("Không tìm thấy nhiệm vụ.") from exc
    if not may_view_period_task(user, period_task):
        raise PermissionDenied("Bạn không có quyền xem nhiệm vụ này.")
    return period_task


def step_get_for_user(*, user: AnyUser, pk: int, action: StepAction = "view") -> Step:
    try:
        step = Step.objects.select_related(
            "period_task__plan_task", "period_task__period", "unit", "task", "assignee"
        ).get(pk=pk)
    except Step.DoesNotExist as exc:
        raise Http404("Không tìm thấy bước xử lý.") from exc
    if not may_view_period_task(user, step.period_task, step=step):
        raise PermissionDenied("Bạn không có quyền xem bước này.")
    if action != "view" and not _CHECKS[action](user, step):
        raise PermissionDenied("Bạn không có quyền thực hiện thao tác này ở bước này.")
    return step


def may_decide_in_bulk(user: AnyUser) -> bool:
    """The bulk approval page: whoever has a list of steps awaiting their decision (the office
    reviews, the leadership signs off); each run is still checked on its own (is_qualified)."""
    return capabilities(user).awaiting

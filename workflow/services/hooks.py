"""What the engine calls: the start handle, the splits and every new human step.

Each hook receives the process viewflow hands to every node; the action driving the engine put
its ``ActionContext`` there (``services.context``), and the hooks write into it what the action
writes once at its end (the run's fields, the notifications, audit events of new steps).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.services import audit_record
from plans.models import PlanTask, ReportingPeriod, Unit
from workflow import access, selectors
from workflow.mail import header_line
from workflow.models import Evidence, PeriodTask, Step, TaskProcess
from workflow.services.context import ActionContext, PendingAudit, context_of
from workflow.services.notifications import _notify, _people_for_step, _step_url


def steps_redate_for_period(*, period: ReportingPeriod, **_: Any) -> int:
    """A period's deadline changed (plans.periods.period_deadline_set, through
    plans.hooks.period_deadline_changed): its runs' open steps get their due dates again from
    it, so reminders follow. Returns how many steps moved."""
    moved = 0
    for kind in Step.Kind.values:
        moved += Step.objects.filter(period_task__period=period, kind=kind, state=Step.State.OPEN).update(
            due_date=step_due_date(period=period, kind=kind)
        )
    return moved


def step_due_date(
    *, period: ReportingPeriod, kind: str, reopened_on: datetime.date | None = None
) -> datetime.date:
    """Hạn xử lý of a step: always a working day (plans.calendar, docs/calendar.md).

    First round: ``STEP_DUE_OFFSETS[kind]`` working days before the period deadline, counted
    from the deadline moved to a working day as ``DUE_DATE_SHIFT`` says (Quý I/2024: the
    deadline is Sunday 10/03, so sign-off is due Friday 08/03 and the lead step six working
    days before, Thursday 29/02). A step of a later round, opened on ``reopened_on`` because
    of a return (hạn làm lại): ``REWORK_WORKING_DAYS`` working days after that day, never
    earlier than its first-round due date, so a returned step does not start overdue.
    """
    from plans import calendar

    due = calendar.add_working_days(
        calendar.judged_deadline(period.deadline), settings.STEP_DUE_OFFSETS[kind]
    )
    if reopened_on is None:
        return due
    return max(due, calendar.add_working_days(reopened_on, settings.REWORK_WORKING_DAYS))


def process_start(
    *,
    activation: Any,
    plan_task: PlanTask,
    period: ReportingPeriod,
    actor: Any,
    context: ActionContext | None = None,
) -> TaskProcess:
    """Start handle: create the PeriodTask record that every later step hangs on."""
    process = activation.process
    process.context = context
    # Which partners the run asks, its lead unit chooses when it submits (TaskProcess.lead_asks).
    process.save()
    period_task = PeriodTask.objects.create(
        plan_task=plan_task, period=period, process=process, launched_by=actor
    )
    audit_record(
        actor=actor,
        action="launch",
        period_task=period_task,
        data={"plan_task": plan_task.pk, "period": period.code, "task": plan_task.task[:200]},
    )
    return process


def _period_task_of(process: Any) -> PeriodTask:
    """The process's PeriodTask: the instance the acting service already holds (and keeps
    current under the lock), else read once with what the hooks use."""
    if type(process).period_task.is_cached(process):
        return process.period_task
    period_task = PeriodTask.objects.select_related("period__plan", "plan_task").get(process_id=process.pk)
    process.period_task = period_task
    return period_task


def branches_prepare(*, process: Any, unit_ids: list[int]) -> None:
    """A split is about to open one step per unit: read those units and their active members
    once for all branches, into the action's context."""
    from plans.models import Membership

    ctx = context_of(process)
    ctx.branch_units = Unit.objects.in_bulk(unit_ids)
    people: dict[int, list[Any]] = {pk: [] for pk in unit_ids}
    for membership in Membership.objects.filter(unit_id__in=unit_ids, user__is_active=True).select_related(
        "user"
    ):
        people[membership.unit_id].append(membership.user)
    ctx.branch_people = people


def branch_unit(process: Any, unit_id: int) -> Unit:
    """The unit of one branch of a split: prepared by ``branches_prepare``, else read."""
    ctx = getattr(process, "context", None)
    prepared = ctx.branch_units if ctx is not None else {}
    return prepared.get(unit_id) or Unit.objects.get(pk=unit_id)


def step_record_create(*, activation: Any) -> Step:
    """A human task was created: record its Step, move the stage, tell the people concerned."""
    task = activation.task
    kind = task.flow_task.step_kind
    ctx = context_of(activation.process)
    period_task = _period_task_of(activation.process)
    # The unit the node gave the task as its permission object (kept by the generic key, so
    # not read again): the lead or partner unit of the branch, the signing deputy's unit, or none.
    owner_obj = task.owner_permission_obj
    step = Step.objects.create(
        task=task,
        period_task=period_task,
        kind=kind,
        unit=owner_obj if isinstance(owner_obj, Unit) else None,
        round=period_task.round,
        due_date=step_due_date(
            period=period_task.period,
            kind=kind,
            reopened_on=timezone.localdate() if period_task.round > 1 else None,
        ),
    )
    returned_by = _carry_over(step, period_task, activation=activation, ctx=ctx) if step.round > 1 else None
    if period_task.stage != kind:
        period_task.stage = kind
        if ctx.batched:  # the action in progress writes the run once, at its end
            ctx.save_later.add("stage")
        else:
            PeriodTask.objects.filter(pk=period_task.pk).update(stage=kind)
    label = step.get_kind_display()
    unit = f" ({step.unit.name})" if step.unit is not None else ""
    text = (
        f"{label}{unit}: {header_line(period_task.plan_task.task, limit=150)} – kỳ {period_task.period.label}"
    )
    if returned_by is not None:
        message = f"Việc mới – bị trả lại (vòng {step.round}) – {text}. Lý do: {header_line(returned_by.reason, limit=200)}"
    elif step.round > 1:
        opened_by = selectors.round_opened_by(period_task.pk, step.round)
        why = (
            f". Vòng trước bị trả lại, lý do: {header_line(opened_by.reason, limit=200)}" if opened_by else ""
        )
        message = f"Việc mới (vòng {step.round}) – {text}{why}"
    else:
        message = f"Việc mới – {text}"
    people = [step.assignee] if step.assignee_id else _people_for_step(step, ctx)
    _notify(people, message=message, step=step, url=_step_url(step), ctx=ctx)
    return step


# What a step of a later round starts from: the same unit's text of the round before.
CARRIED_FIELDS: dict[str, tuple[str, ...]] = {
    Step.Kind.LEAD: ("result", "self_assessment", "explanation"),
    Step.Kind.PARTNER: ("result", "no_opinion"),
}


def _carry_over(step: Step, period_task: PeriodTask, *, activation: Any, ctx: ActionContext) -> Step | None:
    """A step of a later round starts from the same unit's step of the round before.

    A lead or partner step takes its text and its files (new Evidence rows ``carried_from`` the
    earlier ones, naming the same stored files: the submitted version stays as it was). A step
    that was returned (``selectors.step_returned_by``) goes back to whoever submitted the
    previous one, if they may still do it; else it waits in the unit's queue (or the office's).

    Returns the step whose decision returned this one, or None (e.g. a partner asked again)."""
    previous = (
        Step.objects.filter(period_task=period_task, kind=step.kind, unit=step.unit_id, state=Step.State.DONE)
        .select_related("submitted_by")
        .order_by("-pk")
        .first()
    )
    if previous is None:
        return None
    fields = CARRIED_FIELDS.get(step.kind, ())
    if fields:
        for name in fields:
            setattr(step, name, getattr(previous, name))
        step.save(update_fields=list(fields))
        Evidence.objects.bulk_create(
            [
                Evidence(
                    step=step,
                    original_name=kept.original_name,
                    stored_name=kept.stored_name,
                    content_type=kept.content_type,
                    size=kept.size,
                    sha256=kept.sha256,
                    uploaded_by_id=kept.uploaded_by_id,
                    uploaded_at=kept.uploaded_at,
                    carried_from=kept,
                )
                for kept in previous.evidence.filter(removed_at__isnull=True).order_by("pk")
            ]
        )
    returned_by = selectors.step_returned_by(step)
    author = previous.submitted_by
    if returned_by is None or author is None or not access.may_claim(author, step):
        return returned_by
    # As step_claim does: through viewflow's assign, so that the engine's owner is the assignee.
    activation.task.assigned = timezone.now()
    activation.assign(author)
    step.assignee = author
    step.save(update_fields=["assignee"])
    event: PendingAudit = {
        "actor": returned_by.submitted_by,
        "action": "assign",
        "period_task": period_task,
        "step": step,
        "reason": returned_by.reason,
        "data": {"from": None, "to": author.username, "returned": True, "round": step.round},
    }
    if ctx.batched:  # the action in progress appends it after its own event
        ctx.audit_later.append(event)
    else:
        audit_record(**event)
    return returned_by

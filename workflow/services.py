"""Writes of the workflow: launch, claim, assign, save, submit, decide, evidence.

Each public function is keyword-only, runs in one transaction and, for anything that
moves a process, inside the flow's process lock; it re-reads the step under the lock,
so the loser of a race gets ``StepConflict`` (a clear message), never a second
successor. Mail is queued in the same transaction and sent by a worker (workflow/mail.py).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.status import STATUS

from audit.services import audit_record
from plans.models import Plan, PlanTask, ReportingPeriod, Unit
from workflow import access, selectors
from workflow.mail import header_line, mails_enqueue
from workflow.models import Evidence, Notification, PeriodTask, Stage, Step, TaskProcess
from workflow.notifications import mails_of, notification_text, notifications_grouped

User = get_user_model()


class StepConflict(Exception):
    """Someone else acted on the step first; the message says so in Vietnamese."""

    def __init__(self, message: str = "Bước này vừa được người khác xử lý. Vui lòng tải lại trang.") -> None:
        super().__init__(message)
        self.message = message


# --- helpers ---------------------------------------------------------------------------


def _flow() -> Any:
    from workflow.flows import ReportFlow

    return ReportFlow


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


_batch = threading.local()


@contextmanager
def _notifications_batched() -> Iterator[None]:
    """Inside: ``_notify`` collects; at the end, one INSERT for every notification of the action
    (a submit that opens three partner steps and tells the lead writes once, not four times),
    one for its mails and one for their delivery job. The new work one person gets in one period
    becomes one notification and one mail there (a launch of 70 runs: one each, not 70)."""
    if getattr(_batch, "rows", None) is not None:  # already batching: the outer block writes
        yield
        return
    _batch.rows = []
    try:
        yield
        rows = _batch.rows
    finally:
        _batch.rows = None
    _notifications_write(notifications_grouped(rows))


def _notifications_write(rows: list[Notification]) -> None:
    if rows:
        Notification.objects.bulk_create(rows)
    mails_enqueue(mails_of(rows))


def _notify(users: Iterable[Any], *, message: str, step: Step | None = None, url: str = "") -> None:
    """In-app notifications and queued mails, in this transaction (a worker sends the mails).
    Each links somewhere: ``url``, else the step's page."""
    users = [u for u in users if u.is_active]
    if not users:
        return
    text, link = notification_text(message), url or (_step_url(step) if step is not None else "")
    rows = [Notification(user=u, step=step, message=text, url=link) for u in users]
    if getattr(_batch, "rows", None) is not None:
        _batch.rows.extend(rows)
        return
    _notifications_write(rows)


def _step_url(step: Step) -> str:
    return reverse("workflow:step", args=[step.pk])


def branches_prepare(*, process: Any, unit_ids: list[int]) -> None:
    """A split is about to open one step per unit: read those units and their active members
    once for all branches (kept on the process object for this transaction only)."""
    from plans.models import Membership

    process._branch_units = Unit.objects.in_bulk(unit_ids)
    people: dict[int, list[Any]] = {pk: [] for pk in unit_ids}
    for membership in Membership.objects.filter(unit_id__in=unit_ids, user__is_active=True).select_related(
        "user"
    ):
        people[membership.unit_id].append(membership.user)
    process._branch_people = people


def branch_unit(process: Any, unit_id: int) -> Unit:
    """The unit of one branch of a split: prepared by ``branches_prepare``, else read."""
    prepared = getattr(process, "_branch_units", None) or {}
    return prepared.get(unit_id) or Unit.objects.get(pk=unit_id)


def _people_for_step(step: Step, process: Any = None) -> list[Any]:
    """Who should hear that a step arrived: the unit's members, the office, or the signers."""
    if step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER):
        prepared = getattr(process, "_branch_people", None) or {}
        if step.unit_id in prepared:
            return list(prepared[step.unit_id])
        return list(User.objects.filter(membership__unit_id=step.unit_id, is_active=True))
    if step.kind == Step.Kind.REVIEW:
        return list(access.reviewers())
    return list(access.signers_for(step.unit_id))


# --- the flow's hooks (called by nodes and the start handle) ----------------------------


def process_start(
    *, activation: Any, plan_task: PlanTask, period: ReportingPeriod, actor: Any
) -> TaskProcess:
    """Start handle: create the PeriodTask record that every later step hangs on."""
    process = activation.process
    has_partners = plan_task.partner_units.exclude(pk__in=plan_task.lead_units.all()).exists()
    process.needs_partner_input = has_partners
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


def step_record_create(*, activation: Any) -> Step:
    """A human task was created: record its Step, move the stage, tell the people concerned."""
    task = activation.task
    kind = task.flow_task.step_kind
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
    returned_by = _carry_over(step, period_task, activation=activation) if step.round > 1 else None
    if period_task.stage != kind:
        period_task.stage = kind
        pending = getattr(period_task, "_save_later", None)
        if pending is not None:  # a submit in progress writes the run once, at its end
            pending.add("stage")
        else:
            PeriodTask.objects.filter(pk=period_task.pk).update(stage=kind)
    label = step.get_kind_display()
    unit = f" ({step.unit.name})" if step.unit_id else ""
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
    people = [step.assignee] if step.assignee_id else _people_for_step(step, activation.process)
    _notify(people, message=message, step=step, url=_step_url(step))
    return step


# What a step of a later round starts from: the same unit's text of the round before.
CARRIED_FIELDS = {
    Step.Kind.LEAD: ("result", "self_assessment", "explanation"),
    Step.Kind.PARTNER: ("result", "no_opinion"),
}


def _carry_over(step: Step, period_task: PeriodTask, *, activation: Any) -> Step | None:
    """A step of a later round starts from the same unit's step of the round before.

    A lead or partner step takes its text and its files (new Evidence rows ``carried_from`` the
    earlier ones, naming the same stored files: the submitted version stays as it was). A step
    that was returned (``selectors.step_returned_by``) goes back to whoever submitted the
    previous one, if they may still do it; else it waits in the unit's queue (or the office's).

    Returns the step whose decision returned this one, or None (e.g. a partner asked again)."""
    previous = (
        Step.objects.filter(
            period_task=period_task, kind=step.kind, unit_id=step.unit_id, state=Step.State.DONE
        )
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
    event = {
        "actor": returned_by.submitted_by,
        "action": "assign",
        "period_task": period_task,
        "step": step,
        "reason": returned_by.reason,
        "data": {"from": None, "to": author.username, "returned": True, "round": step.round},
    }
    later = getattr(period_task, "_audit_later", None)
    if later is not None:  # a submit in progress appends it after its own event
        later.append(event)
    else:
        audit_record(**event)
    return returned_by


# --- launching ---------------------------------------------------------------------------


@dataclass
class LaunchResult:
    started: list[PeriodTask] = field(default_factory=list)
    skipped: int = 0


def tasks_for_period(*, plan: Plan, period: ReportingPeriod) -> list[PlanTask]:
    """The plan tasks a whole-period launch starts: ongoing ones always, "Năm" ones in the
    annual period (and in 6 tháng if the office chose so); event-driven ones by hand."""
    kinds = [PlanTask.TimelineKind.ONGOING]
    if period.code == ReportingPeriod.Code.Y or period.include_year_tasks:
        kinds.append(PlanTask.TimelineKind.YEAR)
    return list(plan.tasks.filter(timeline_kind__in=kinds).order_by("position"))


def launch_preview(
    *, plan: Plan, period: ReportingPeriod, plan_tasks: list[PlanTask] | None = None
) -> tuple[int, int]:
    """(how many would start, how many already run in the period)."""
    candidates = plan_tasks if plan_tasks is not None else tasks_for_period(plan=plan, period=period)
    existing = set(
        PeriodTask.objects.filter(period=period, plan_task__in=candidates).values_list(
            "plan_task_id", flat=True
        )
    )
    return len([t for t in candidates if t.pk not in existing]), len(existing)


def _launch_lock(period: ReportingPeriod) -> None:
    """Serialise launches of one period (PostgreSQL; SQLite serialises every writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_240_018, period.pk])


@transaction.atomic
def period_launch(
    *, period: ReportingPeriod, actor: Any, plan_tasks: list[PlanTask] | None = None
) -> LaunchResult:
    """Start one process per plan task for the period; never two for the same task and period.

    ``actor`` None is the system (the ``launch_period`` command run by cron).
    """
    if actor is not None and not access.capabilities(actor).launch:
        raise PermissionDenied("Chỉ Văn phòng Sở được khởi tạo kỳ báo cáo.")
    _launch_lock(period)
    candidates = plan_tasks if plan_tasks is not None else tasks_for_period(plan=period.plan, period=period)
    for plan_task in candidates:
        if plan_task.plan_id != period.plan_id:
            raise ValidationError("Nhiệm vụ không thuộc kế hoạch của kỳ báo cáo.")
        if not plan_task.lead_units.exists():
            raise ValidationError(f"Nhiệm vụ “{plan_task.task[:80]}” chưa có đơn vị chủ trì.")
    existing = set(
        PeriodTask.objects.filter(period=period, plan_task__in=candidates).values_list(
            "plan_task_id", flat=True
        )
    )
    result = LaunchResult(skipped=len(existing))
    flow = _flow()
    with _notifications_batched():
        for plan_task in candidates:
            if plan_task.pk in existing:
                continue
            process = flow.start.run(plan_task=plan_task, period=period, actor=actor)
            result.started.append(process.period_task)
    return result


# --- acting on a step ---------------------------------------------------------------------


def _process_of(step_id: int, process_id: int | None) -> int:
    """The process to lock for a step: the caller's (a view has read the step already) or read here.
    ``_locked_step`` checks it against the step it reads under that lock."""
    if process_id is not None:
        return process_id
    return Step.objects.values_list("period_task__process_id", flat=True).get(pk=step_id)


def _locked_step(step_id: int, process_id: int | None = None) -> tuple[Step, Any]:
    """Read the step, its viewflow task and process after the process lock was taken.

    The process carries the step's PeriodTask, so the flow's hooks (``step_record_create``,
    the selectors the splits ask) use that one instance instead of reading it again."""
    step = Step.objects.select_related(
        "task__process", "period_task__period__plan", "period_task__plan_task", "unit"
    ).get(pk=step_id)
    if process_id is not None and step.period_task.process_id != process_id:
        raise StepConflict("Bước này không thuộc quy trình đã khóa. Vui lòng tải lại trang.")
    process = step.task.process.coerced
    process.period_task = step.period_task
    return step, step.task


def _ensure_open(step: Step) -> None:
    if step.state != Step.State.OPEN:
        raise StepConflict()


def step_claim(*, step_id: int, user: Any, process_id: int | None = None) -> Step:
    """Nhận việc: the user takes an unassigned step of their unit (or office / leadership)."""
    process_id = _process_of(step_id, process_id)
    with _flow().lock(process_id):
        step, task = _locked_step(step_id, process_id)
        if not access.is_qualified(user, step):
            raise PermissionDenied("Bạn không thể nhận bước này.")
        _ensure_open(step)
        if step.assignee_id is not None:
            if step.assignee_id == user.pk:
                return step
            raise StepConflict("Bước này vừa được người khác nhận.")
        if not access.may_claim(user, step):
            raise PermissionDenied("Bạn không thể nhận bước này.")
        activation = task.flow_task.activation_class(task)
        task.assigned = timezone.now()  # saved with the owner by viewflow's assign
        activation.assign(user)
        step.assignee = user
        step.save(update_fields=["assignee"])
        audit_record(actor=user, action="claim", period_task=step.period_task, step=step)
        return step


def steps_claim(*, step_ids: Iterable[int], user: Any) -> tuple[int, int]:
    """Bulk claim: (claimed, skipped because taken by someone else or not allowed)."""
    claimed = skipped = 0
    for step_id in step_ids:
        try:
            step_claim(step_id=step_id, user=user)
            claimed += 1
        except (StepConflict, PermissionDenied, Step.DoesNotExist):
            skipped += 1
    return claimed, skipped


def step_assign(*, step_id: int, assignee: Any, actor: Any) -> Step:
    """Giao việc / giao lại: the unit head hands the step to a member of the unit."""
    process_id = Step.objects.values_list("period_task__process_id", flat=True).get(pk=step_id)
    with _flow().lock(process_id):
        step, task = _locked_step(step_id)
        _ensure_open(step)
        if not access.may_assign(actor, step):
            raise PermissionDenied("Chỉ trưởng đơn vị được giao việc của đơn vị.")
        if not access.may_assign_to(step, assignee):
            raise ValidationError("Người được giao phải là thành viên của đơn vị.")
        previous = step.assignee
        activation = task.flow_task.activation_class(task)
        task.assigned = timezone.now()  # saved with the owner by viewflow's assign / reassign
        if task.status == STATUS.NEW:
            activation.assign(assignee)
        else:
            activation.reassign(user=assignee)
        step.assignee = assignee
        step.save(update_fields=["assignee"])
        audit_record(
            actor=actor,
            action="reassign" if previous else "assign",
            period_task=step.period_task,
            step=step,
            data={"from": previous.username if previous else None, "to": assignee.username},
        )
        _notify(
            [assignee],
            message=f"Bạn được giao: {step.get_kind_display()} – {header_line(step.period_task.plan_task.task, limit=150)}",
            step=step,
            url=_step_url(step),
        )
        return step


REPORT_FIELDS = {
    Step.Kind.LEAD: ("result", "self_assessment", "explanation"),
    Step.Kind.PARTNER: ("result", "no_opinion"),
    Step.Kind.REVIEW: ("decision", "reason", "ask_partners_again"),
    Step.Kind.SIGN_OFF: ("decision", "reason"),
}


def _apply(step: Step, data: dict[str, Any]) -> dict[str, object]:
    before = step.snapshot()
    for name in REPORT_FIELDS[step.kind]:
        if name in data:
            setattr(step, name, data[name])
    return before


def _ensure_executor(step: Step, user: Any) -> None:
    # Someone who could never act here gets 403; a colleague who lost a race gets 409.
    if not access.is_qualified(user, step):
        raise PermissionDenied("Bạn không có quyền thực hiện bước này.")
    _ensure_open(step)
    if step.assignee_id != user.pk:
        if step.assignee_id is None:
            raise PermissionDenied("Hãy nhận việc trước khi thực hiện.")
        raise StepConflict("Bước này đang do người khác thực hiện.")
    if not access.may_execute(user, step):
        raise PermissionDenied("Bạn không có quyền thực hiện bước này.")


def _draft_write(step: Step, user: Any, data: dict[str, Any], *, unchanged_too: bool = True) -> bool:
    """Keep the report as written so far (the step locked and its executor checked by the caller).
    False, nothing written, when ``unchanged_too`` is off and the text is what is saved already."""
    before = _apply(step, data)
    if not unchanged_too and step.snapshot() == before:
        return False
    step.draft_saved_at = timezone.now()
    step.save()
    PeriodTask.objects.filter(pk=step.period_task_id, started_at__isnull=True).update(
        started_at=timezone.now()
    )
    audit_record(
        actor=user,
        action="save_draft",
        period_task=step.period_task,
        step=step,
        data={"before": before, "after": step.snapshot()},
    )
    return True


def step_save_draft(
    *,
    step_id: int,
    user: Any,
    data: dict[str, Any],
    process_id: int | None = None,
    unchanged_too: bool = True,
) -> Step:
    """Lưu nháp: keep the report as written so far; the step stays where it is.

    The automatic save while typing passes ``unchanged_too=False``: a text already saved is not
    written (nor audited) again."""
    process_id = _process_of(step_id, process_id)
    with _flow().lock(process_id):
        step, _task = _locked_step(step_id, process_id)
        _ensure_executor(step, user)
        _draft_write(step, user, data, unchanged_too=unchanged_too)
        return step


def _validate_submission(step: Step, evidence: list[dict[str, Any]]) -> None:
    errors: dict[str, str] = {}
    if step.kind == Step.Kind.LEAD:
        if not step.result.strip():
            errors["result"] = "Hãy nhập kết quả thực hiện."
        if not step.self_assessment:
            errors["self_assessment"] = "Hãy chọn mức tự đánh giá."
        if not evidence and not step.explanation.strip():
            errors["explanation"] = "Chưa có tài liệu kiểm chứng: hãy đính kèm tệp hoặc viết giải trình."
    elif step.kind == Step.Kind.PARTNER:
        if not step.no_opinion and not step.result.strip():
            errors["result"] = "Hãy nhập ý kiến phối hợp hoặc chọn “Không có ý kiến”."
    else:
        if step.decision not in (
            [Step.Decision.APPROVE, Step.Decision.RETURN_LEAD]
            if step.kind == Step.Kind.REVIEW
            else Step.Decision.values
        ):
            errors["decision"] = "Hãy chọn quyết định."
        elif step.decision != Step.Decision.APPROVE and not step.reason.strip():
            errors["reason"] = "Trả lại phải nêu lý do."
    if errors:
        raise ValidationError(errors)


def step_submit(*, step_id: int, user: Any, data: dict[str, Any], process_id: int | None = None) -> Step:
    """Gửi / quyết định: complete the step and move the process on, exactly once."""
    process_id = _process_of(step_id, process_id)
    with _flow().lock(process_id):
        step, task = _locked_step(step_id, process_id)
        _ensure_executor(step, user)
        before = _apply(step, data)
        evidence = list(step.evidence.filter(removed_at__isnull=True).values("original_name", "sha256"))
        _validate_submission(step, evidence)
        now = timezone.now()
        step.state = Step.State.DONE
        step.submitted_by = user
        step.submitted_at = now
        step.save(update_fields=[*REPORT_FIELDS[step.kind], "state", "submitted_by", "submitted_at"])

        # The process and its PeriodTask were read under the lock: changed here, in memory
        # too, so that the flow's hooks below see the new round and stage.
        period_task = step.period_task
        changed: list[str] = []
        if period_task.started_at is None:
            period_task.started_at = now
            changed.append("started_at")
        process = task.process
        action = {"lead": "submit", "partner": "partner_input"}.get(step.kind, "")
        if step.kind == Step.Kind.REVIEW:
            process.review_approved = step.decision == Step.Decision.APPROVE
            action = "approve" if process.review_approved else "return"
            if not process.review_approved:
                has_partners = bool(_partner_ids(period_task))
                process.needs_partner_input = has_partners and step.ask_partners_again
                period_task.round += 1
                changed.append("round")
        elif step.kind == Step.Kind.SIGN_OFF:
            process.signoff_decision = step.decision
            action = "sign_off" if step.decision == Step.Decision.APPROVE else "return"
            if step.decision == Step.Decision.APPROVE:
                period_task.stage, period_task.completed_at = Stage.DONE, now
                changed += ["stage", "completed_at"]
            else:
                if step.decision == Step.Decision.RETURN_LEAD:
                    process.needs_partner_input = False
                period_task.round += 1
                changed.append("round")
        if step.kind in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF):
            process.save(update_fields=["data"])

        # The run's changes (and the stage the new steps move it to) are written once, after the
        # engine ran: its hooks read them from this instance, never from the table.
        period_task._save_later = set(changed)
        period_task._audit_later = []  # events of the new steps (a return assigned back), after this one
        activation = task.flow_task.activation_class(task)
        try:
            with _notifications_batched():
                activation.start(None)
                activation.execute()
                _notify_outcome(step)
            pending, audit_later = period_task._save_later, period_task._audit_later
        finally:
            del period_task._save_later, period_task._audit_later
        if pending:
            period_task.save(update_fields=sorted(pending))
        # Last: the audit append takes the chain's lock, held until commit; everything
        # else of the step is written by now.
        audit_record(
            actor=user,
            action=action,
            period_task=period_task,
            step=step,
            reason=step.reason if step.decision and step.decision != Step.Decision.APPROVE else "",
            data={"before": before, "after": step.snapshot(), "evidence": evidence},
        )
        for event in audit_later:
            audit_record(**event)
        return step


def _partner_ids(period_task: PeriodTask) -> list[int]:
    plan_task = period_task.plan_task
    return list(
        plan_task.partner_units.exclude(pk__in=plan_task.lead_units.all()).values_list("pk", flat=True)
    )


def _notify_outcome(step: Step) -> None:
    """Tell the lead unit's people what the office or leadership decided, with a link: to the
    task's dossier, or for a return to the lead, to the person's own returned step. Whoever got
    that step back already had its "Việc mới – bị trả lại" notification: not told twice."""
    if step.kind not in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF):
        return
    period_task = step.period_task
    users = list(
        User.objects.filter(
            pk__in=Step.objects.filter(
                period_task=period_task, kind=Step.Kind.LEAD, submitted_by__isnull=False
            ).values("submitted_by")
        )
    )
    task_text = header_line(period_task.plan_task.task, limit=150)
    dossier = reverse("workflow:period_task", args=[period_task.pk])
    if step.decision == Step.Decision.APPROVE:
        verb = (
            "đã được Văn phòng Sở thẩm định đạt"
            if step.kind == Step.Kind.REVIEW
            else "đã được Lãnh đạo Sở phê duyệt"
        )
        _notify(users, message=f"Nhiệm vụ {verb}: {task_text}", step=step, url=dossier)
        return
    to = "Văn phòng Sở" if step.decision == Step.Decision.RETURN_OFFICE else "đơn vị chủ trì"
    message = f"Nhiệm vụ bị trả lại {to} (vòng {step.round}): {task_text}. Lý do: {header_line(step.reason, limit=200)}"
    if step.decision == Step.Decision.RETURN_LEAD:
        got_back = set(
            Step.objects.filter(
                period_task=period_task, kind=Step.Kind.LEAD, state=Step.State.OPEN, assignee__in=users
            ).values_list("assignee_id", flat=True)
        )
        users = [u for u in users if u.pk not in got_back]
    _notify(users, message=message, step=step, url=dossier)


# --- evidence ---------------------------------------------------------------------------


def evidence_attach(*, step_id: int, user: Any, stored: Any, draft: dict[str, Any] | None = None) -> Evidence:
    """Record a file already written to storage; the caller deletes it if this fails.

    ``draft``: the report as typed on the same page, kept in the same transaction (attaching
    a file never loses the text)."""
    process_id = Step.objects.values_list("period_task__process_id", flat=True).get(pk=step_id)
    with _flow().lock(process_id):
        step, _task = _locked_step(step_id)
        _ensure_executor(step, user)
        if draft is not None:
            _draft_write(step, user, draft, unchanged_too=False)
        evidence = Evidence.objects.create(
            step=step,
            original_name=stored.original_name,
            stored_name=stored.stored_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by=user,
        )
        audit_record(
            actor=user,
            action="evidence_added",
            period_task=step.period_task,
            step=step,
            data={"name": evidence.original_name, "sha256": evidence.sha256, "size": evidence.size},
        )
        return evidence


def evidence_remove(*, evidence_id: int, user: Any, draft: dict[str, Any] | None = None) -> Evidence:
    """Remove a file from a step still being written; the record and the file stay for the audit.

    A file carried over from the round before is removed from this round only: its earlier row,
    and the stored file both rows name, stay as they were. ``draft`` as for ``evidence_attach``."""
    evidence = Evidence.objects.select_related("step").get(pk=evidence_id)
    process_id = Step.objects.values_list("period_task__process_id", flat=True).get(pk=evidence.step_id)
    with _flow().lock(process_id):
        step, _task = _locked_step(evidence.step_id)
        _ensure_executor(step, user)
        if draft is not None:
            _draft_write(step, user, draft, unchanged_too=False)
        evidence.refresh_from_db()
        if evidence.removed_at is not None:
            raise StepConflict("Tệp này đã được gỡ.")
        evidence.removed_at = timezone.now()
        evidence.removed_by = user
        evidence.save(update_fields=["removed_at", "removed_by"])
        data = {"name": evidence.original_name, "sha256": evidence.sha256}
        if evidence.carried_from_id is not None:
            data["carried_from"] = evidence.carried_from_id
        audit_record(
            actor=user, action="evidence_removed", period_task=step.period_task, step=step, data=data
        )
        return evidence


def unit_for_user(user: Any) -> Unit | None:
    from plans.roles import roles_of

    return roles_of(user).unit


# --- reminders --------------------------------------------------------------------------


def _reminder_kind(due: datetime.date, today: datetime.date) -> str | None:
    from plans.calendar import working_days_between
    from workflow.models import Reminder

    if due < today:
        return Reminder.Kind.MISSED
    days_left = working_days_between(today, due)
    return {7: Reminder.Kind.D7, 3: Reminder.Kind.D3, 1: Reminder.Kind.D1}.get(days_left)


def reminders_send(*, today: datetime.date | None = None) -> int:
    """Send the due reminders: 7, 3 and 1 working days before a step's due date, and once
    when missed; on working days only (a Saturday run sends nothing, Monday's sends what is due).

    Each (step, kind) is recorded in ``Reminder`` under a unique constraint before the
    notification is written, in the same transaction: running this any number of times,
    even twice at once, sends each reminder once.
    """
    from django.db import IntegrityError
    from django.db.models import Exists, OuterRef

    from plans import calendar
    from workflow.models import Reminder

    today = today or timezone.localdate()
    if not calendar.is_working_day(today):
        return 0
    # The due dates d working days ahead: the d-th working day and the days off just before it.
    days = []
    for d in settings.REMINDER_DAYS:
        after, last = calendar.add_working_days(today, d - 1), calendar.add_working_days(today, d)
        days += [after + datetime.timedelta(days=i) for i in range(1, (last - after).days + 1)]
    candidates = (
        Step.objects.filter(state=Step.State.OPEN)
        .filter(Q(due_date__in=days) | Q(due_date__lt=today))
        .annotate(missed_sent=Exists(Reminder.objects.filter(step=OuterRef("pk"), kind=Reminder.Kind.MISSED)))
        .filter(missed_sent=False)
        .select_related("period_task__plan_task", "period_task__period", "unit", "assignee")
    )
    sent = 0
    for step in candidates.iterator():
        kind = _reminder_kind(step.due_date, today)
        if kind is None:
            continue
        try:
            with transaction.atomic():
                Reminder.objects.create(step=step, kind=kind)
                people = [step.assignee] if step.assignee_id else _people_for_step(step)
                text = header_line(step.period_task.plan_task.task, limit=150)
                if kind == Reminder.Kind.MISSED:
                    message = f"Quá hạn xử lý ({step.due_date:%d/%m/%Y}): {step.get_kind_display()} – {text}"
                else:
                    left = calendar.working_days_between(today, step.due_date)
                    message = f"Còn {left} ngày làm việc đến hạn ({step.due_date:%d/%m/%Y}): {step.get_kind_display()} – {text}"
                _notify(people, message=message, step=step, url=_step_url(step))
        except IntegrityError:
            continue  # another run sent it a moment ago
        sent += 1
    return sent


# --- cancelling -------------------------------------------------------------------------


def period_task_cancel(*, period_task_id: int, actor: Any, reason: str) -> PeriodTask:
    """Hủy quy trình: the office stops a task's run in a period, with a reason.

    Open steps are cancelled, the records stay; the task cannot be launched again in the
    same period (one run per task and period).
    """
    from viewflow.workflow.status import PROCESS

    if not access.capabilities(actor).launch:
        raise PermissionDenied("Chỉ Văn phòng Sở được hủy quy trình.")
    if not reason.strip():
        raise ValidationError({"reason": "Hủy quy trình phải nêu lý do."})
    process_id = PeriodTask.objects.values_list("process_id", flat=True).get(pk=period_task_id)
    flow = _flow()
    with flow.lock(process_id):
        period_task = PeriodTask.objects.select_related("period", "plan_task").get(pk=period_task_id)
        process = TaskProcess.objects.get(pk=process_id)
        if process.status in (PROCESS.DONE, PROCESS.CANCELED):
            raise StepConflict("Quy trình đã kết thúc hoặc đã bị hủy.")
        flow.instance.cancel(process)
        process.status = PROCESS.CANCELED
        process.finished = timezone.now()
        process.save(update_fields=["status", "finished"])
        Step.objects.filter(period_task=period_task, state=Step.State.OPEN).update(state=Step.State.CANCELED)
        period_task.stage = Stage.CANCELED
        period_task.save(update_fields=["stage"])
        audit_record(actor=actor, action="cancel", period_task=period_task, reason=reason.strip())
        return period_task

"""Commands: what a person does (launch, claim, assign, save, submit, decide, evidence, cancel).

Each public function is keyword-only, runs in one transaction and, for anything that
moves a process, inside the flow's process lock; it re-reads the step under the lock,
so the loser of a race gets ``StepConflict`` (a clear message), never a second
successor. An action that drives the engine hands the hooks an ``ActionContext``
(``services.context``) and writes what they gathered once, at its end. Mail is queued in the
same transaction and sent by a worker (workflow/mail.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.status import STATUS

from audit.services import audit_record
from plans.models import Plan, PlanTask, ReportingPeriod
from workflow import access, selectors
from workflow.mail import header_line
from workflow.models import Evidence, PeriodTask, Stage, Step, TaskProcess
from workflow.services.context import ActionContext, acting
from workflow.services.notifications import _notify, _notify_outcome, _step_url, notifications_flush

User = get_user_model()


class StepConflict(Exception):
    """Someone else acted on the step first; the message says so in Vietnamese."""

    def __init__(self, message: str = "Bước này vừa được người khác xử lý. Vui lòng tải lại trang.") -> None:
        super().__init__(message)
        self.message = message


def _flow() -> Any:
    from workflow.flows import ReportFlow

    return ReportFlow


# --- launching ---------------------------------------------------------------------------


@dataclass
class LaunchResult:
    started: list[PeriodTask] = field(default_factory=list)
    skipped: int = 0


def launch_kinds(period: ReportingPeriod) -> frozenset[str]:
    """The timelines a whole-period launch starts: ongoing tasks always, "Năm" ones in the
    annual period (and in 6 tháng if the office chose so); event-driven ones by hand."""
    if period.code == ReportingPeriod.Code.Y or period.include_year_tasks:
        return frozenset({PlanTask.TimelineKind.ONGOING, PlanTask.TimelineKind.YEAR})
    return frozenset({PlanTask.TimelineKind.ONGOING})


def tasks_for_period(*, plan: Plan, period: ReportingPeriod) -> list[PlanTask]:
    """The plan tasks a whole-period launch starts (``launch_kinds``), in plan order."""
    return list(plan.tasks.filter(timeline_kind__in=launch_kinds(period)).order_by("position"))


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
    # One context for the whole launch: each person's new work in the period is one notification.
    ctx = ActionContext()
    for plan_task in candidates:
        if plan_task.pk in existing:
            continue
        process = flow.start.run(plan_task=plan_task, period=period, actor=actor, context=ctx)
        process.context = None
        _context_write(ctx, process.period_task)
        result.started.append(process.period_task)
    notifications_flush(ctx)
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


def step_claim(*, step_id: int, user: Any, process_id: int | None = None, audited: bool = True) -> Step:
    """Nhận việc: the user takes an unassigned step of their unit (or office / leadership).

    ``audited`` False: only for a claim that the same person's decision on the step follows in
    the same transaction (``steps_approve``): that decision's event names them."""
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
        if audited:
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


REPORT_FIELDS: dict[str, tuple[str, ...]] = {
    Step.Kind.LEAD: ("result", "self_assessment", "explanation", "partners_asked"),
    Step.Kind.PARTNER: ("result", "no_opinion"),
    Step.Kind.REVIEW: ("decision", "reason", "ask_partners_again", "partners_asked"),
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


# The decisions each deciding step may take.
DECISIONS: dict[str, tuple[str, ...]] = {
    Step.Kind.REVIEW: (Step.Decision.APPROVE, Step.Decision.RETURN_LEAD, Step.Decision.ASK_PARTNERS),
    Step.Kind.SIGN_OFF: (Step.Decision.APPROVE, Step.Decision.RETURN_LEAD, Step.Decision.RETURN_OFFICE),
}


def _partners_settle(step: Step, process: Any) -> list[int]:
    """Settle which partner units a lead step (or a review asking partners) asks: the units
    submitted, else those proposed (``selectors.partner_choice``); never a unit the run may not
    ask. Returns the units the run may ask, in order."""
    submitted = step.partners_asked
    if submitted is not None:
        try:
            submitted = {int(pk) for pk in submitted}
        except (TypeError, ValueError):
            raise ValidationError({"partners_asked": "Danh sách cơ quan phối hợp không hợp lệ."}) from None
    choice = selectors.partner_choice(step, process)
    allowed = [u.pk for u in choice.units]
    if submitted is not None and not submitted <= set(allowed):
        raise ValidationError({"partners_asked": "Chỉ được xin ý kiến các cơ quan phối hợp của nhiệm vụ."})
    step.partners_asked = choice.proposed
    return allowed


def _validate_submission(step: Step, evidence: Sequence[Mapping[str, object]]) -> None:
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
        if step.decision not in DECISIONS[step.kind]:
            errors["decision"] = "Hãy chọn quyết định."
        elif step.decision == Step.Decision.ASK_PARTNERS:
            if not step.partners_asked:
                errors["partners_asked"] = "Hãy chọn cơ quan phối hợp cần xin ý kiến."
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
        process = task.process
        partner_order: list[int] = []
        if step.kind == Step.Kind.LEAD or step.decision == Step.Decision.ASK_PARTNERS:
            partner_order = _partners_settle(step, process)
        elif step.kind == Step.Kind.REVIEW:
            step.partners_asked = None
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
        action = {"lead": "submit", "partner": "partner_input"}.get(step.kind, "")
        if step.kind == Step.Kind.LEAD and partner_order:
            process.lead_asks(period_task.round, step.partners_asked, partner_order)
            process.save(update_fields=["data"])
        if step.kind in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF):
            # Where the run goes next is the process's to say (TaskProcess.decide, read by the
            # flow's gateways); what it records about the run stays here.
            process.decide(step)
            process.save(update_fields=["data"])
            if step.decision == Step.Decision.ASK_PARTNERS:
                action = "ask_partners"
            elif step.decision == Step.Decision.APPROVE:
                action = "approve" if step.kind == Step.Kind.REVIEW else "sign_off"
                if step.kind == Step.Kind.SIGN_OFF:
                    period_task.stage, period_task.completed_at = Stage.DONE, now
                    changed += ["stage", "completed_at"]
            else:
                action = "return"
                period_task.round += 1
                changed.append("round")

        # The run's changes (and the stage the new steps move it to) are written once, after the
        # engine ran: its hooks read them from this instance, never from the table.
        ctx = ActionContext(save_later=set(changed))
        activation = task.flow_task.activation_class(task)
        with acting(process, ctx):
            activation.start(None)
            activation.execute()
            _notify_outcome(step, ctx)
        notifications_flush(ctx)
        if ctx.save_later:
            period_task.save(update_fields=sorted(ctx.save_later))
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
        for event in ctx.audit_later:
            audit_record(**event)
        return step


@dataclass
class BulkResult:
    """Đồng ý hàng loạt: the steps approved, and those that were not with why (in Vietnamese)."""

    approved: list[Step] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


BULK_KINDS = (Step.Kind.REVIEW, Step.Kind.SIGN_OFF)


def steps_approve(*, step_ids: Iterable[int], user: Any) -> BulkResult:
    """Approve several review or sign-off steps, each as its own decision.

    Each run goes through ``step_claim`` (if nobody holds the step yet) and ``step_submit``
    with "Đồng ý", so each is checked (access.py: who may decide, separation of duties),
    locked and audited exactly as a single approval; each in its own transaction, so a run that
    fails is reported and left exactly as it was, never half-done, and the others go on.
    A return is never taken in bulk: it needs its own reason."""
    result = BulkResult()
    for step_id in dict.fromkeys(step_ids):
        try:
            with transaction.atomic():
                step = Step.objects.select_related("period_task").get(pk=step_id)
                if step.kind not in BULK_KINDS:
                    raise ValidationError("Chỉ đồng ý hàng loạt các bước thẩm định, phê duyệt.")
                process_id = step.period_task.process_id
                if step.assignee_id is None:
                    step_claim(step_id=step_id, user=user, process_id=process_id, audited=False)
                done = step_submit(
                    step_id=step_id,
                    user=user,
                    data={"decision": Step.Decision.APPROVE, "reason": ""},
                    process_id=process_id,
                )
            result.approved.append(done)
        except Step.DoesNotExist:
            result.failed.append((step_id, "Không có bước này."))
        except StepConflict as conflict:
            result.failed.append((step_id, conflict.message))
        except PermissionDenied as denied:
            result.failed.append((step_id, str(denied) or "Bạn không có quyền quyết định bước này."))
        except ValidationError as invalid:
            result.failed.append((step_id, " ".join(invalid.messages)))
    return result


def _context_write(ctx: ActionContext, period_task: PeriodTask) -> None:
    """What the hooks of one process's start gathered for its run, written now."""
    if ctx.save_later:
        period_task.save(update_fields=sorted(ctx.save_later))
        ctx.save_later = set()
    for event in ctx.audit_later:
        audit_record(**event)
    ctx.audit_later = []


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
        data: dict[str, str | int] = {"name": evidence.original_name, "sha256": evidence.sha256}
        if evidence.carried_from_id is not None:
            data["carried_from"] = evidence.carried_from_id
        audit_record(
            actor=user, action="evidence_removed", period_task=step.period_task, step=step, data=data
        )
        return evidence


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

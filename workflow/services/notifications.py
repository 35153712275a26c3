"""Who hears of what an action did, in-app and by mail (queued in the action's transaction).

Inside an action (``ActionContext``) notifications are collected and written once at its end
(``notifications_flush``): a submit that opens three partner steps and tells the lead writes one
INSERT, not four; the new work one person gets in one period becomes one notification
(``workflow.notifications.notifications_grouped``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse

from workflow import access
from workflow.mail import header_line, mails_enqueue
from workflow.models import Notification, Step
from workflow.notifications import mails_of, notification_text, notifications_grouped
from workflow.services.context import ActionContext

User = get_user_model()


def notifications_flush(ctx: ActionContext) -> None:
    """Write an action's notifications (grouped) and their mails: one INSERT each."""
    rows, ctx.notifications = ctx.notifications, []
    _notifications_write(notifications_grouped(rows))


def _notifications_write(rows: list[Notification]) -> None:
    if rows:
        Notification.objects.bulk_create(rows)
    mails_enqueue(mails_of(rows))


def _notify(
    users: Iterable[Any],
    *,
    message: str,
    step: Step | None = None,
    url: str = "",
    ctx: ActionContext | None = None,
) -> None:
    """In-app notifications and queued mails, in this transaction (a worker sends the mails).
    Each links somewhere: ``url``, else the step's page. With a batching ``ctx``: collected."""
    users = [u for u in users if u.is_active]
    if not users:
        return
    text, link = notification_text(message), url or (_step_url(step) if step is not None else "")
    rows = [Notification(user=u, step=step, message=text, url=link) for u in users]
    if ctx is not None and ctx.batched:
        ctx.notifications.extend(rows)
        return
    _notifications_write(rows)


def _step_url(step: Step) -> str:
    return reverse("workflow:step", args=[step.pk])


def _people_for_step(step: Step, ctx: ActionContext | None = None) -> list[Any]:
    """Who should hear that a step arrived: the unit's members, the office, or the signers."""
    if step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER):
        prepared = ctx.branch_people if ctx is not None else {}
        if step.unit_id in prepared:
            return list(prepared[step.unit_id])
        return list(User.objects.filter(membership__unit=step.unit_id, is_active=True))
    if step.kind == Step.Kind.REVIEW:
        return list(access.reviewers())
    return list(access.signers_for(step.unit_id))


def _notify_outcome(step: Step, ctx: ActionContext | None = None) -> None:
    """Tell the lead unit's people what the office or leadership decided, with a link: to the
    task's dossier, or for a return to the lead, to the person's own returned step. Whoever got
    that step back already had its "Việc mới – bị trả lại" notification: not told twice."""
    if step.kind not in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF):
        return
    if step.decision == Step.Decision.ASK_PARTNERS:
        return  # nothing decided yet: the partner units asked hear of their new steps
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
        _notify(users, message=f"Nhiệm vụ {verb}: {task_text}", step=step, url=dossier, ctx=ctx)
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
    _notify(users, message=message, step=step, url=dossier, ctx=ctx)

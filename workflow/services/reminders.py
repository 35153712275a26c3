"""Nhắc hạn: the reminders the ``send_reminders`` command sends (cron, once a working day)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from workflow.mail import header_line
from workflow.models import Reminder, Step
from workflow.services.notifications import _notify, _people_for_step, _step_url


def _reminder_kind(due: datetime.date, today: datetime.date) -> str | None:
    from plans.calendar import working_days_between

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
    from plans import calendar

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

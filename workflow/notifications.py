"""Thông báo: what an action tells people, how it is grouped, read and sent as a daily digest.

``services.notifications._notify`` builds one ``Notification`` per person and message; when an action's batch
is written (``services.notifications.notifications_flush``), ``notifications_grouped`` folds the new work one
person received in one period into one notification ("62 việc mới trong Quý I/2024") linking to
that person's list filtered by the period, so a launch of 70 runs tells each person once.
A notification is read when it is opened, when its step's page is viewed or when the list it
points to is viewed. With ``MAIL_DIGEST`` on, no mail goes out per event: ``send_digest`` mails
each person the day's notifications once (README: cron).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from workflow.mail import header_line, mail_subject, mails_enqueue, mails_for
from workflow.models import Notification, OutgoingMail, Step

MESSAGE_MAX = 500  # Notification.message
DIGEST_MAX_LINES = 200  # a digest lists this many notifications, then says how many more


def notification_text(message: str) -> str:
    """A notification's text: one line, cut at a word with "…" (the mail header rule)."""
    return header_line(message, limit=MESSAGE_MAX)


def period_list_url(view_name: str, period_id: int) -> str:
    """The link of a grouped notification; viewing this list marks it read (``_step_list``)."""
    return f"{reverse(view_name)}?period={period_id}"


def _list_for(user: Any, steps: list[Step]) -> str:
    """The list where ``user`` finds these open steps: their own, the approvals, or the unit's."""
    if all(s.assignee_id == user.pk for s in steps):
        return "workflow:my_steps"
    if all(s.kind in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF) for s in steps):
        return "workflow:awaiting"
    return "workflow:unit_queue"


def notifications_grouped(rows: list[Notification]) -> list[Notification]:
    """One action's notifications with the new work of each person in each period folded into one.

    New work is a notification about an open step; one of them alone is kept as it is (its own
    text and direct link); two or more for the same person and period become "N việc mới trong
    <kỳ>" linking to the person's list filtered by that period. Everything else is kept as it is.
    Reads nothing: the steps in ``rows`` carry their run and period (the action just made them).
    """
    groups: dict[tuple[int, int], list[Notification]] = defaultdict(list)
    for row in rows:
        if row.step is not None and row.step.state == Step.State.OPEN:
            groups[(row.user_id, row.step.period_task.period_id)].append(row)
    folded: dict[int, Notification] = {}  # id() of the group's first row -> its one notification
    dropped: set[int] = set()
    for (_user_id, period_id), group in groups.items():
        # Every row in a group has its step (see above); the test tells the type checker.
        steps = list({row.step.pk: row.step for row in group if row.step is not None}.values())
        if len(steps) < 2:
            continue
        user = group[0].user
        period = steps[0].period_task.period
        folded[id(group[0])] = Notification(
            user=user,
            message=notification_text(f"{len(steps)} việc mới trong {period.label}"),
            url=period_list_url(_list_for(user, steps), period_id),
        )
        dropped.update(id(row) for row in group[1:])
    return [folded.get(id(row), row) for row in rows if id(row) not in dropped]


def mails_of(rows: list[Notification]) -> list[OutgoingMail]:
    """The mails of these notifications: one per row to a person with an address, or none when
    the daily digest (``MAIL_DIGEST``) replaces mail per event."""
    if settings.MAIL_DIGEST:
        return []
    # One message to a unit goes to each of its people: its subject line is made once.
    users_by_message: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        users_by_message.setdefault((row.message, row.url), []).append(row.user)
    return [
        mail
        for (message, url), users in users_by_message.items()
        for mail in mails_for(users, message=message, url=url)
    ]


def notifications_mark_read(*, user: Any, step_id: int | None = None, url: str | None = None) -> int:
    """Mark ``user``'s unread notifications about a step, or pointing to a list, as read (one UPDATE)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    mine = Notification.objects.filter(user=user, read_at__isnull=True)
    if step_id is not None:
        mine = mine.filter(step_id=step_id)
    elif url:
        mine = mine.filter(url=url)
    else:
        return 0
    return mine.update(read_at=timezone.now())


# --- the daily digest --------------------------------------------------------------------------


def digest_subject(day: datetime.date) -> str:
    return mail_subject(f"Tóm tắt thông báo ngày {day:%d/%m/%Y}")


def _digest_body(notes: list[Notification], day: datetime.date) -> str:
    lines = [f"Thông báo của bạn trong ngày {day:%d/%m/%Y} ({len(notes)}):", ""]
    for note in notes[:DIGEST_MAX_LINES]:
        at = timezone.localtime(note.created_at)
        lines.append(f"- {at:%H:%M} {note.message}" + (f"\n  {note.url}" if note.url else ""))
    if len(notes) > DIGEST_MAX_LINES:
        lines.append(
            f"… và {len(notes) - DIGEST_MAX_LINES} thông báo khác: {reverse('workflow:notifications')}"
        )
    return "\n".join(lines)


@transaction.atomic
def digest_send(*, day: datetime.date) -> int:
    """Queue one mail per person with the notifications they received on ``day`` (local time).

    Run any number of times, each person gets one digest per day: the digest mails already
    queued for that day (found by their subject) are not queued again. Returns how many were queued.
    """
    if connection.vendor == "postgresql":  # two runs at once: the second waits, then finds the first's
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_240_019, day.toordinal()])
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = start + datetime.timedelta(days=1)
    subject = digest_subject(day)
    done = set(OutgoingMail.objects.filter(subject=subject).values_list("recipient", flat=True))
    per_person: dict[int, list[Notification]] = defaultdict(list)
    notes = (
        Notification.objects.filter(created_at__gte=start, created_at__lt=end, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("user_id", "pk")
    )
    for note in notes:
        if note.user.email not in done:
            per_person[note.user_id].append(note)
    mails = [
        OutgoingMail(recipient=group[0].user.email, subject=subject, body=_digest_body(group, day))
        for group in per_person.values()
    ]
    mails_enqueue(mails)
    return len(mails)

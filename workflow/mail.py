"""Thư đi: mail is queued in the action's transaction and delivered by a background job.

An action (launch, submit, a reminder …) writes its ``OutgoingMail`` rows with one INSERT and
enqueues one job (``workflow.tasks.deliver_mails``) in the same transaction: a committed action
always has its mails and their job, a rolled-back one has neither, and the web request never
talks to the mail server. The job claims each mail with a conditional update under a row lock
before sending it, so a mail is sent by one worker only and, once marked sent, never again; a
failure is tried again after ``MAIL_RETRY_DELAYS`` (1, 5, 30 minutes), then the mail is marked
failed and listed for the office (Văn phòng Sở) on the failed-deliveries page, with "Gửi lại".

Every header made from text is one line and bounded (``header_line``): plan texts hold line
breaks, and a line break in a subject is refused by the mail library (``BadHeaderError``).
"""

from __future__ import annotations

import contextlib
import datetime
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from workflow.models import OutgoingMail

SUBJECT_PREFIX = "[CCHC] "
SUBJECT_MAX = 150  # characters of the whole subject, prefix included
ERROR_MAX = 1000
CHUNK = 50  # mails claimed and sent together; keeps a claim short-lived
# A mail still "sending" this long after it was claimed (its worker died between the send and
# the record), or still waiting this long after it was due (no worker ran): the office sees it.
STALE_AFTER = datetime.timedelta(minutes=15)


def header_line(text: str, *, limit: int) -> str:
    """Any text as one header line of at most ``limit`` characters.

    Every run of whitespace (line breaks, tabs, U+2028 …) becomes one space, other control
    characters go, and a longer text is cut at a word boundary and ends with "…".
    """
    line = " ".join(unicodedata.normalize("NFC", text).split())
    line = "".join(ch for ch in line if not unicodedata.category(ch).startswith("C"))
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if line[limit - 1] != " ":  # the cut falls inside a word: leave that word out
        at_word = cut.rsplit(" ", 1)[0]
        if len(at_word) >= limit // 2:  # unless it is one very long word: cut where we must
            cut = at_word
    return cut.rstrip(" ,;:.–-") + "…"


def mail_subject(message: str) -> str:
    return header_line(SUBJECT_PREFIX + message, limit=SUBJECT_MAX)


def mails_for(users: Iterable[Any], *, message: str, url: str = "") -> list[OutgoingMail]:
    """Unsaved mails of one message to each user who has an address."""
    subject = mail_subject(message)
    body = f"{message}\n\n{url}" if url else message
    return [OutgoingMail(recipient=u.email, subject=subject, body=body) for u in users if u.email]


def mails_enqueue(mails: list[OutgoingMail]) -> None:
    """Write the mails (one INSERT) and their delivery job, in the caller's transaction."""
    if not mails:
        return
    from workflow.tasks import deliver_mails

    with transaction.atomic(savepoint=False):
        OutgoingMail.objects.bulk_create(mails)
        deliver_mails.enqueue(mail_ids=[m.pk for m in mails])


# --- delivery (the job) -----------------------------------------------------------------


def _claim(mail_ids: list[int], now: datetime.datetime) -> list[OutgoingMail]:
    """Take the mails that are due and not taken by another worker; mark them as being sent."""
    with transaction.atomic():
        claimed = list(
            OutgoingMail.objects.select_for_update(skip_locked=True)
            .filter(pk__in=mail_ids, status=OutgoingMail.Status.QUEUED, next_attempt_at__lte=now)
            .order_by("pk")
        )
        if claimed:
            OutgoingMail.objects.filter(
                pk__in=[m.pk for m in claimed], status=OutgoingMail.Status.QUEUED
            ).update(status=OutgoingMail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    for mail in claimed:
        mail.attempts += 1
    return claimed


def _send(mails: list[OutgoingMail]) -> dict[int, str]:
    """Send over one connection; each mail is recorded as sent as soon as the server took it.
    Returns the error of each mail that was not sent."""
    errors: dict[int, str] = {}
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server fails every mail
        return {m.pk: f"{type(exc).__name__}: {exc}"[:ERROR_MAX] for m in mails}
    try:
        for mail in mails:
            message = EmailMessage(
                subject=header_line(mail.subject, limit=SUBJECT_MAX),
                body=mail.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[mail.recipient],
                headers={"X-CCHC-Mail": str(mail.pk)},
                connection=connection,
            )
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001 - recorded on the mail, tried again later
                errors[mail.pk] = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
                continue
            OutgoingMail.objects.filter(pk=mail.pk, status=OutgoingMail.Status.SENDING).update(
                status=OutgoingMail.Status.SENT, sent_at=timezone.now(), last_error=""
            )
    finally:
        with contextlib.suppress(Exception):  # a broken connection is closed enough
            connection.close()
    return errors


def _record_failures(mails: list[OutgoingMail], errors: dict[int, str], now: datetime.datetime) -> None:
    """Each failed mail waits for its next try (one job per moment), or is marked failed."""
    from workflow.tasks import deliver_mails

    delays = settings.MAIL_RETRY_DELAYS
    retry_at: dict[datetime.datetime, list[int]] = defaultdict(list)
    with transaction.atomic():
        for mail in mails:
            if mail.pk not in errors:
                continue
            fields: dict[str, Any] = {"last_error": errors[mail.pk], "claimed_at": None}
            if mail.attempts > len(delays):
                fields["status"] = OutgoingMail.Status.FAILED
            else:
                at = now + datetime.timedelta(seconds=delays[mail.attempts - 1])
                fields |= {"status": OutgoingMail.Status.QUEUED, "next_attempt_at": at}
                retry_at[at].append(mail.pk)
            OutgoingMail.objects.filter(pk=mail.pk, status=OutgoingMail.Status.SENDING).update(**fields)
        for at, ids in retry_at.items():
            deliver_mails.using(run_after=at).enqueue(mail_ids=ids)


def mails_deliver(*, mail_ids: list[int]) -> dict[str, int]:
    """The job's work: send the given mails that are due and still unsent, exactly once each."""
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    for start in range(0, len(mail_ids), CHUNK):
        chunk = mail_ids[start : start + CHUNK]
        now = timezone.now()
        mails = _claim(chunk, now)
        counts["skipped"] += len(chunk) - len(mails)
        if not mails:
            continue
        errors = _send(mails)
        if errors:
            _record_failures(mails, errors, timezone.now())
        counts["sent"] += len(mails) - len(errors)
        counts["failed"] += len(errors)
    return counts


# --- the office's page ------------------------------------------------------------------


def mails_needing_attention(*, now: datetime.datetime | None = None) -> QuerySet[OutgoingMail]:
    """Failed mails, and mails stuck while sending or waiting (no worker, or one that died)."""
    now = now or timezone.now()
    status = OutgoingMail.Status
    return OutgoingMail.objects.filter(
        Q(status=status.FAILED)
        | Q(status=status.SENDING, claimed_at__lt=now - STALE_AFTER)
        | Q(status=status.QUEUED, next_attempt_at__lt=now - STALE_AFTER)
    )


@transaction.atomic
def mails_resend(*, actor: Any, mail_ids: list[int] | None = None) -> int:
    """Gửi lại: the office queues failed (or stuck) mails again, from the first try.

    ``mail_ids`` None: every mail that needs attention. Sent mails are never queued again.
    """
    from audit.services import audit_record
    from workflow import access
    from workflow.tasks import deliver_mails

    if not access.capabilities(actor).failed_mails:
        raise PermissionDenied("Chỉ Văn phòng Sở được gửi lại thư.")
    mails = mails_needing_attention().select_for_update()
    if mail_ids is not None:
        mails = mails.filter(pk__in=mail_ids)
    rows = list(mails.order_by("pk").values_list("pk", "recipient"))
    if not rows:
        return 0
    ids = [pk for pk, _ in rows]
    OutgoingMail.objects.filter(pk__in=ids).update(
        status=OutgoingMail.Status.QUEUED, attempts=0, next_attempt_at=timezone.now(), claimed_at=None
    )
    deliver_mails.enqueue(mail_ids=ids)
    audit_record(actor=actor, action="mail_resent", data={"mails": ids, "recipients": [r for _, r in rows]})
    return len(ids)

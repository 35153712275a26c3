"""Background jobs (Django's Tasks API, the django-tasks backport, database backend).

Run by ``manage.py db_worker`` (one or more, on any machine that reaches the database).
A job is enqueued in the transaction of the action that causes it; its arguments are plain
ids, and the work is in the service modules.
"""

from __future__ import annotations

from django_tasks import task

from workflow import mail


@task()
def deliver_mails(*, mail_ids: list[int]) -> dict[str, int]:
    """Send the queued mails (workflow/mail.py): each at most once, failures tried again later."""
    return mail.mails_deliver(mail_ids=mail_ids)

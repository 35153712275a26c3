"""Background jobs of the plans app (Django's Tasks API, database backend; ``manage.py db_worker``).

The job is enqueued in the transaction that saves its ``PlanUpload`` (``plans.uploads``);
its argument is a plain id and the work is in ``plans.uploads``.
"""

from __future__ import annotations

from django_tasks import task

from plans import uploads


@task()
def parse_plan_upload(*, upload_id: int) -> str:
    """Read an uploaded plan file in the bounded child process; the row records the outcome."""
    return uploads.upload_parse(upload_id=upload_id)

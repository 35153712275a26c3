"""Running the queued background jobs in a test, with the real database backend's worker code.

``run_queued_jobs`` does what one ``manage.py db_worker --batch`` pass does (take each ready
job, mark it running, run it, record the outcome) inside the test's own transaction; a job
that failed is an error of the test. Time-machine moves what "ready" means (retries wait).
"""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_queued_jobs(*, limit: int = 1000) -> int:
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )
    ran = 0
    while (job := DBTaskResult.objects.ready().first()) is not None:
        assert ran < limit, "jobs keep coming: a job that enqueues itself?"
        job.claim(worker.worker_id)
        worker.run_task(job)  # the worker's own code: runs it and records success or failure
        job.refresh_from_db()
        assert job.status == "SUCCESSFUL", f"job {job.task_path} failed:\n{job.traceback}"
        ran += 1
    return ran

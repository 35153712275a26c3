"""A worker killed in the middle of a step (SIGKILL: no handler, no rollback of its own).

A child process submits the lead step; a patched point inside the process lock and the
transaction writes a marker (with what the child sees at that moment: its uncommitted
writes) and sleeps. The test kills it there and checks that the database took nothing of
it: the step is open, no successor exists, the audit trail is as it was, the lock is free
(a submit from the test process succeeds at once) and the process moves on exactly once.

PostgreSQL: the server ends the dead client's transaction when its socket closes. SQLite
(only with a file test database: SQLITE_TEST_NAME=var/test.sqlite3): the dead writer's
hot journal is rolled back by the next connection.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from viewflow.workflow.models import Process, Task

from audit.models import AuditEvent
from audit.services import verify_chain
from tests.factories import CriterionFactory, periods, plan_task
from tests.faults.helpers import PYTHON, ROOT, sqlite_in_memory, subprocess_env
from tests.helpers import LEAD_REPORT
from workflow import services
from workflow.models import PeriodTask, Step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _shared_database(transactional_db: Any) -> None:
    """Decided once the test database exists (at import time the settings name another one)."""
    if sqlite_in_memory():
        pytest.skip(
            "the in-memory SQLite test database is private to this process; run on PostgreSQL, "
            "or on SQLite with a file: SQLITE_TEST_NAME=var/test.sqlite3"
        )


CHILD = """
import json, os, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from workflow import services
from audit.models import AuditEvent
from workflow.models import Step
from workflow.services import commands

marker, step_id, point, report = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
real = getattr(commands, point)

def hang(*args, **kwargs):
    result = real(*args, **kwargs)
    step = Step.objects.get(pk=step_id)
    seen = {
        "pid": os.getpid(),
        "steps": Step.objects.filter(period_task_id=step.period_task_id).count(),
        "lead_state": step.state,
        "events": AuditEvent.objects.count(),
    }
    with open(marker + ".tmp", "w") as fh:
        json.dump(seen, fh)
    os.replace(marker + ".tmp", marker)
    time.sleep(60)
    return result

setattr(commands, point, hang)
user = get_user_model().objects.get(username="qlcn_cv")
services.step_submit(step_id=step_id, user=user, data=report)
print("not killed", flush=True)
"""


def _state(pt: PeriodTask, lead: Step) -> dict[str, Any]:
    lead.refresh_from_db()
    return {
        "lead": (lead.state, lead.submitted_at, lead.result),
        "steps": pt.steps.count(),
        "tasks": Task.objects.filter(process_id=pt.process_id).count(),
        "events": AuditEvent.objects.count(),
        "last_event": AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first(),
        "stage": PeriodTask.objects.get(pk=pt.pk).stage,
    }


def _assert_locked(process_id: int) -> None:
    """The child is inside the lock: the process row (PostgreSQL) or the write lock (SQLite) is held."""
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            Process.objects.select_for_update(nowait=True).filter(pk=process_id).exists()
    else:
        probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.1, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                probe.execute("BEGIN IMMEDIATE")
        finally:
            probe.close()


def _wait_for(marker: Path, child: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            return json.loads(marker.read_text())
        if child.poll() is not None:
            out, err = child.communicate()
            pytest.fail(f"the child ended before the marker (exit {child.returncode}):\n{out}\n{err}")
        time.sleep(0.05)
    child.kill()
    pytest.fail("no marker from the child within the timeout")


@pytest.mark.parametrize("point", ["audit_record", "_notify_outcome"])
def test_worker_killed_inside_a_step_leaves_it_as_it_was_and_a_retry_succeeds(
    point: str, units: dict[str, Any], personas: dict[str, Any], tmp_path: Path
) -> None:
    """_notify_outcome: killed after viewflow created the successors, before the audit event;
    audit_record: killed after everything of the step, its event included, just before commit."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"], units["ATNL"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    pt = PeriodTask.objects.get(plan_task=task)
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    before = _state(pt, lead)
    assert before["steps"] == 1 and before["lead"][0] == "open"

    marker = tmp_path / "inside.json"
    child = subprocess.Popen(
        [PYTHON, "-c", CHILD, str(marker), str(lead.pk), point, json.dumps(LEAD_REPORT)],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = _wait_for(marker, child)
        # The child really got that far: its own transaction shows its writes ...
        assert seen["lead_state"] == "done"
        assert seen["steps"] == before["steps"] + 2  # both partner steps, uncommitted
        if point == "audit_record":
            assert seen["events"] > before["events"]  # the submit's event, written last
        # ... and it holds the lock while it sleeps.
        _assert_locked(pt.process_id)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    assert _state(pt, lead) == before  # the step as it was, no successor, no event
    assert verify_chain() is None

    # The lock is free: a retry from here goes through at once (bounded wait, never a hang).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
    started = time.monotonic()
    try:
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    assert time.monotonic() - started < 5

    # ... and the process moved on exactly once.
    lead.refresh_from_db()
    assert lead.state == "done"
    assert sorted(pt.steps.filter(kind="partner").values_list("unit__short_name", flat=True)) == [
        "ATNL",
        "QLTM",
    ]
    assert pt.steps.count() == before["steps"] + 2
    assert AuditEvent.objects.filter(step=lead, action="submit").count() == 1
    assert AuditEvent.objects.count() == before["events"] + 1
    assert verify_chain() is None
    with pytest.raises(services.StepConflict):
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)

"""The mail server is down: people's actions go through at their normal speed, and when it is
back every queued mail arrives exactly once.

Two real workers (``manage.py db_worker``, the database backend of django-tasks) run as child
processes on the test database, a real SMTP server (aiosmtpd) listens on this branch's port
once it is "started again". The launch and the submit go through the pages, as a person's
would. The outage is either a stopped server (the port refuses connections) or a hanging one
(the port accepts and never answers: a synchronous send would wait for the timeout).

PostgreSQL, or SQLite with a file test database (SQLITE_TEST_NAME=var/test-mail.sqlite3).
"""

from __future__ import annotations

import email
import email.policy
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CriterionFactory, plan_task
from tests.faults.helpers import PYTHON, ROOT, sqlite_in_memory, subprocess_env
from tests.helpers import Inbox
from workflow.models import OutgoingMail, Step

pytestmark = pytest.mark.django_db(transaction=True)

SMTP_PORT = 18202  # this branch's ports: 18200-18219
# A person's launch (3 tasks) or submit, measured under the test client on this 2-core machine
# with both workers polling, takes 0.2-0.4 s; a request that waited for the mail server would
# take at least EMAIL_TIMEOUT (5 s).
ACTION_BUDGET_S = 3.0


@pytest.fixture(autouse=True)
def _shared_database(transactional_db: Any) -> None:
    if sqlite_in_memory():
        pytest.skip(
            "the workers are other processes: run on PostgreSQL, or on SQLite with a file "
            "(SQLITE_TEST_NAME=var/test-mail.sqlite3)"
        )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"not within {timeout} s: {what}")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two ``db_worker`` processes; mail failures are tried again every 2 s for this test."""
    env = subprocess_env(
        EMAIL_URL=f"smtp://127.0.0.1:{SMTP_PORT}",
        EMAIL_TIMEOUT="5",
        MAIL_RETRY_DELAYS=",".join(["2"] * 20),
        DEBUG="0",
    )
    command = [PYTHON, "manage.py", "db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"]
    procs = []
    for n in range(2):
        log = (tmp_path / f"worker-{n}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*command, "--worker-id", f"test-{n}"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        )
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    wait_until(
        lambda: all("Starting worker" in log.read_text() for log in logs),
        timeout=60,
        what="both workers started",
    )
    yield procs
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


@pytest.mark.parametrize("outage", ["stopped", "hanging"])
def test_mail_server_down_actions_stay_fast_and_every_mail_arrives_once_when_it_is_back(
    units: dict[str, Any],
    personas: dict[str, Any],
    workers: list[subprocess.Popen[bytes]],
    outage: str,
    tmp_path: Path,
) -> None:
    from aiosmtpd.controller import Controller

    # Given three tasks led by QLCN with two partner units, and the mail server down
    criterion = CriterionFactory()
    for n in range(3):
        plan_task(
            criterion, lead=[units["QLCN"]], partners=[units["QLTM"], units["ATNL"]], task=f"Nhiệm vụ {n}"
        )
    plan = criterion.section.appendix.plan
    hanging = None
    if outage == "hanging":  # accepts connections (the kernel's backlog), never says a word
        hanging = socket.create_server(("127.0.0.1", SMTP_PORT), backlog=64)
    try:
        office, staff = Client(), Client()
        office.force_login(personas["office_reviewer"])
        staff.force_login(personas["staff"])

        # When the office launches the period (the page, its preview, then the confirmation)
        # and QLCN's staff member submits a lead step
        launch_url, choice = reverse("workflow:launch"), {"plan": plan.pk, "period": "Q1"}
        assert office.get(launch_url).status_code == 200
        assert office.post(launch_url, choice).status_code == 200
        launch, launch_s = timed(lambda: office.post(launch_url, {**choice, "confirm": "1"}))
        assert launch.status_code == 302
        lead = Step.objects.filter(kind="lead").order_by("pk").first()
        url = reverse("workflow:step", args=[lead.pk])
        assert staff.post(url, {"action": "claim"}).status_code == 302
        report = {
            "action": "submit",
            "report-result": "Đã triển khai",
            "report-self_assessment": "done",
            "report-explanation": "Hồ sơ giấy",
            # both partners asked, ticked on the form as a person would (partners asked where needed)
            "report-partners_asked": [str(units["QLTM"].pk), str(units["ATNL"].pk)],
        }
        submit, submit_s = timed(lambda: staff.post(url, report))

        # Then both succeed, in normal time, with their mails queued
        assert submit.status_code == 302, submit.content.decode()[:500]
        lead.refresh_from_db()
        assert lead.state == Step.State.DONE
        assert launch_s < ACTION_BUDGET_S
        assert submit_s < ACTION_BUDGET_S
        ids = list(OutgoingMail.objects.values_list("pk", flat=True))
        # QLCN's two people, one mail each for the launch of three runs ("3 việc mới");
        # QLTM's and ATNL's for the partners
        assert len(ids) == 2 + 2
        # and the workers try, fail, and keep the mails for later
        wait_until(
            lambda: not OutgoingMail.objects.filter(last_error="").exists(),
            timeout=30,
            what="every mail tried and failed once while the server is down",
        )
        assert not OutgoingMail.objects.filter(status__in=["sent", "failed"]).exists()
        errors = set(OutgoingMail.objects.exclude(last_error="").values_list("last_error", flat=True))
        expected = "Connection refused" if outage == "stopped" else "timed out"
        assert errors and all(expected in e for e in errors), errors
    finally:
        if hanging is not None:
            hanging.close()

    # When the mail server is started again
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        wait_until(
            lambda: OutgoingMail.objects.filter(status="sent").count() == len(ids),
            timeout=60,
            what="every queued mail delivered",
        )
        time.sleep(2.5)  # a second delivery of anything would arrive by now (workers poll every 0.2 s)
    finally:
        controller.stop()

    # Then every queued mail arrived exactly once, with its one-line subject
    received = [email.message_from_bytes(raw, policy=email.policy.default) for raw in inbox.messages]
    assert Counter(int(m["X-CCHC-Mail"]) for m in received) == Counter(ids)
    subjects = dict(OutgoingMail.objects.values_list("pk", "subject"))
    for message in received:
        assert str(message["Subject"]).removeprefix(" ") == subjects[int(message["X-CCHC-Mail"])]
    assert all(w.poll() is None for w in workers), "a worker died: " + " ".join(
        (tmp_path / f"worker-{n}.log").read_text() for n in range(2)
    )

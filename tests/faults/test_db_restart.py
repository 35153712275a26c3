"""PostgreSQL "restarted" under load: the site keeps answering.

Three client threads GET a list page (the staff member's queue), 60 times each at least and
20 more after the fault; a third of the way through, every backend connection of the test database is terminated
(``pg_terminate_backend``: from the application's side the same as a server restart, and
harmless to anyone else's databases on the cluster). At most the requests in flight at
that moment may fail; every request started after it succeeds.

* live_server (Django's threaded test server): a connection per request, so this shows
  that a failed request leaves nothing broken behind;
* gunicorn (the production shape: 2 sync workers with persistent connections,
  CONN_MAX_AGE=60): the workers hold connections that are now dead; CONN_HEALTH_CHECKS
  makes each worker notice on its next request and reconnect.
* FAULTS_RESTART_PG=1 also runs the gunicorn case through a real
  ``pg_ctlcluster --skip-systemctl-redirect <version> main restart``. Off by default: it
  breaks every other session on the cluster (other people's test runs included).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.factories import CriterionFactory, periods, plan_task
from tests.faults.helpers import PYTHON, ROOT, subprocess_env
from workflow import services

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

THREADS, REQUESTS = 3, 60
PAGE = "workflow:my_steps"


@dataclass
class Outcome:
    started: float
    ended: float
    status: int | str  # HTTP status, or the exception's name


def _terminate_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [connection.settings_dict["NAME"]],
        )
        return cursor.fetchone()[0]


def _restart_cluster() -> int:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120
    )
    for _ in range(60):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False).returncode == 0:
            break
        time.sleep(0.5)
    connection.close()  # this process's own connection died with the server
    return -1


def _get(url: str, cookie: str) -> int | str:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


def _load(
    url: str, cookie: str, fault: Callable[[], int], *, idle: bool = False
) -> tuple[list[Outcome], float, float, int]:
    """Each of THREADS clients GETs the page at least REQUESTS times, and goes on until it has
    sent REQUESTS // 3 after the fault ended. ``fault`` runs once a third of the requests are
    done, while the others keep coming (or, ``idle``, once every client has stopped: no
    request in flight). Returns the outcomes, when the fault started and ended, its result."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    third, resume, fault_done = threading.Event(), threading.Event(), threading.Event()
    paused = threading.Semaphore(0)
    window: dict[str, Any] = {}

    def client() -> None:
        done = after = 0
        while done < REQUESTS or not fault_done.is_set() or after < REQUESTS // 3:
            if idle and done == REQUESTS // 3:
                paused.release()
                resume.wait(timeout=300)
            started = time.monotonic()
            status = _get(url, cookie)
            with lock:
                outcomes.append(Outcome(started, time.monotonic(), status))
                if len(outcomes) >= THREADS * REQUESTS // 3:
                    third.set()
            done += 1
            if fault_done.is_set() and started > window["end"]:
                after += 1

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    assert third.wait(timeout=120), "the first third of the requests did not finish"
    if idle:
        for _ in threads:
            assert paused.acquire(timeout=120)
    window["start"] = time.monotonic()
    window["result"] = fault()
    window["end"] = time.monotonic()
    fault_done.set()
    resume.set()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return outcomes, window["start"], window["end"], window["result"]


def _check(outcomes: list[Outcome], fault_start: float, fault_end: float, *, max_failures: int) -> None:
    assert len(outcomes) >= THREADS * REQUESTS
    failed = [o for o in outcomes if o.status != 200]
    assert len(failed) <= max_failures, failed
    # Only requests under way while the fault happened may fail ...
    assert all(o.started <= fault_end and o.ended >= fault_start for o in failed), failed
    # ... every request started after it succeeded.
    after = [o for o in outcomes if o.started > fault_end]
    assert len(after) >= THREADS * (REQUESTS // 3) and all(o.status == 200 for o in after)
    print(
        f"\nfault {fault_end - fault_start:.2f} s; {len(outcomes)} requests, {len(failed)} failed "
        f"({sorted({str(o.status) for o in failed})}), {len(after)} after the fault, all 200"
    )


@pytest.fixture
def session_cookie(units: dict[str, Any], personas: dict[str, Any]) -> str:
    """A logged-in staff member with a few open steps in the queue."""
    criterion = CriterionFactory()
    tasks = [plan_task(criterion, lead=[units["QLCN"]], task=f"Nhiệm vụ {i}") for i in range(4)]
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=tasks)
    client = Client()
    client.force_login(personas["staff"])
    assert client.get(reverse(PAGE)).status_code == 200
    return client.cookies["sessionid"].value


def test_live_server_requests_after_backends_are_terminated_succeed(live_server: Any, session_cookie: str):
    outcomes, start, end, killed = _load(live_server.url + reverse(PAGE), session_cookie, _terminate_backends)
    _check(outcomes, start, end, max_failures=THREADS * 2)
    print(f"terminated {killed} backends")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    """gunicorn on the test database, 2 sync workers, persistent connections (as in production)."""
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "config.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60"],
        cwd=ROOT,
        env=subprocess_env(CONN_MAX_AGE="60"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(base + reverse("login"), "") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.parametrize("idle", [False, True], ids=["under-load", "idle"])
def test_gunicorn_workers_reconnect_after_their_connections_are_terminated(
    idle: bool, gunicorn: str, session_cookie: str
):
    """Under load, a request in flight may fail. Idle: the workers' connections die while
    no request runs, and no request fails at all; this is where CONN_HEALTH_CHECKS counts
    (without it, each worker's first request after the fault fails)."""
    outcomes, start, end, killed = _load(
        gunicorn + reverse(PAGE), session_cookie, _terminate_backends, idle=idle
    )
    assert killed >= 1  # the workers' persistent connections were there, and are gone
    _check(outcomes, start, end, max_failures=0 if idle else THREADS * 2)


@pytest.mark.skipif(
    os.environ.get("FAULTS_RESTART_PG") != "1",
    reason="restarts the whole PostgreSQL cluster (breaks other sessions): set FAULTS_RESTART_PG=1",
)
def test_gunicorn_survives_a_real_cluster_restart(gunicorn: str, session_cookie: str):
    outcomes, start, end, _ = _load(gunicorn + reverse(PAGE), session_cookie, _restart_cluster)
    # While the server is down every request fails (fast); after it is back, none does.
    _check(outcomes, start, end, max_failures=len(outcomes))

"""The plan upload page in a browser: static/js/plan-upload.js shows the upload's progress, then
"Đang chờ xử lý…" / "Đang đọc tệp…" while the background job reads the file (it polls the
job's status), shows a refusal in place, and opens the preview once the file is read.

The job runs the way it does in production: on PostgreSQL a real ``manage.py db_worker`` runs
as a child process on the live server's database. On SQLite in memory another process cannot
see the test database, so there the test thread runs the queued job itself (with the worker's
own code, ``tests.jobs.run_queued_jobs``) once the page shows that it is waiting.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import ROOT
from tests.faults.helpers import PYTHON, sqlite_in_memory, subprocess_env
from tests.faults.test_hostile_imports import docx_tiny_elements
from tests.jobs import run_queued_jobs

pytestmark = pytest.mark.e2e

SEED_TXT = ROOT / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"
WAITING = "Đang chờ xử lý…"


@pytest.fixture
def worker(e2e_task: Any, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """What makes a queued parse job run: a real worker process, or (SQLite in memory) this thread."""
    if sqlite_in_memory():
        yield lambda: None if run_queued_jobs() else pytest.fail("no parse job was queued")
        return
    log_path = tmp_path / "worker.log"
    command = [PYTHON, "manage.py", "db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--worker-id", "e2e"], cwd=ROOT, env=subprocess_env(), stdout=log, stderr=log
        )
    deadline = time.monotonic() + 60
    while "Starting worker" not in log_path.read_text(errors="replace"):
        assert proc.poll() is None, log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)
    yield lambda: None  # it runs the jobs by itself
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_the_upload_page_waits_for_the_job_refuses_a_hostile_file_in_place_then_previews_the_seed(
    story: Any, person: Any, e2e_task: Any, worker: Callable[[], None]
) -> None:
    office = person("vanphong")
    page, expect = office.page, office.expect
    file_input = page.get_by_label("Tệp kế hoạch (.docx, .doc, .odt hoặc .txt) hoặc bảng tính (.xlsx)")
    in_memory = sqlite_in_memory()

    with story.step("hostile-file-refused-in-place"):
        office.nav("Nhập kế hoạch")
        upload_url = page.url
        status = page.locator("[data-upload-status]")
        expect(status).to_be_hidden()
        file_input.set_input_files(
            files=[
                {
                    "name": "ke-hoach.docx",
                    "mimeType": "application/octet-stream",
                    "buffer": docx_tiny_elements(),
                }
            ]
        )
        page.evaluate("window.stillThisPage = true")  # gone if the browser loaded another page
        office.click("Đọc tệp và xem trước")
        if in_memory:
            expect(page.locator("[data-upload-label]")).to_have_text(WAITING)
            worker()
        expect(page.locator("main .errorlist[role=alert]")).to_contain_text("có quá nhiều phần tử XML")
        assert page.url == upload_url
        assert page.evaluate("window.stillThisPage === true")  # shown in place, by the script
        expect(page.get_by_role("button", name="Đọc tệp và xem trước")).to_be_enabled()

    with story.step("seed-read-then-preview"):
        file_input.set_input_files(str(SEED_TXT))
        office.click("Đọc tệp và xem trước")
        if in_memory:
            expect(page.locator("[data-upload-label]")).to_have_text(WAITING)
            worker()
        page.wait_for_url("**/nhap/*/")
        office.sees_heading(f"Xem trước: “{SEED_TXT.name}”")
        expect(page.locator("dl.facts").first).to_contain_text("77 nhiệm vụ")

    assert story.problems() == []

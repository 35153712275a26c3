"""The plan page and the plan file import (upload -> preview -> confirm) through the test client."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from audit.models import AuditEvent
from plans.models import (
    Plan,
    PlanTask,
    PlanUpload,
)
from tests import helpers
from tests.helpers import CONFIRM, PLAN_TABLES, PREVIEW, UPLOAD, uploads
from tests.jobs import run_queued_jobs

SEED_TXT = helpers.SEED_TXT.read_bytes()
SEED_DOCX = helpers.SEED_DOCX.read_bytes()
CANCEL = reverse("plans:upload_cancel")
UNKNOWN_UNIT_TXT = (
    SEED_TXT.decode("utf-8")
    .replace(
        "\tPhòng Quản lý công nghiệp\n\tCác phòng, đơn vị thuộc sở",
        "\tSở Tài chính\n\tCác phòng, đơn vị thuộc sở",
    )
    .encode("utf-8")
)


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    """Uploads go to a fresh var/ per test."""
    settings.VAR_DIR = tmp_path
    return tmp_path


def nothing_written() -> bool:
    # Creating the personas records their memberships and roles; nothing else may be written.
    plan_events = AuditEvent.objects.exclude(action__in=["membership_changed", "role_changed"])
    return all(model.objects.count() == 0 for model in PLAN_TABLES if model is not AuditEvent) and (
        not plan_events.exists()
    )


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def upload(client: Client, data: bytes, name: str = "ke-hoach.txt", *, run: bool = True, **extra: Any) -> Any:
    """Post the file; then (``run``) the parse job runs, as ``manage.py db_worker`` would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(UPLOAD, {"file": SimpleUploadedFile(name, data), **extra})
    if run:
        run_queued_jobs()
    return response


def status_url(upload: PlanUpload) -> str:
    return reverse("plans:upload_status", args=[upload.pk])


def file_errors(response: Any) -> list[str]:
    return list(response.context["form"].errors.get("file", []))


# --- Who may import ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_from_the_plan_and_the_upload(client: Client, db: Any) -> None:
    for url in (reverse("plans:plan"), UPLOAD, PREVIEW):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(UPLOAD, {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_office_reviewer_sees_the_upload_form(client: Client, personas: dict[str, Any]) -> None:
    response = login(client, personas["office_reviewer"]).get(UPLOAD)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-busy="Đang đọc tệp…"' in content
    assert 'enctype="multipart/form-data"' in content
    assert "Tệp kế hoạch (.docx, .doc, .odt hoặc .txt)" in content


@pytest.mark.parametrize("persona", ["staff", "unit_head", "director", "deputy", "auditor"])
def test_everyone_else_gets_403_on_every_import_step(
    client: Client, personas: dict[str, Any], persona: str, var_dir: Path
) -> None:
    login(client, personas[persona])
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, SEED_TXT).status_code == 403
    assert client.get(PREVIEW).status_code == 403
    assert client.post(CONFIRM).status_code == 403
    assert client.post(CANCEL).status_code == 403
    assert nothing_written()
    assert uploads(var_dir) == []


# --- Bad files --------------------------------------------------------------------------------

BAD_FILES = [
    pytest.param(b"", "ke-hoach.txt", "Tệp rỗng: không có nội dung để nhập.", id="empty"),
    pytest.param(
        SEED_TXT, "ke-hoach.pdf", "Chỉ nhận tệp Word (.docx, .doc), OpenDocument (.odt)", id="wrong-extension"
    ),
    pytest.param(
        SEED_DOCX, "ke-hoach.txt", "Tệp có đuôi .txt nhưng nội dung là tệp nén", id="docx-named-txt"
    ),
    pytest.param(
        SEED_TXT[:120] + b"\xc3\x28" + SEED_TXT[120:],
        "ke-hoach.txt",
        "Tệp không phải văn bản UTF-8. Hãy lưu lại văn bản với mã UTF-8 rồi tải lên lại.",
        id="invalid-utf8",
    ),
    pytest.param(
        SEED_TXT.decode("utf-8").encode("utf-16"),
        "ke-hoach.txt",
        "Tệp đang ở mã UTF-16; hãy lưu lại văn bản với mã UTF-8 rồi tải lên lại.",
        id="utf16",
    ),
    pytest.param(
        SEED_DOCX[: len(SEED_DOCX) // 2],
        "ke-hoach.docx",
        "Tệp .docx bị hỏng hoặc không trọn vẹn (thiếu phần cuối của tệp nén).",
        id="truncated-docx",
    ),
    pytest.param(b"Xin chao", "ke-hoach.txt", "Không tìm thấy phụ lục nào trong tệp", id="no-appendix"),
]


@pytest.mark.parametrize(("data", "name", "message"), BAD_FILES[:2])
def test_an_empty_or_misnamed_upload_is_a_form_error_with_nothing_queued(
    client: Client, personas: dict[str, Any], var_dir: Path, data: bytes, name: str, message: str
) -> None:
    login(client, personas["office_reviewer"])
    response = upload(client, data, name, run=False)
    assert response.status_code == 400
    errors = file_errors(response)
    assert len(errors) == 1
    assert errors[0].startswith(message)
    assert not PlanUpload.objects.exists()
    assert DBTaskResult.objects.count() == 0
    assert uploads(var_dir) == []
    assert "plan_upload" not in client.session


@pytest.mark.parametrize(("data", "name", "message"), BAD_FILES[2:])
def test_bad_upload_is_refused_by_the_job_with_a_vietnamese_message_and_nothing_written(
    client: Client, personas: dict[str, Any], var_dir: Path, data: bytes, name: str, message: str
) -> None:
    # given the office reviewer
    login(client, personas["office_reviewer"])
    # when they upload a bad file and the job reads it
    response = upload(client, data, name)
    row = PlanUpload.objects.get()
    assert response["Location"] == status_url(row)
    # then the upload is refused with why, its page shows the form and the message, nothing is kept
    assert row.status == PlanUpload.Status.REFUSED
    assert row.message.startswith(message)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert message in page.content.decode()
    assert 'name="file"' in page.content.decode()
    assert client.get(reverse("plans:upload_status_json", args=[row.pk])).json()["status"] == "refused"
    assert nothing_written()
    assert uploads(var_dir) == []
    assert row.token == ""


def test_too_large_upload_is_refused_before_any_parser_runs(
    client: Client, personas: dict[str, Any], var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parser_must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the parser ran")

    monkeypatch.setattr("plans.uploads.parse_upload_bounded", parser_must_not_run)
    login(client, personas["office_reviewer"])
    big = SEED_TXT + b" " * (10 * 1024 * 1024 + 1 - len(SEED_TXT))
    response = upload(client, big, run=False)
    assert response.status_code == 400
    assert DBTaskResult.objects.count() == 0
    assert file_errors(response) == ["Tệp quá lớn (10,0 MB); tối đa 10 MB."]
    assert nothing_written()
    assert uploads(var_dir) == []


def test_missing_file_is_a_form_error(client: Client, personas: dict[str, Any]) -> None:
    response = login(client, personas["office_reviewer"]).post(UPLOAD, {})
    assert response.status_code == 400
    assert file_errors(response) == ["Hãy chọn tệp kế hoạch."]


# --- Preview and confirm ----------------------------------------------------------------------


def test_upload_preview_confirm_imports_the_plan(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    reviewer = personas["office_reviewer"]
    login(client, reviewer)
    # when the seed is uploaded
    response = upload(client, SEED_DOCX, "ke-hoach-cchc-2024-phu-luc.docx", run=False)
    # then the browser goes to the upload's page, the bytes wait under a random token
    row = PlanUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == status_url(row)
    assert uploads(var_dir) == [f"{row.token}.bin"]
    assert client.session["plan_upload"] == {"upload": row.pk}
    assert (row.status, row.uploaded_by, row.sha256) == (
        "queued",
        reviewer,
        hashlib.sha256(SEED_DOCX).hexdigest(),
    )
    # which waits for the job
    waiting = client.get(response["Location"])
    assert "Đang chờ xử lý…" in waiting.content.decode()
    assert "data-upload-poll" in waiting.content.decode()
    assert nothing_written()
    # the job reads it: the parsed plan waits as JSON, the bytes sent are gone
    assert run_queued_jobs() == 1
    row.refresh_from_db()
    assert row.status == "done"
    assert row.summary == {"tasks": 77, "appendices": [[1, 21], [2, 19], [3, 26], [4, 11]], "unresolved": 0}
    assert uploads(var_dir) == [f"{row.token}.json"]
    assert nothing_written()

    # the upload's page (and the session's preview) shows the whole plan and what the import would do
    assert client.get(status_url(row)).context["report"] is not None
    response = client.get(PREVIEW)
    assert response.status_code == 200
    assert [t.task_count for t in response.context["tables"]] == [21, 19, 26, 11]
    report = response.context["report"]
    assert (len(report.added), len(report.changed), len(report.removed)) == (77, 0, 0)
    assert response.context["can_confirm"] is True
    content = response.content.decode()
    assert "Tạo kế hoạch mới năm 2024." in content
    assert 'class="inherited"' in content
    assert "Xác nhận nhập</button>" in content
    assert nothing_written()

    # when confirmed
    response = client.post(CONFIRM)
    # then the plan is written, the file and the session entry are gone
    plan = Plan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('plans:plan')}?plan={plan.pk}"
    assert plan.tasks.count() == 77
    assert plan.source_name == "ke-hoach-cchc-2024-phu-luc.docx"
    assert plan.source_sha256 == hashlib.sha256(SEED_DOCX).hexdigest()
    assert uploads(var_dir) == []
    assert "plan_upload" not in client.session
    row.refresh_from_db()
    assert (row.status, row.token) == ("imported", "")
    event = AuditEvent.objects.get(action="plan_imported")
    assert (event.action, event.actor) == ("plan_imported", reviewer)
    page = client.get(response["Location"])
    assert "Đã nhập 77 nhiệm vụ vào “Kế hoạch cải cách hành chính năm 2024”: thêm 77, sửa 0, xóa 0." in (
        page.content.decode()
    )

    # and the same file again previews as "no change"
    upload(client, SEED_DOCX, "ke-hoach-cchc-2024-phu-luc.docx")
    response = client.get(PREVIEW)
    report = response.context["report"]
    assert (len(report.added), len(report.changed), len(report.removed)) == (0, 0, 0)
    assert "nhập lại không thay đổi gì" in response.content.decode()


def test_upload_with_year_imports_into_that_year(client: Client, personas: dict[str, Any]) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, year="2025")
    assert client.post(CONFIRM).status_code == 302
    assert list(Plan.objects.values_list("year", flat=True)) == [2025]


def test_unresolved_units_are_flagged_and_confirm_is_refused(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    login(client, personas["office_reviewer"])
    # given a file naming a unit the department does not have
    assert upload(client, UNKNOWN_UNIT_TXT).status_code == 302
    assert PlanUpload.objects.get().summary["unresolved"] == 1
    # then the preview flags it in red with its line, and Confirm is disabled
    response = client.get(PREVIEW)
    assert response.status_code == 200
    assert response.context["unresolved"] == [(441, "Sở Tài chính")]
    assert response.context["can_confirm"] is False
    content = response.content.decode()
    assert '<li class="unresolved">Dòng 441: “Sở Tài chính”</li>' in content
    assert '<div class="unresolved">Không nhận ra đơn vị “Sở Tài chính” (dòng 441)</div>' in content
    assert 'disabled title="Không thể nhập khi tệp còn lỗi">Xác nhận nhập' in content
    # when confirmed anyway
    response = client.post(CONFIRM)
    # then 400 with the message, nothing written, the file still waiting for a fix or cancel
    assert response.status_code == 400
    assert "Không thể nhập: còn 1 tên đơn vị không nhận ra (tô đỏ bên dưới)." in response.content.decode()
    assert nothing_written()
    assert len(uploads(var_dir)) == 1
    # cancel removes it
    assert client.post(CANCEL).status_code == 302
    assert uploads(var_dir) == []
    assert "plan_upload" not in client.session
    assert PlanUpload.objects.get().status == "cancelled"


def test_a_new_upload_replaces_the_waiting_one(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT)
    first = uploads(var_dir)
    upload(client, SEED_DOCX, "ke-hoach.docx")
    second = uploads(var_dir)
    assert len(first) == len(second) == 1
    assert first != second
    assert list(PlanUpload.objects.order_by("pk").values_list("status", flat=True)) == ["cancelled", "done"]


@pytest.mark.parametrize(
    "pending",
    [
        {"token": "../../secret_key", "name": "x.txt", "sha256": ""},
        {"upload": "1"},
        {"upload": 999999},
        {"upload": True},
        "not a dict",
    ],
)
def test_confirm_without_a_valid_waiting_upload_goes_back_to_the_form(
    client: Client, personas: dict[str, Any], pending: Any
) -> None:
    login(client, personas["office_reviewer"])
    session = client.session
    session["plan_upload"] = pending
    session.save()
    for response in (client.get(PREVIEW), client.post(CONFIRM)):
        assert response.status_code == 302
        assert response["Location"] == UPLOAD
    assert nothing_written()


def test_confirm_refuses_a_file_changed_on_disk(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT)
    (var_dir / "uploads" / uploads(var_dir)[0]).write_bytes(b'{"appendices": []}')
    response = client.post(CONFIRM)
    assert response.status_code == 302
    assert response["Location"] == UPLOAD
    assert nothing_written()


def test_confirm_needs_post(client: Client, personas: dict[str, Any]) -> None:
    login(client, personas["office_reviewer"])
    assert client.get(CONFIRM).status_code == 405


# --- The plan page ----------------------------------------------------------------------------


def import_through_the_page(client: Client, reviewer: Any, data: bytes = SEED_TXT) -> Plan:
    login(client, reviewer)
    upload(client, data)
    client.post(CONFIRM)
    return Plan.objects.order_by("-pk").first()  # type: ignore[return-value]


def task_keys(response: Any) -> list[str]:
    return [r.key for t in response.context["tables"] for r in t.rows if r.kind == "task"]


def test_plan_page_without_a_plan_says_so(client: Client, personas: dict[str, Any]) -> None:
    response = login(client, personas["office_reviewer"]).get(reverse("plans:plan"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Chưa có kế hoạch nào." in content
    assert reverse("plans:upload") in content


def test_plan_page_shows_the_tables_with_inherited_cells_marked(
    client: Client, personas: dict[str, Any]
) -> None:
    import_through_the_page(client, personas["office_reviewer"])
    # when a staff member opens the plan
    response = login(client, personas["staff"]).get(reverse("plans:plan"))
    # then every task is there, in the document's order, under its appendix
    assert response.status_code == 200
    assert response.context["shown"] == 77
    assert task_keys(response)[:3] == ["1/I/-/1/1", "1/II/-/1/1", "1/II/-/2/1"]
    content = response.content.decode()
    # each inherited cell is highlighted (only appendices 1 and 2 show a target column)
    inherited = sum(len(t.inherited) for t in PlanTask.objects.all())
    assert content.count('class="inherited"') == inherited
    assert content.count('<th scope="col">Mục tiêu năm 2024</th>') == 2
    assert content.count('<table class="grid plan-table">') == 4
    assert '<tr class="section"><td>II</td><td colspan="6">CẢI CÁCH THỂ CHẾ</td></tr>' in content
    assert '<tr class="group"><td>1</td><td colspan="5">' in content
    # the timeline kind is shown only where it says more than the plan's words
    assert content.count('<span class="pill orange">Trong năm</span>') == 5
    assert '<span class="pill blue">' not in content
    # TC 7.1 of appendix 2 spans its two task rows
    assert '<td rowspan="2">TC 7.1. Kết quả Chỉ số hài lòng về sự phục vụ hành chính</td>' in content


def test_plan_param_chooses_the_plan_and_the_newest_is_the_default(
    client: Client, personas: dict[str, Any]
) -> None:
    reviewer = personas["office_reviewer"]
    old = import_through_the_page(client, reviewer)
    login(client, reviewer)
    upload(client, SEED_TXT, year="2025")
    client.post(CONFIRM)
    new = Plan.objects.get(year=2025)
    assert client.get(reverse("plans:plan")).context["plan"] == new
    assert client.get(reverse("plans:plan"), {"plan": old.pk}).context["plan"] == old
    response = client.get(reverse("plans:plan"), {"plan": "9999"})
    assert response.context["plan"] == new
    assert "Không tìm thấy kế hoạch đã chọn" in response.content.decode()
    # the picker lists every plan, newest first, with the shown one selected
    content = client.get(reverse("plans:plan"), {"plan": old.pk}).content.decode()
    assert f'<option value="{new.pk}">2025 – {new.title}</option>' in content
    assert f'<option value="{old.pk}" selected>{old.year} – {old.title}</option>' in content
    assert content.index(f'value="{new.pk}"') < content.index(f'value="{old.pk}"')
    # the chosen plan is a whole one (its import time is shown), whichever way it was chosen
    for params in ({}, {"plan": old.pk}, {"plan": "²"}, {"plan": "9" * 30}):
        response = client.get(reverse("plans:plan"), params)
        assert response.status_code == 200
        shown = response.context["plan"]
        assert shown == (old if params.get("plan") == old.pk else new)
        assert shown.imported_at is not None
        assert shown.imported_at == Plan.objects.get(pk=shown.pk).imported_at
        assert f"nhập từ tệp “{shown.source_name}” lúc" in response.content.decode()


def test_plan_page_total_without_filters_is_every_task(client: Client, personas: dict[str, Any]) -> None:
    import_through_the_page(client, personas["office_reviewer"])
    login(client, personas["staff"])
    response = client.get(reverse("plans:plan"))
    assert (response.context["shown"], response.context["total"]) == (77, 77)
    assert "77 nhiệm vụ." in response.content.decode()
    response = client.get(reverse("plans:plan"), {"appendix": "2"})
    assert (response.context["shown"], response.context["total"]) == (19, 77)
    assert "Tìm thấy <strong>19</strong> trên 77 nhiệm vụ." in response.content.decode()


# --- Admin ------------------------------------------------------------------------------------


def test_admin_pages_open_and_task_search_ignores_diacritics(
    client: Client, personas: dict[str, Any], django_user_model: Any
) -> None:
    import_through_the_page(client, personas["office_reviewer"])
    admin_user = django_user_model.objects.create_superuser("quantri", "qt@sct.local", "pw-test-123")
    client.force_login(admin_user)
    for name in ("unit", "membership", "plan", "reportingperiod", "plantask"):
        assert client.get(reverse(f"admin:plans_{name}_changelist")).status_code == 200, name
    unit = personas["staff"].membership.unit
    assert client.get(reverse("admin:plans_unit_change", args=[unit.pk])).status_code == 200
    task = PlanTask.objects.get(key="3/I/3/3.4/1")
    assert client.get(reverse("admin:plans_plantask_change", args=[task.pk])).status_code == 200
    assert client.get(reverse("admin:plans_plantask_add")).status_code == 403
    response = client.get(reverse("admin:plans_plantask_changelist"), {"q": "ĐIỆN SINH HOẠT"})
    assert [t.key for t in response.context["cl"].result_list] == [
        "3/I/3/3.4/1",
        "3/I/4/4.3/1",
        "4/-/5/5.1/1",
    ]


def test_abandoned_uploads_are_removed_by_the_next_upload(
    client: Client, personas: dict[str, Any], var_dir: Path, settings: Any
) -> None:
    import os

    stale = var_dir / "uploads" / f"{'ab' * 16}.bin"
    fresh = var_dir / "uploads" / f"{'cd' * 16}.bin"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    fresh.write_bytes(b"recent")
    old_time = stale.stat().st_mtime - settings.SESSION_MAX_AGE_SECONDS - 60
    os.utime(stale, (old_time, old_time))
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, run=False)
    kept = uploads(var_dir)
    assert stale.name not in kept
    assert fresh.name in kept
    assert len(kept) == 2


def test_the_upload_page_script_gets_the_preview_address_and_the_refusal_page(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, personas["office_reviewer"])
    content = client.get(UPLOAD).content.decode()
    assert "js/plan-upload.js" in content and "data-plan-upload" in content
    assert 'data-upload-status role="status" aria-live="polite" hidden' in content
    # a file sent: 202 at once, with where to ask for the job's status and the page to open
    ajax = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
    response = client.post(UPLOAD, {"file": SimpleUploadedFile("ke-hoach.txt", SEED_TXT)}, **ajax)
    row = PlanUpload.objects.get()
    poll = reverse("plans:upload_status_json", args=[row.pk])
    waiting = {"status": "queued", "waiting": True, "label": "Đang chờ xử lý…", "message": ""}
    assert response.status_code == 202
    assert response.json() == {**waiting, "poll": poll, "page": status_url(row)}
    assert client.get(poll).json() == response.json()
    assert len(uploads(var_dir)) == 1
    # while the job runs, "Đang đọc tệp…"
    PlanUpload.objects.filter(pk=row.pk).update(status="parsing")
    assert client.get(poll).json()["label"] == "Đang đọc tệp…"
    PlanUpload.objects.filter(pk=row.pk).update(status="queued")
    run_queued_jobs()
    assert client.get(poll).json()["status"] == "done"
    # a form refusal (no file): the same 400 page as without the script, which shows it in place
    response = client.post(UPLOAD, {}, **ajax)
    assert response.status_code == 400
    assert "Hãy chọn tệp kế hoạch." in response.content.decode()


# --- The parse job ----------------------------------------------------------------------------


def test_the_upload_enqueues_exactly_one_parse_job_and_returns_before_any_parse(
    client: Client, personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def parser_must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the web request parsed the file")

    monkeypatch.setattr("plans.uploads.parse_upload_bounded", parser_must_not_run)
    login(client, personas["office_reviewer"])
    response = upload(client, SEED_TXT, run=False)
    row = PlanUpload.objects.get()
    assert response["Location"] == status_url(row)
    job = DBTaskResult.objects.get()
    assert job.task_path == "plans.tasks.parse_plan_upload"
    assert job.args_kwargs["kwargs"] == {"upload_id": row.pk}
    assert row.status == "queued"


def test_an_upload_whose_transaction_rolls_back_leaves_no_row_no_job_and_no_file(
    client: Client, personas: dict[str, Any], var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    def queue_down(**kwargs: Any) -> Any:
        assert PlanUpload.objects.count() == 1  # the row is written, in the same transaction
        raise RuntimeError("queue down")

    monkeypatch.setattr("plans.tasks.parse_plan_upload", SimpleNamespace(enqueue=queue_down))
    login(client, personas["office_reviewer"])
    client.raise_request_exception = False
    assert upload(client, SEED_TXT, run=False).status_code == 500
    assert not PlanUpload.objects.exists()
    assert DBTaskResult.objects.count() == 0
    assert uploads(var_dir) == []


def test_a_crashing_parse_job_marks_the_upload_failed_and_a_new_upload_works(
    client: Client, personas: dict[str, Any], var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plans import uploads as plan_uploads

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("worker trouble")

    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, run=False)
    row = PlanUpload.objects.get()
    monkeypatch.setattr("plans.uploads.parse_upload_bounded", crash)
    with pytest.raises(MemoryError):
        plan_uploads.upload_parse(upload_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.message, row.token) == ("failed", plan_uploads.FAILED_MESSAGE, "")
    assert uploads(var_dir) == []
    assert nothing_written()
    page = client.get(status_url(row)).content.decode()
    assert plan_uploads.FAILED_MESSAGE in page
    assert client.post(CONFIRM).status_code == 302
    assert nothing_written()
    # running the job again does nothing; uploading again works
    assert plan_uploads.upload_parse(upload_id=row.pk) == "skipped"
    monkeypatch.undo()
    DBTaskResult.objects.all().delete()
    upload(client, SEED_TXT)
    assert client.get(PREVIEW).context["can_confirm"] is True
    assert client.post(CONFIRM).status_code == 302
    assert Plan.objects.get().tasks.count() == 77


def test_a_job_that_lost_its_worker_shows_as_failed_after_ten_minutes(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    import time_machine
    from django.utils import timezone

    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, run=False)
    row = PlanUpload.objects.get()
    PlanUpload.objects.filter(pk=row.pk).update(status="parsing", started_at=timezone.now())
    poll = reverse("plans:upload_status_json", args=[row.pk])
    assert client.get(poll).json()["label"] == "Đang đọc tệp…"
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
        data = client.get(poll).json()
    assert (data["status"], data["waiting"]) == ("failed", False)
    assert uploads(var_dir) == []


def test_cancel_while_the_job_waits_keeps_nothing(
    client: Client, personas: dict[str, Any], var_dir: Path
) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, run=False)
    assert client.post(CANCEL).status_code == 302
    run_queued_jobs()
    assert PlanUpload.objects.get().status == "cancelled"
    assert uploads(var_dir) == []
    assert nothing_written()


# --- Who sees an upload's status --------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "unit_head", "director", "deputy", "auditor"])
def test_an_upload_status_is_404_to_everyone_but_the_uploader_and_the_office(
    client: Client, personas: dict[str, Any], persona: str
) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT)
    row = PlanUpload.objects.get()
    login(client, personas[persona])
    assert client.get(status_url(row)).status_code == 404
    assert client.get(reverse("plans:upload_status_json", args=[row.pk])).status_code == 404
    assert client.get(reverse("plans:upload_status", args=[row.pk + 1])).status_code == 404


def test_an_upload_status_sends_anonymous_to_login(client: Client, personas: dict[str, Any]) -> None:
    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT, run=False)
    row = PlanUpload.objects.get()
    client.logout()
    for url in (status_url(row), reverse("plans:upload_status_json", args=[row.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_another_office_member_sees_the_preview_read_only_and_cannot_confirm_it(
    client: Client, personas: dict[str, Any], django_user_model: Any
) -> None:
    from django.contrib.auth.models import Group

    from plans.roles import OFFICE_REVIEWER

    login(client, personas["office_reviewer"])
    upload(client, SEED_TXT)
    row = PlanUpload.objects.get()
    colleague = django_user_model.objects.create_user("vp2", password="x")
    colleague.groups.add(Group.objects.get(name=OFFICE_REVIEWER))
    other = Client()
    login(other, colleague)
    response = other.get(status_url(row))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Xác nhận nhập</button>" not in content
    assert "chỉ người tải lên mới xác nhận nhập được" in content
    # their confirm names their own session's upload, which they have none of
    assert other.post(CONFIRM)["Location"] == UPLOAD
    assert other.get(PREVIEW)["Location"] == UPLOAD
    assert nothing_written()
    assert PlanUpload.objects.get().status == "done"

"""The plan pages: the plan table (everyone) and the plan file import (office reviewer).

Import is three steps: upload (checked, parsed), preview (the whole parsed plan and what
the import would change, from a dry run), confirm (parsed again and written). Between
them the uploaded bytes wait in var/uploads/<random token>.bin, named only by the
session, never by anything the client sends.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans.forms import PlanFilterForm, PlanUploadForm
from plans.models import PlanTask, Unit
from plans.parsing import ParsedPlan, PlanParseError
from plans.selectors import plan_pick, plan_tasks_for_page, tables_from_parsed
from plans.services import ImportReport, PlanImportError, plan_import, unit_directory
from plans.xlsx import parse_plan_upload as parse_plan_file  # .txt, .docx and .xlsx uploads

SESSION_KEY = "plan_upload"
_TOKEN = re.compile(r"[0-9a-f]{32}")


@login_required
@require_GET
def plan_page(request: HttpRequest) -> HttpResponse:
    """The plan as its tables, with filters and a search that ignores diacritics."""
    raw_plan = request.GET.get("plan")
    plan, plan_options = plan_pick(raw_plan)
    if raw_plan and plan is not None and str(plan.pk) != raw_plan:
        messages.warning(request, "Không tìm thấy kế hoạch đã chọn; đang hiển thị kế hoạch mới nhất.")
    if plan is None:
        return render(request, "plans/plan.html", {"plan": None, "plan_options": plan_options})
    numbers = list(plan.appendices.order_by("number").values_list("number", flat=True))
    form = PlanFilterForm(request.GET or None, appendix_numbers=numbers)
    if form.is_bound and not form.is_valid():
        problems = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.warning(request, f"Đã bỏ qua bộ lọc không hợp lệ: {problems}")
    filters = form.filters()
    tables = plan_tasks_for_page(plan, filters)
    shown = sum(t.task_count for t in tables)
    # Each task's status in a period of the plan, by the one counting rule.
    from workflow.counting import plan_tables_with_statuses

    results = plan_tables_with_statuses(plan, tables, request.GET.get("period"), timezone.localdate())
    return render(
        request,
        "plans/plan.html",
        {
            "results": results,
            "plan": plan,
            "plan_options": plan_options,
            "form": form,
            "filters": filters,
            "tables": tables,
            "shown": shown,
            # Unfiltered, the tables hold every task: no need to count them again.
            "total": PlanTask.objects.filter(plan=plan).count() if filters.active else shown,
        },
        # A period the URL names that is not one of the plan's: the page says so (404).
        status=404 if results.unknown else 200,
    )


# --- Import -----------------------------------------------------------------------------------


def _require_importer(request: HttpRequest) -> None:
    if not request.user.has_perm("plans.import_plan"):
        raise PermissionDenied("Chỉ Văn phòng Sở (đầu mối CCHC) được nhập kế hoạch.")


def _upload_dir() -> Path:
    return Path(settings.VAR_DIR) / "uploads"


def _upload_path(token: str) -> Path:
    if not _TOKEN.fullmatch(token):
        raise ValueError("bad upload token")
    return _upload_dir() / f"{token}.bin"


def _upload_store(data: bytes) -> str:
    directory = _upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    # Previews abandoned without Confirm or Cancel: gone once no session can still name them.
    stale_before = time.time() - settings.SESSION_MAX_AGE_SECONDS
    for old in directory.glob("*.bin"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < stale_before:
                old.unlink()
    token = secrets.token_hex(16)
    path = _upload_path(token)
    with path.open("xb") as fh:
        fh.write(data)
    path.chmod(0o600)
    return token


def _upload_discard(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if (
        isinstance(pending, dict)
        and isinstance(pending.get("token"), str)
        and _TOKEN.fullmatch(pending["token"])
    ):
        _upload_path(pending["token"]).unlink(missing_ok=True)


def _pending(request: HttpRequest) -> tuple[dict[str, Any], bytes] | None:
    """The upload this session is working on and its bytes, if still intact."""
    pending = request.session.get(SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    token = pending.get("token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    try:
        data = _upload_path(token).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != pending.get("sha256"):
        return None
    return pending, data


@login_required
@require_http_methods(["GET", "POST"])
def plan_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: choose the file; it is checked and parsed before anything is kept."""
    _require_importer(request)
    if request.method == "GET":
        return render(request, "plans/upload.html", {"form": PlanUploadForm()})
    form = PlanUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "plans/upload.html", {"form": form}, status=400)
    upload = form.cleaned_data["file"]
    name = PurePath(upload.name).name
    data = upload.read()
    try:
        parse_plan_file(name, data, unit_directory())
    except PlanParseError as exc:
        form.add_error("file", exc.message)
        return render(request, "plans/upload.html", {"form": form}, status=400)
    _upload_discard(request)
    request.session[SESSION_KEY] = {
        "token": _upload_store(data),
        "name": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "year": form.cleaned_data.get("year"),
    }
    return redirect("plans:upload_preview")


def _preview(
    request: HttpRequest, pending: dict[str, Any], data: bytes, *, error: str = "", status: int = 200
) -> HttpResponse:
    parsed: ParsedPlan | None = None
    report: ImportReport | None = None
    try:
        parsed = parse_plan_file(pending["name"], data, unit_directory())
        report = plan_import(
            parsed=parsed,
            year=pending.get("year"),
            source_name=pending["name"],
            source_sha256=pending["sha256"],
            dry_run=True,
        )
    except (PlanParseError, PlanImportError) as exc:
        error = error or exc.message
    context = {
        "pending": pending,
        "parsed": parsed,
        "report": report,
        "tables": tables_from_parsed(parsed, Unit.objects.all()) if parsed else [],
        "unresolved": parsed.unresolved if parsed else [],
        "error": error,
        "can_confirm": report is not None and not error,
    }
    return render(request, "plans/preview.html", context, status=status)


@login_required
@require_GET
def plan_upload_preview(request: HttpRequest) -> HttpResponse:
    """Step 2: the whole parsed plan, its unresolved unit names, what the import would change."""
    _require_importer(request)
    found = _pending(request)
    if found is None:
        messages.warning(request, "Không còn tệp đang chờ nhập. Hãy chọn lại tệp.")
        return redirect("plans:upload")
    return _preview(request, *found)


@login_required
@require_POST
def plan_upload_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: parse the kept bytes again and write them, in one transaction."""
    _require_importer(request)
    found = _pending(request)
    if found is None:
        messages.warning(request, "Không còn tệp đang chờ nhập. Hãy chọn lại tệp.")
        return redirect("plans:upload")
    pending, data = found
    try:
        parsed = parse_plan_file(pending["name"], data, unit_directory())
        if parsed.unresolved:
            raise PlanImportError(
                f"Không thể nhập: còn {len(parsed.unresolved)} tên đơn vị không nhận ra (tô đỏ bên dưới)."
            )
        report = plan_import(
            parsed=parsed,
            year=pending.get("year"),
            source_name=pending["name"],
            source_sha256=pending["sha256"],
            actor=request.user,
        )
    except (PlanParseError, PlanImportError) as exc:
        return _preview(request, pending, data, error=exc.message, status=400)
    _upload_discard(request)
    assert report.plan is not None
    if report.has_changes:
        messages.success(
            request,
            f"Đã nhập {report.tasks} nhiệm vụ vào “{report.plan.title}”: thêm {len(report.added)}, "
            f"sửa {len(report.changed)}, xóa {len(report.removed)}.",
        )
    else:
        messages.info(request, "Tệp giống hệt kế hoạch đang có: không có gì thay đổi.")
    return redirect(f"{reverse('plans:plan')}?plan={report.plan.pk}")


@login_required
@require_POST
def plan_upload_cancel(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    _upload_discard(request)
    messages.info(request, "Đã hủy, tệp tải lên đã được xóa.")
    return redirect("plans:upload")

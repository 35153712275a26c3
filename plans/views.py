"""The plan pages: the plan table (everyone) and the plan file import (office reviewer).

Import is three steps: upload (checked, parsed), preview (the whole parsed plan and what
the import would change, from a dry run), confirm (parsed again and written). Every parse
runs in a bounded child process (``plans.parsing.parse_upload_bounded``); between the
steps the bytes wait in ``plans.staging``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans import hooks, staging
from plans.access import capabilities
from plans.forms import PlanFilterForm, PlanUploadForm
from plans.models import PlanTask, Unit
from plans.parsing import ParsedPlan, PlanParseError, parse_upload_bounded
from plans.parsing.rules import base_name
from plans.selectors import plan_pick, plan_tasks_for_page, tables_from_parsed
from plans.services import ImportReport, PlanImportError, plan_import, unit_directory


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
    # Each task's status in a period of the plan, by the one counting rule (workflow.counting,
    # plugged in through plans.hooks: plans imports nothing from workflow).
    results = hooks.plan_statuses(plan, tables, request.GET.get("period"), timezone.localdate())
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
    if not capabilities(request.user).import_plan:
        raise PermissionDenied("Chỉ Văn phòng Sở (đầu mối CCHC) được nhập kế hoạch.")


def _parse_staged(entry: dict[str, Any], data: bytes) -> ParsedPlan:
    """The waiting upload parsed again (a converted .doc/.odt as its .docx)."""
    return parse_upload_bounded(entry.get("parse_name") or entry["name"], data, unit_directory()).plan


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
    name = base_name(upload.name)
    data = upload.read()
    try:
        read = parse_upload_bounded(name, data, unit_directory())
    except PlanParseError as exc:
        form.add_error("file", exc.message)
        return render(request, "plans/upload.html", {"form": form}, status=400)
    staging.stage(
        request, name=name, original=data, year=form.cleaned_data.get("year"), converted=read.converted
    )
    preview = reverse("plans:upload_preview")
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        # static/js/plan-upload.js showed the progress; it opens the preview itself.
        return JsonResponse({"redirect": preview})
    return redirect(preview)


def _import_kwargs(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "year": entry.get("year"),
        "source_name": entry["name"],
        "source_sha256": entry.get("source_sha256") or entry["sha256"],
    }


def _preview(
    request: HttpRequest, entry: dict[str, Any], data: bytes, *, error: str = "", status: int = 200
) -> HttpResponse:
    parsed: ParsedPlan | None = None
    report: ImportReport | None = None
    try:
        parsed = _parse_staged(entry, data)
        report = plan_import(parsed=parsed, dry_run=True, **_import_kwargs(entry))
    except (PlanParseError, PlanImportError) as exc:
        error = error or exc.message
    context = {
        "pending": entry,
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
    found = staging.pending(request)
    if found is None:
        messages.warning(request, "Không còn tệp đang chờ nhập. Hãy chọn lại tệp.")
        return redirect("plans:upload")
    return _preview(request, *found)


@login_required
@require_POST
def plan_upload_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: parse the kept bytes again and write them, in one transaction."""
    _require_importer(request)
    found = staging.pending(request)
    if found is None:
        messages.warning(request, "Không còn tệp đang chờ nhập. Hãy chọn lại tệp.")
        return redirect("plans:upload")
    entry, data = found
    try:
        parsed = _parse_staged(entry, data)
        if parsed.unresolved:
            raise PlanImportError(
                f"Không thể nhập: còn {len(parsed.unresolved)} tên đơn vị không nhận ra (tô đỏ bên dưới)."
            )
        report = plan_import(parsed=parsed, actor=request.user, **_import_kwargs(entry))
    except (PlanParseError, PlanImportError) as exc:
        return _preview(request, entry, data, error=exc.message, status=400)
    staging.discard(request)
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
    staging.discard(request)
    messages.info(request, "Đã hủy, tệp tải lên đã được xóa.")
    return redirect("plans:upload")

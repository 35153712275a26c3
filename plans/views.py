"""The plan pages: the plan table (everyone) and the plan file import (office reviewer).

Import is three steps: upload (checked, kept, and a background job queued that parses it in
a bounded child process: ``plans.uploads``, ``plans.tasks``), the upload's page (waiting,
then the refusal or the preview: the whole parsed plan and what the import would change,
from a dry run), confirm (the parsed plan written). The web process never parses; between
the steps the files wait in ``plans.staging``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans import hooks, staging, uploads
from plans.access import capabilities, upload_visible
from plans.forms import PlanFilterForm, PlanUploadForm
from plans.models import PlanTask, PlanUpload, Unit
from plans.parsing.rules import base_name
from plans.selectors import plan_options_html, plan_pick, plan_tasks_for_page, tables_from_parsed
from plans.services import ImportReport, PlanImportError, plan_import


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
            "plan_picker": plan_options_html(plan_options),
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


UPLOAD_LABELS: dict[str, str] = {
    PlanUpload.Status.QUEUED: "Đang chờ xử lý…",
    PlanUpload.Status.PARSING: "Đang đọc tệp…",
    PlanUpload.Status.DONE: "Đã đọc xong, đang mở bản xem trước…",
}
NO_UPLOAD_MESSAGE = "Không còn tệp đang chờ nhập. Hãy chọn lại tệp."


def _upload_visible_or_404(request: HttpRequest, pk: int) -> PlanUpload:
    """The upload named in the URL, to its uploader and the office (plans.access); 404 to anyone else."""
    upload = PlanUpload.objects.filter(pk=pk).first()
    if upload is None or not upload_visible(request.user, upload):
        raise Http404("Không tìm thấy tệp tải lên.")
    return uploads.upload_stuck_fail(upload)


def _session_upload(request: HttpRequest) -> PlanUpload | None:
    """The upload this session is working on (its own, never another person's)."""
    upload_id = staging.remembered(request)
    if upload_id is None:
        return None
    return PlanUpload.objects.filter(pk=upload_id, uploaded_by=request.user.pk).first()


@login_required
@require_http_methods(["GET", "POST"])
def plan_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: choose the file; it is kept and a background job reads it (``plans.tasks``)."""
    _require_importer(request)
    if request.method == "GET":
        return render(request, "plans/upload.html", {"form": PlanUploadForm()})
    form = PlanUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "plans/upload.html", {"form": form}, status=400)
    file = form.cleaned_data["file"]
    previous = _session_upload(request)
    if previous is not None and previous.status != PlanUpload.Status.IMPORTED:
        uploads.upload_close(previous, PlanUpload.Status.CANCELLED)  # a new upload replaces it
    upload = uploads.upload_create(
        user=request.user, name=base_name(file.name), data=file.read(), year=form.cleaned_data.get("year")
    )
    staging.remember(request, upload.pk)
    page = reverse("plans:upload_status", args=[upload.pk])
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        # static/js/plan-upload.js polls the status, then opens the page.
        return JsonResponse(_status_data(upload), status=202)
    return redirect(page)


def _status_data(upload: PlanUpload) -> dict[str, Any]:
    return {
        "status": upload.status,
        "waiting": upload.waiting,
        "label": UPLOAD_LABELS.get(upload.status, upload.message or upload.get_status_display()),
        "message": upload.message,
        "poll": reverse("plans:upload_status_json", args=[upload.pk]),
        "page": reverse("plans:upload_status", args=[upload.pk]),
    }


def _upload_page(request: HttpRequest, upload: PlanUpload) -> HttpResponse:
    """What the upload is at: waiting, refused (the form and why), or read (the preview)."""
    if upload.waiting:
        return render(request, "plans/upload_status.html", {"upload": upload, "status": _status_data(upload)})
    if upload.status in (PlanUpload.Status.REFUSED, PlanUpload.Status.FAILED):
        return render(request, "plans/upload.html", {"form": PlanUploadForm(), "refused": upload})
    if upload.status != PlanUpload.Status.DONE:
        messages.info(request, f"Tệp “{upload.name}”: {upload.get_status_display().lower()}.")
        return redirect("plans:upload")
    return _preview(request, upload)


@login_required
@require_GET
def plan_upload_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The upload's page: "Đang chờ xử lý…" / "Đang đọc tệp…", then the preview or the refusal."""
    return _upload_page(request, _upload_visible_or_404(request, pk))


@login_required
@require_GET
def plan_upload_status_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The upload's status for static/js/plan-upload.js."""
    return JsonResponse(_status_data(_upload_visible_or_404(request, pk)))


def _import_kwargs(upload: PlanUpload) -> dict[str, Any]:
    return {"year": upload.year, "source_name": upload.name, "source_sha256": upload.sha256}


def _preview(request: HttpRequest, upload: PlanUpload, *, error: str = "", status: int = 200) -> HttpResponse:
    report: ImportReport | None = None
    parsed = uploads.upload_result(upload)
    if parsed is None:
        error = error or uploads.GONE_MESSAGE
    else:
        try:
            report = plan_import(parsed=parsed, dry_run=True, **_import_kwargs(upload))
        except PlanImportError as exc:
            error = error or exc.message
    context = {
        "pending": upload,
        "parsed": parsed,
        "report": report,
        "tables": tables_from_parsed(parsed, Unit.objects.all()) if parsed else [],
        "unresolved": parsed.unresolved if parsed else [],
        "error": error,
        "can_confirm": report is not None and not error,
        # Confirm and Cancel act on the session's own upload; the office sees others' read-only.
        "own": upload.uploaded_by_id == request.user.pk and staging.remembered(request) == upload.pk,
    }
    return render(request, "plans/preview.html", context, status=status)


@login_required
@require_GET
def plan_upload_preview(request: HttpRequest) -> HttpResponse:
    """Step 2: this session's upload: waiting, refused, or the whole parsed plan and what the import would change."""
    _require_importer(request)
    upload = _session_upload(request)
    if upload is None:
        messages.warning(request, NO_UPLOAD_MESSAGE)
        return redirect("plans:upload")
    return _upload_page(request, uploads.upload_stuck_fail(upload))


@login_required
@require_POST
def plan_upload_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: write the plan the job read, in one transaction."""
    _require_importer(request)
    upload = _session_upload(request)
    parsed = uploads.upload_result(upload) if upload is not None else None
    if upload is None or parsed is None:
        if upload is not None and upload.waiting:
            messages.info(request, "Tệp chưa đọc xong; hãy chờ bản xem trước.")
            return redirect("plans:upload_status", upload.pk)
        messages.warning(request, NO_UPLOAD_MESSAGE)
        return redirect("plans:upload")
    try:
        if parsed.unresolved:
            raise PlanImportError(
                f"Không thể nhập: còn {len(parsed.unresolved)} tên đơn vị không nhận ra (tô đỏ bên dưới)."
            )
        report = plan_import(parsed=parsed, actor=request.user, **_import_kwargs(upload))
    except PlanImportError as exc:
        return _preview(request, upload, error=exc.message, status=400)
    uploads.upload_close(upload, PlanUpload.Status.IMPORTED)
    staging.forget(request)
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
    upload = _session_upload(request)
    if upload is not None and upload.status != PlanUpload.Status.IMPORTED:
        uploads.upload_close(upload, PlanUpload.Status.CANCELLED)
    staging.forget(request)
    messages.info(request, "Đã hủy, tệp tải lên đã được xóa.")
    return redirect("plans:upload")

"""Pages of the workflow. Thin: check access, validate, call a service, redirect."""

from __future__ import annotations

import datetime
import unicodedata
from typing import Any, NamedTuple

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator, add_truncation_text, calculate_truncate_chars_length
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans.calendar import judged_deadline
from plans.models import ReportingPeriod
from plans.roles import display_name, roles_of
from workflow import access, selectors, services
from workflow.evidence import EvidenceRejected, discard, download_name, evidence_path, store
from workflow.forms import AssignForm, CancelForm, EvidenceForm, LaunchForm, step_form
from workflow.models import BUCKET_COLOURS, Evidence, Notification, Step
from workflow.notifications import notifications_mark_read

PAGE_SIZE = 50


def step_redirect(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """viewflow's own task URLs lead to our step page."""
    step = get_object_or_404(Step, task_id=kwargs.get("task_pk"))
    return redirect("workflow:step", pk=step.pk)


# --- lists -------------------------------------------------------------------------------


# What a list row shows, computed once here so that templates/workflow/step_list.html prints
# plain values (escaped by the template's autoescape): as model instances of eleven tables,
# with template filters and an include per row, a 50-row page cost twice one of 5
# (docs/benchmarks.md). The step URL is reversed once a page with this id, then each row's
# id takes its place.
_URL_MARK = 987_654_321


class _Person(NamedTuple):
    last_name: str
    first_name: str
    username: str


def _truncate(text: str, length: int, suffix: str) -> str:
    """``text|truncatechars:length`` (``suffix``: the translated truncation text); the filter's
    own character loop only for text too long with combining marks in its first characters."""
    text = unicodedata.normalize("NFC", text)
    if len(text) <= length:
        return text
    if any(map(unicodedata.combining, text[: length + 1])):
        return Truncator(text).chars(length, truncate=suffix)
    return add_truncation_text(text[: calculate_truncate_chars_length(length, suffix)], suffix)


def _rows(values: list[tuple[Any, ...]], today: datetime.date) -> list[dict[str, Any]]:
    """Each row (selectors.STEP_ROW_COLUMNS) as the values the list shows, none of them escaped
    (the template's autoescape does): the step's id and URL, its task and criterion cut as
    ``truncatechars`` cuts them, appendix, kind label and round, unit, period, assignee (None:
    unclaimed), due date; ``overdue`` for an open step past its due date, ``claimable`` for an
    unclaimed one. Ids and the appendix number are text: printed as is, not localised (which
    for an int costs the template a number format each time)."""
    head, _, tail = reverse("workflow:step", args=[_URL_MARK]).rpartition(str(_URL_MARK))
    kinds = {value: str(label) for value, label in Step.Kind.choices}
    periods = {value: str(label) for value, label in ReportingPeriod.Code.choices}
    names: dict[int, str] = {}
    open_ = Step.State.OPEN.value
    suffix = pgettext("String to return when truncating text", "%(truncated_text)s…")  # as Truncator
    rows = []
    for (
        pk,
        state,
        kind,
        round_,
        due,
        assignee_id,
        task,
        criterion_code,
        criterion_name,
        appendix,
        period_code,
        year,
        unit,
        last_name,
        first_name,
        username,
        deadline,
    ) in values:
        if assignee_id is not None and assignee_id not in names:
            names[assignee_id] = display_name(_Person(last_name, first_name, username))
        rows.append(
            {
                "pk": str(pk),
                "url": f"{head}{pk}{tail}",
                "task": _truncate(task, 140, suffix),
                "appendix": str(appendix),
                "criterion": _truncate(criterion_code or criterion_name, 60, suffix),
                "kind": kinds.get(kind, kind),
                "round": round_,
                "unit": unit or "—",
                "period": f"{periods.get(period_code, period_code)}/{year}",
                "assignee": None if assignee_id is None else names[assignee_id],
                "due": f"{due.day:02d}/{due.month:02d}/{due.year:04d}",
                "deadline": f"{deadline.day:02d}/{deadline.month:02d}/{deadline.year:04d}",
                # a deadline on a day off counts as the working day it moves to (docs/calendar.md)
                "judged": f"{judged:%d/%m/%Y}" if (judged := judged_deadline(deadline)) != deadline else "",
                "overdue": state == open_ and due < today,
                "claimable": assignee_id is None,
            }
        )
    return rows


def _page(
    request: HttpRequest, qs: QuerySet[Step], today: datetime.date, *, reasons: bool
) -> tuple[list[dict[str, Any]], int, int, int]:
    """One page and where it stands: (rows, page number, page count, total); with ``reasons``,
    each returned row's ``return_reason``. Two or three queries whatever the list's size: the
    COUNT(*), the page's rows and, for some lists, why its returned steps came back. A page
    past the last shows the last one. (A window count in the rows' query was tried: it makes
    the database build every row of a long list before the LIMIT, 4 times slower.)"""
    total = qs.count()
    pages = max(1, -(-total // PAGE_SIZE))
    number = selectors.parse_id(request.GET.get("page", "1")) or 1
    number = min(number, pages)
    start = (number - 1) * PAGE_SIZE
    if not reasons:
        return _rows(selectors.step_rows(qs, start, start + PAGE_SIZE), today), number, pages, total
    values, why = selectors.step_rows_with_reasons(qs, start, start + PAGE_SIZE)
    rows = _rows(values, today)
    for row in rows:
        row["return_reason"] = why.get(int(row["pk"]))
    return rows, number, pages, total


def _step_list(
    request: HttpRequest,
    qs: QuerySet[Step],
    *,
    title: str,
    template: str = "workflow/step_list.html",
    bulk_claim: bool = False,
    **extra: Any,
) -> HttpResponse:
    filters = selectors.StepFilters.from_query(request.GET)
    if filters.period is not None:  # the list a launch's notification points to: now read
        notifications_mark_read(user=request.user, url=f"{request.path}?period={filters.period}")
    today = timezone.localdate()
    # Every period of every plan, one <optgroup> per plan (one query); a period the URL names
    # that is none of them is said so on the page, with a 404.
    period_groups = selectors.period_choices(today, filters.period)
    reasons = bool(extra.pop("return_reasons", False))
    if not selectors.period_known(period_groups, filters.period):
        rows: list[dict[str, Any]] = []
        page, pages, total, status = 1, 1, 0, 404
    else:
        rows, page, pages, total = _page(request, filters.apply(qs, today), today, reasons=reasons)
        status = 200
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        template,
        {
            "title": title,
            "rows": rows,
            "page": page,
            "pages": pages,
            "total": total,
            "has_next": page < pages,
            "query": query.urlencode(),
            "filters": filters,
            "bulk_claim": bulk_claim,
            "appendix_numbers": [1, 2, 3, 4],
            # The period filter: every period of every plan, one <optgroup> per plan, escaped HTML.
            "period_options": selectors.period_options_html(period_groups, filters.period, blank="Tất cả"),
            "selected_period": "" if filters.period is None else str(filters.period),
            "unknown_period": "" if status == 200 else selectors.UNKNOWN_PERIOD,
            "kind_choices": Step.Kind.choices,
            **extra,
        },
        status=status,
    )


@login_required
@require_GET
def my_steps(request: HttpRequest) -> HttpResponse:
    """Việc của tôi: what came back to the user first (with why), then by due date."""
    return _step_list(
        request,
        selectors.returned_first(selectors.steps_assigned_to(request.user)),
        title="Việc của tôi",
        return_reasons=True,
    )


@login_required
@require_http_methods(["GET", "POST"])
def unit_queue(request: HttpRequest) -> HttpResponse:
    access.require(access.capabilities(request.user).unit_queue, "Bạn không thuộc đơn vị nào.")
    roles = roles_of(request.user)
    if request.method == "POST":
        ids = [i for i in map(selectors.parse_id, request.POST.getlist("steps")) if i is not None]
        if not ids:
            messages.warning(request, "Chưa chọn bước nào để nhận.")
            return redirect("workflow:unit_queue")
        claimed, skipped = services.steps_claim(step_ids=ids, user=request.user)
        messages.success(
            request,
            f"Đã nhận {claimed} việc."
            + (
                f" {skipped} việc không nhận được (đã có người nhận hoặc không thuộc đơn vị)."
                if skipped
                else ""
            ),
        )
        return redirect("workflow:unit_queue")
    return _step_list(
        request,
        selectors.steps_of_unit_queue(request.user),
        title=f"Việc của đơn vị – {roles.unit.name if roles.unit else ''}",
        bulk_claim=True,
        return_reasons=True,  # a returned step whose author left the unit waits here: say why
    )


@login_required
@require_GET
def awaiting(request: HttpRequest) -> HttpResponse:
    access.require(
        access.capabilities(request.user).awaiting, "Trang này dành cho Văn phòng Sở và Lãnh đạo Sở."
    )
    return _step_list(
        request,
        selectors.steps_awaiting_approval(request.user),
        title="Chờ thẩm định, phê duyệt",
        bulk_approve=True,  # workflow.bulk_views: approve the ticked runs after a summary
    )


@login_required
@require_GET
def done_by_me(request: HttpRequest) -> HttpResponse:
    return _step_list(request, selectors.steps_done_by(request.user), title="Việc tôi đã xử lý")


# --- one step ----------------------------------------------------------------------------


def _step_context(request: HttpRequest, step: Step, **overrides: Any) -> dict[str, Any]:
    user = request.user
    period_task = selectors.period_task_detail(step.period_task_id)
    history = selectors.steps_of_period_task(period_task)
    can_execute = access.may_execute(user, step)
    context: dict[str, Any] = {
        "step": step,
        "period_task": period_task,
        "plan_task": period_task.plan_task,
        "history": history,
        "can_claim": access.may_claim(user, step),
        "can_execute": can_execute,
        "can_assign": access.may_assign(user, step),
        # Separation of duties: say why an otherwise qualified person has no button here.
        "own_report": step.state == Step.State.OPEN
        and step.kind in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF)
        and access.wrote_report_under_decision(user, step),
        "form": step_form(step) if can_execute else None,
        "evidence_form": EvidenceForm() if can_execute else None,
        "bucket": period_task.bucket(),
        "bucket_colours": BUCKET_COLOURS,
        "today": timezone.localdate(),
        "step_evidence": next((h.evidence.all() for h in history if h.pk == step.pk), []),
        # Only about this step: the decision that sent it back, if it was (not any return of the run).
        "returned_by": selectors.step_returned_by(step) if step.state == Step.State.OPEN else None,
    }
    if step.kind in (Step.Kind.REVIEW, Step.Kind.SIGN_OFF):
        # What the decider decides on, above the form: each unit's latest report and opinion.
        # For a sign-off, the office's assessment too.
        shown = (Step.Kind.LEAD, Step.Kind.PARTNER) + (
            (Step.Kind.REVIEW,) if step.kind == Step.Kind.SIGN_OFF else ()
        )
        latest: dict[tuple[str, int | None], Step] = {}
        for h in history:
            if h.kind in shown and h.state == Step.State.DONE and h.pk != step.pk:
                latest[(h.kind, h.unit_id)] = h
        context["lead_reports"] = [h for h in latest.values() if h.kind == Step.Kind.LEAD]
        context["partner_opinions"] = [h for h in latest.values() if h.kind == Step.Kind.PARTNER]
        context["office_review"] = latest.get((Step.Kind.REVIEW, None))
    if context["can_assign"]:
        context["assign_form"] = AssignForm(members=selectors.unit_members(step.unit))
    context.update(overrides)
    return context


def _posted_report(request: HttpRequest, step: Step) -> Any:
    """The report form bound to what was posted, if the post carries the report (else None)."""
    if not any(key.startswith("report-") for key in request.POST):
        return None
    return step_form(step, data=request.POST)


def _conflict_message(user: Any, step: Step, conflict: services.StepConflict) -> str:
    """What happened to the step meanwhile, in words: who acted, or that it was the user elsewhere."""
    if step.state == Step.State.DONE and step.submitted_by_id is not None:
        if step.submitted_by_id == user.pk:
            return "Bạn đã gửi bước này ở một tab khác."
        when = timezone.localtime(step.submitted_at)
        return (
            f"Bước này vừa được người khác xử lý: {display_name(step.submitted_by)} "
            f"đã gửi lúc {when:%H:%M} ngày {when:%d/%m/%Y}."
        )
    if step.state == Step.State.CANCELED:
        return "Quy trình đã bị hủy: bước này không còn xử lý được."
    if step.assignee_id is not None and step.assignee_id != user.pk:
        return f"{conflict.message} Người đang giữ bước: {display_name(step.assignee)}."
    return conflict.message


def _conflict(request: HttpRequest, step: Step, conflict: services.StepConflict) -> HttpResponse:
    """409, saying what happened; the text the person typed stays on the page (in the form if they
    may still act, else to copy), never dropped."""
    step = Step.objects.select_related(
        "period_task__plan_task", "period_task__period", "unit", "task", "assignee", "submitted_by"
    ).get(pk=step.pk)
    message = _conflict_message(request.user, step, conflict)
    typed = _posted_report(request, step)
    if typed is not None:
        typed.is_valid()  # cleaned, so the page shows the text as the form would keep it
    overrides: dict[str, Any] = {"conflict": message}
    if typed is not None and access.may_execute(request.user, step):
        overrides["form"] = typed
    elif typed is not None:
        overrides["unsaved_form"] = typed
    return render(request, "workflow/step.html", _step_context(request, step, **overrides), status=409)


@login_required
@require_http_methods(["GET", "POST"])
def step_detail(request: HttpRequest, pk: int) -> HttpResponse:
    step = access.step_get_for_user(user=request.user, pk=pk)
    if request.method == "GET":
        notifications_mark_read(user=request.user, step_id=step.pk)  # before the badge is counted
        return render(request, "workflow/step.html", _step_context(request, step))
    action = request.POST.get("action", "")
    if not action and "remove" in request.POST:  # a file's "Gỡ" button inside the report form
        action = "remove_evidence"
    handler = STEP_ACTIONS.get(action)
    if handler is None:
        return render(
            request,
            "workflow/step.html",
            _step_context(request, step, error="Thao tác không hợp lệ."),
            status=400,
        )
    try:
        return handler(request, step)
    except services.StepConflict as conflict:
        return _conflict(request, step, conflict)


def _claim(request: HttpRequest, step: Step) -> HttpResponse:
    services.step_claim(step_id=step.pk, user=request.user, process_id=step.period_task.process_id)
    messages.success(request, "Đã nhận việc.")
    return redirect("workflow:step", pk=step.pk)


def _assign(request: HttpRequest, step: Step) -> HttpResponse:
    if not access.may_assign(request.user, step):
        raise PermissionDenied("Chỉ trưởng đơn vị được giao việc của đơn vị.")
    form = AssignForm(request.POST, members=selectors.unit_members(step.unit))
    if not form.is_valid():
        return render(
            request, "workflow/step.html", _step_context(request, step, assign_form=form), status=400
        )
    try:
        services.step_assign(step_id=step.pk, assignee=form.cleaned_data["assignee"], actor=request.user)
    except ValidationError as error:
        form.add_error("assignee", error)
        return render(
            request, "workflow/step.html", _step_context(request, step, assign_form=form), status=400
        )
    messages.success(request, "Đã giao việc.")
    return redirect("workflow:step", pk=step.pk)


def _report(request: HttpRequest, step: Step, *, submit: bool) -> HttpResponse:
    # Who may act is the service's decision (under the process lock); an open step nobody has
    # taken yet only needs saying so before the form is read.
    if step.state == Step.State.OPEN and step.assignee_id is None:
        raise PermissionDenied("Hãy nhận việc trước khi thực hiện.")
    form = step_form(step, data=request.POST)
    if not form.is_valid():
        return render(request, "workflow/step.html", _step_context(request, step, form=form), status=400)
    data = form.cleaned_data
    if request.FILES.get("file") and step.kind in EVIDENCE_KINDS:
        # A file chosen but not attached yet goes in with the text, before the report is sent.
        refused = _attach(request, step, form)
        if refused is not None:
            return refused
    try:
        if submit:
            services.step_submit(
                step_id=step.pk, user=request.user, data=data, process_id=step.period_task.process_id
            )
        else:
            services.step_save_draft(
                step_id=step.pk, user=request.user, data=data, process_id=step.period_task.process_id
            )
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return render(request, "workflow/step.html", _step_context(request, step, form=form), status=400)
    if submit:
        messages.success(request, "Đã gửi. Bước tiếp theo đã được chuyển đến người xử lý.")
        return redirect("workflow:my_steps")
    messages.success(request, "Đã lưu nháp.")
    return redirect("workflow:step", pk=step.pk)


EVIDENCE_KINDS = (Step.Kind.LEAD, Step.Kind.PARTNER)


def _attach(request: HttpRequest, step: Step, form: Any) -> HttpResponse | None:
    """Check, store and record the posted file, with the report's text (``form``, validated, or
    None) kept as a draft in the same transaction. A refusal is the page again (400) with the
    text as typed; None when attached."""
    evidence_form = EvidenceForm(request.POST, request.FILES)
    if not evidence_form.is_valid():
        return _refused(request, step, form, evidence_form)
    upload = evidence_form.cleaned_data["file"]
    try:
        stored = store(upload, name=upload.name, size=upload.size)
    except EvidenceRejected as rejected:
        evidence_form.add_error("file", rejected.message)
        return _refused(request, step, form, evidence_form)
    try:
        services.evidence_attach(
            step_id=step.pk,
            user=request.user,
            stored=stored,
            draft=form.cleaned_data if form is not None else None,
        )
    except BaseException:
        discard(stored)
        raise
    messages.success(request, f"Đã đính kèm “{stored.original_name}”.")
    return None


def _refused(request: HttpRequest, step: Step, form: Any, evidence_form: Any) -> HttpResponse:
    overrides: dict[str, Any] = {"evidence_form": evidence_form}
    if form is not None:
        overrides["form"] = form
    return render(request, "workflow/step.html", _step_context(request, step, **overrides), status=400)


def _upload(request: HttpRequest, step: Step) -> HttpResponse:
    if not access.may_execute(request.user, step):
        raise PermissionDenied("Bạn không có quyền đính kèm tệp ở bước này.")
    form = _posted_report(request, step)
    if form is not None and not form.is_valid():
        return _refused(request, step, form, EvidenceForm(request.POST, request.FILES))
    refused = _attach(request, step, form)
    if refused is not None:
        return refused
    return redirect("workflow:step", pk=step.pk)


def _remove_evidence(request: HttpRequest, step: Step) -> HttpResponse:
    evidence_id = selectors.parse_id(request.POST.get("remove") or request.POST.get("evidence", ""))
    evidence = Evidence.objects.filter(pk=evidence_id, step=step).first() if evidence_id else None
    if evidence is None:
        raise Http404("Không tìm thấy tệp.")
    form = _posted_report(request, step)
    if form is not None and not form.is_valid():
        return render(request, "workflow/step.html", _step_context(request, step, form=form), status=400)
    services.evidence_remove(
        evidence_id=evidence.pk, user=request.user, draft=form.cleaned_data if form is not None else None
    )
    messages.success(request, f"Đã gỡ “{evidence.original_name}”.")
    return redirect("workflow:step", pk=step.pk)


def _autosave(request: HttpRequest, step: Step) -> HttpResponse:
    """The draft saved while typing (static/js/report.js): JSON, never a page."""
    if step.kind not in EVIDENCE_KINDS:
        return JsonResponse({"error": "Bước này không lưu nháp."}, status=400)
    form = step_form(step, data=request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return JsonResponse({"error": f"Chưa tự động lưu: {first}"}, status=400)
    try:
        services.step_save_draft(
            step_id=step.pk,
            user=request.user,
            data=form.cleaned_data,
            process_id=step.period_task.process_id,
            unchanged_too=False,
        )
    except services.StepConflict as conflict:
        step = Step.objects.select_related("assignee", "submitted_by").get(pk=step.pk)
        return JsonResponse({"error": _conflict_message(request.user, step, conflict)}, status=409)
    except PermissionDenied as denied:
        return JsonResponse({"error": str(denied) or "Bạn không có quyền lưu bước này."}, status=403)
    now = timezone.localtime()
    return JsonResponse({"message": f"Đã tự động lưu nháp lúc {now:%H:%M:%S}."})


STEP_ACTIONS = {
    "claim": _claim,
    "assign": _assign,
    "save": lambda request, step: _report(request, step, submit=False),
    "submit": lambda request, step: _report(request, step, submit=True),
    "upload": _upload,
    "remove_evidence": _remove_evidence,
    "autosave": _autosave,
}


@login_required
@require_GET
def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(Evidence.objects.select_related("step"), pk=pk)
    access.step_get_for_user(user=request.user, pk=evidence.step_id)
    path = evidence_path(evidence.stored_name)
    if not path.exists():
        raise Http404("Tệp không còn trên máy chủ.")
    # The extension is always the content's type's, whatever name an older row was stored under.
    filename = download_name(evidence.original_name, evidence.content_type)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=filename)  # noqa: SIM115
    response["Content-Type"] = "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def period_task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    period_task = access.period_task_get_for_user(user=request.user, pk=pk)
    status, error = 200, ""
    if request.method == "POST":
        if request.POST.get("action") != "cancel":
            raise PermissionDenied("Thao tác không hợp lệ.")
        form = CancelForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError([e for errors in form.errors.values() for e in errors])
            services.period_task_cancel(
                period_task_id=period_task.pk, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as invalid:
            status, error = 400, "; ".join(invalid.messages)
        except services.StepConflict as conflict:
            status, error = 409, conflict.message
        else:
            messages.success(request, "Đã hủy quy trình.")
            return redirect("workflow:period_task", pk=period_task.pk)
    period_task = selectors.period_task_detail(period_task.pk)
    return render(
        request,
        "workflow/period_task.html",
        {
            "period_task": period_task,
            "plan_task": period_task.plan_task,
            "history": selectors.steps_of_period_task(period_task),
            "bucket": period_task.bucket(),
            "bucket_colours": BUCKET_COLOURS,
            "can_cancel": access.capabilities(request.user).launch
            and period_task.stage not in ("done", "canceled"),
            "error": error,
        },
        status=status,
    )


# --- launching ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def launch(request: HttpRequest) -> HttpResponse:
    access.require(access.capabilities(request.user).launch, "Chỉ Văn phòng Sở được khởi tạo kỳ báo cáo.")
    form = LaunchForm(request.POST or None)
    if request.method == "GET":
        return render(request, "workflow/launch.html", {"form": form})
    if not form.is_valid():
        return render(request, "workflow/launch.html", {"form": form}, status=400)
    from plans.periods import periods_ensure

    plan = form.cleaned_data["plan"]
    periods = {p.code: p for p in periods_ensure(plan=plan)}
    period = periods[form.cleaned_data["period"]]
    chosen = list(form.cleaned_data["tasks"]) or None
    if (
        form.cleaned_data["include_year_tasks"]
        and period.code == ReportingPeriod.Code.H1
        and not period.include_year_tasks
    ):
        period.include_year_tasks = True
        period.save(update_fields=["include_year_tasks"])
    to_start, already = services.launch_preview(plan=plan, period=period, plan_tasks=chosen)
    if request.POST.get("confirm") != "1":
        return render(
            request,
            "workflow/launch.html",
            {"form": form, "confirm": True, "period": period, "to_start": to_start, "already": already},
        )
    try:
        result = services.period_launch(period=period, actor=request.user, plan_tasks=chosen)
    except ValidationError as error:
        form.add_error(None, error)
        return render(request, "workflow/launch.html", {"form": form}, status=400)
    messages.success(
        request,
        f"Đã khởi tạo {len(result.started)} quy trình cho kỳ {period.label}"
        + (
            f"; {result.skipped} nhiệm vụ đã có quy trình trong kỳ nên được bỏ qua."
            if result.skipped
            else "."
        ),
    )
    return redirect("workflow:awaiting" if access.reviews_reports(request.user) else "workflow:my_steps")


# --- notifications -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(user_id=request.user.pk or 0)  # signed in: always a pk
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        messages.success(request, "Đã đánh dấu tất cả là đã đọc.")
        return redirect("workflow:notifications")
    return render(request, "workflow/notifications.html", {"notifications": mine.order_by("-pk")[:100]})


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open one's own notification (POST: the link is a form button): mark it read, go to its link."""
    note = get_object_or_404(Notification, pk=pk, user=request.user)
    if note.read_at is None:
        note.read_at = timezone.now()
        note.save(update_fields=["read_at"])
    # Links are written by the application; a stored one that is not local goes nowhere.
    if note.url and url_has_allowed_host_and_scheme(note.url, allowed_hosts=None):
        return redirect(note.url)
    return redirect("workflow:notifications")

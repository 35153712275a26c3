"""Lịch sử xử lý: the task history page with its PDF and .xlsx downloads, and the audit search."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from audit.models import AuditAction, AuditEvent
from plans.models import Unit
from plans.roles import display_name
from workflow import access, counting, selectors
from workflow.history.exports import history_pdf, history_xlsx
from workflow.history.selectors import (
    DATE_FORMAT,
    UNKNOWN_PERIOD,
    entry_from_event,
    flow_chart,
    search_page,
    task_entries,
)
from workflow.models import BUCKET_COLOURS, PeriodTask

# --- the task history page ------------------------------------------------------------------


def _task_context(request: HttpRequest, pk: int) -> dict[str, Any]:
    period_task = access.period_task_get_for_user(user=request.user, pk=pk)
    period_task = selectors.period_task_detail(period_task.pk)
    entries = task_entries(period_task)
    return {
        "period_task": period_task,
        "plan_task": period_task.plan_task,
        "entries": entries,
        "bucket": counting.run_status(period_task, timezone.localdate()),
        "bucket_colours": BUCKET_COLOURS,
    }


def _download_name(period_task: PeriodTask, extension: str) -> str:
    return f"lich-su-nhiem-vu-{period_task.pk}-{period_task.period.code.lower()}-{period_task.period.plan.year}.{extension}"


@login_required
@require_GET
def task_history(request: HttpRequest, pk: int) -> HttpResponse:
    """Lịch sử xử lý của một nhiệm vụ trong kỳ: timeline, flow chart, downloads."""
    context = _task_context(request, pk)
    context["chart"] = flow_chart(context["period_task"])
    return render(request, "history/task.html", context)


@login_required
@require_GET
def task_history_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    context = _task_context(request, pk)
    context["chart"] = flow_chart(context["period_task"])
    context["exported_at"] = timezone.localtime()
    context["exported_by"] = display_name(request.user)
    response = HttpResponse(history_pdf(context), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{_download_name(context["period_task"], "pdf")}"'
    )
    return response


@login_required
@require_GET
def task_history_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    context = _task_context(request, pk)
    period_task = context["period_task"]
    title = f"Lịch sử xử lý – {period_task.plan_task.task[:200]} – kỳ {period_task.period.label}"
    response = HttpResponse(
        history_xlsx(context["entries"], title=title),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_download_name(period_task, "xlsx")}"'
    return response


# --- the audit search -----------------------------------------------------------------------


def _may_search(user: Any) -> bool:
    return access.capabilities(user).audit_search


class PeriodSelect(forms.Select):
    """The period picker printed by ``selectors.period_options_html``: a form's Select renders
    each of a province's 1 400 options through a template (about 150 ms a page)."""

    def __init__(self, groups: list[selectors.PeriodGroup]) -> None:
        super().__init__()
        self.groups = groups

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        selected = selectors.parse_id(
            str(value[0] if isinstance(value, list | tuple) and value else value or "")
        )
        attrs = self.build_attrs(self.attrs, attrs)
        element_id = f' id="{escape(attrs["id"])}"' if attrs.get("id") else ""
        options = selectors.period_options_html(self.groups, selected, blank="Tất cả")
        return format_html('<select name="{}"{}>{}</select>', name, mark_safe(element_id), options)  # noqa: S308


class SearchForm(forms.Form):
    """Filters of the audit search; every value is checked, none reaches the database raw."""

    actor = forms.CharField(label="Người thực hiện (tên đăng nhập)", max_length=150, required=False)
    unit = forms.TypedChoiceField(label="Đơn vị", required=False, coerce=int, empty_value=None)
    action = forms.ChoiceField(label="Thao tác", required=False)
    period = forms.TypedChoiceField(label="Kỳ báo cáo", required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label="Từ ngày", required=False, input_formats=[DATE_FORMAT])
    date_to = forms.DateField(label="Đến ngày", required=False, input_formats=[DATE_FORMAT])
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1, widget=forms.HiddenInput)

    MESSAGES = {
        "invalid_date": "Ngày phải có dạng dd/mm/yyyy, ví dụ 05/03/2024.",
        "invalid_choice": "Giá trị không có trong danh sách.",
        "invalid_number": "Số trang không hợp lệ.",
    }

    def __init__(
        self, *args: Any, units: list[Unit], periods: list[selectors.PeriodGroup], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        unit, period, action = (self._choice_field(name) for name in ("unit", "period", "action"))
        unit.choices = [("", "Tất cả")] + [(u.pk, u.name) for u in units]
        # Every period of every plan, one <optgroup> per plan; printed from one escaped string.
        period.choices = [("", "Tất cả"), *((g.label, g.options) for g in periods)]
        period.widget = PeriodSelect(periods)
        action.choices = [("", "Tất cả")] + list(AuditAction.choices)
        self._unit_names = {u.pk: u.name for u in units}
        for name in ("date_from", "date_to"):
            self.fields[name].error_messages["invalid"] = self.MESSAGES["invalid_date"]
            self.fields[name].widget.attrs.update({"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})
        for name in ("unit", "period", "action"):
            self.fields[name].error_messages["invalid_choice"] = self.MESSAGES["invalid_choice"]
        for name in ("before", "after"):
            for key in ("invalid", "min_value", "max_value"):
                self.fields[name].error_messages[key] = self.MESSAGES["invalid_number"]

    def _choice_field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        if not isinstance(field, forms.ChoiceField):  # the fields declared above
            raise TypeError(name)
        return field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "“Đến ngày” phải sau hoặc bằng “Từ ngày”.")
        return data

    def apply(self, qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("actor"):
            qs = qs.filter(actor__username__iexact=data["actor"].strip())
        if data.get("unit"):
            qs = qs.filter(actor_unit=self._unit_names[data["unit"]])
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("period"):
            qs = qs.filter(period_task__period_id=data["period"])
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            qs = qs.filter(
                created_at__gte=datetime.datetime.combine(data["date_from"], datetime.time(), zone)
            )
        if data.get("date_to"):
            next_day = data["date_to"] + datetime.timedelta(days=1)
            qs = qs.filter(created_at__lt=datetime.datetime.combine(next_day, datetime.time(), zone))
        return qs


@login_required
@require_GET
def audit_search(request: HttpRequest) -> HttpResponse:
    """Tra cứu nhật ký: by person, unit, action, period and dates; auditors, leadership, office."""
    if not _may_search(request.user):
        raise PermissionDenied("Tra cứu nhật ký dành cho kiểm tra, Lãnh đạo Sở và Văn phòng Sở.")
    units = list(Unit.objects.order_by("order", "name"))
    # Every period of every plan (one query); a period id the URL names that is none of them
    # is said so on the page, with a 404.
    asked = selectors.parse_id(request.GET.get("period", ""))
    periods = selectors.period_choices(timezone.localdate(), asked)
    form = SearchForm(request.GET or None, units=units, periods=periods)
    context: dict[str, Any] = {"form": form, "entries": [], "has_older": False, "has_newer": False}
    if asked is not None and not selectors.period_known(periods, asked):
        context["unknown_period"] = UNKNOWN_PERIOD
        return render(request, "history/search.html", context, status=404)
    if request.GET and not form.is_valid():
        return render(request, "history/search.html", context, status=400)
    qs = AuditEvent.objects.select_related(
        "step__unit", "period_task__plan_task", "period_task__period__plan"
    )
    cleaned = form.cleaned_data if form.is_bound else {}
    if form.is_bound:
        qs = form.apply(qs)
    rows, has_older, has_newer = search_page(qs, before=cleaned.get("before"), after=cleaned.get("after"))
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    context.update(
        entries=[entry_from_event(e) for e in rows],
        has_older=has_older,
        has_newer=has_newer,
        older=rows[-1].seq if rows else None,
        newer=rows[0].seq if rows else None,
        query=query.urlencode(),
    )
    return render(request, "history/search.html", context)

"""Lịch sử xử lý: one task's audit history (page, PDF, .xlsx) and the audit search.

Both read the audit trail (``AuditEvent``), never the current state of the records: what
the page shows is what was recorded when each person acted (their unit and role then,
the report as submitted, the SHA-256 of each file).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from plans.models import Membership, Unit
from plans.roles import roles_of
from workflow import access, counting, selectors
from workflow.audit import ACTION_LABELS, action_label
from workflow.models import BUCKET_COLOURS, AuditEvent, PeriodTask, Step

PAGE_SIZE = 50
UNKNOWN_PERIOD = selectors.UNKNOWN_PERIOD
DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"

# The report fields of a step, as the audit snapshots name them.
FIELD_LABELS = {
    "result": "Kết quả thực hiện",
    "self_assessment": "Tự đánh giá",
    "explanation": "Giải trình",
    "no_opinion": "Không có ý kiến",
    "decision": "Quyết định",
    "reason": "Lý do",
    "ask_partners_again": "Xin lại ý kiến phối hợp",
}
# Which snapshot fields belong to which step kind (the others stay blank there).
KIND_FIELDS = {
    Step.Kind.LEAD: ("result", "self_assessment", "explanation"),
    Step.Kind.PARTNER: ("result", "no_opinion"),
    Step.Kind.REVIEW: ("decision", "reason", "ask_partners_again"),
    Step.Kind.SIGN_OFF: ("decision", "reason"),
}
# Actions that complete a step: their snapshot is a submitted version of the report.
SUBMITTING = ("submit", "partner_input", "approve", "return", "sign_off")


# --- one event, as people read it ---------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """Một dòng lịch sử: one audit event in Vietnamese."""

    seq: int
    when: datetime.datetime  # local time
    actor_name: str
    actor_unit: str
    actor_role: str
    action: str
    label: str
    step: str
    reason: str
    details: str
    files: list[tuple[str, str]] = field(default_factory=list)  # (name, SHA-256)
    version: list[tuple[str, str]] = field(default_factory=list)  # (field label, value) as submitted
    changed: list[str] = field(default_factory=list)  # field labels a draft changed
    period_task_id: int | None = None
    task_text: str = ""
    period_label: str = ""

    @property
    def when_text(self) -> str:
        return self.when.strftime(DATETIME_FORMAT)


def _value_text(name: str, value: Any) -> str:
    if name == "self_assessment":
        return str(Step.SelfAssessment(value).label) if value in Step.SelfAssessment.values else str(value)
    if name == "decision":
        return str(Step.Decision(value).label) if value in Step.Decision.values else str(value)
    if isinstance(value, bool):
        return "Có" if value else ""
    return str(value or "")


def _fields_for(event: AuditEvent) -> tuple[str, ...]:
    kind = event.step.kind if event.step_id and event.step else None
    return KIND_FIELDS.get(kind, tuple(FIELD_LABELS)) if kind else tuple(FIELD_LABELS)


def _files(data: dict[str, Any]) -> list[tuple[str, str]]:
    if data.get("sha256"):
        return [(str(data.get("name", "")), str(data["sha256"]))]
    return [
        (str(item.get("original_name", "")), str(item.get("sha256", "")))
        for item in data.get("evidence") or []
        if isinstance(item, dict)
    ]


def _role_text(role: str) -> str:
    return str(Membership.Role(role).label) if role in Membership.Role.values else role


def _details(event: AuditEvent) -> str:
    """What an action did beyond its name, in one line (assignments, memberships, imports)."""
    data = event.data if isinstance(event.data, dict) else {}
    action = event.action
    if action in ("assign", "reassign"):
        return " → ".join(str(x) for x in (data.get("from"), data.get("to")) if x)
    if action == "membership_changed":

        def side(value: Any) -> str:
            if not isinstance(value, dict):
                return "chưa thuộc đơn vị nào"
            return f"{value.get('unit', '')} ({_role_text(str(value.get('role', '')))})"

        return f"{data.get('user', '')}: {side(data.get('before'))} → {side(data.get('after'))}"
    if action == "role_changed":
        if "added" in data:
            return f"{data.get('user', '')}: thêm vai trò “{data['added']}”"
        before = ", ".join(data.get("oversees_before") or []) or "không"
        after = ", ".join(data.get("oversees_after") or []) or "không"
        return f"{data.get('user', '')}: đơn vị phụ trách ký duyệt {before} → {after}"
    if action == "plan_imported":
        return (
            f"{data.get('source_name', '')}: thêm {data.get('added', 0)}, sửa {data.get('changed', 0)}, "
            f"xóa {data.get('removed', 0)} nhiệm vụ"
        )
    return ""


def _step_text(event: AuditEvent) -> str:
    step = event.step if event.step_id else None
    if step is None:
        return ""
    unit = f" – {step.unit.name}" if step.unit_id and step.unit else ""
    return f"{step.get_kind_display()}{unit} (vòng {step.round})"


def entry_from_event(event: AuditEvent) -> Entry:
    data = event.data if isinstance(event.data, dict) else {}
    before = data.get("before") if isinstance(data.get("before"), dict) else {}
    after = data.get("after") if isinstance(data.get("after"), dict) else {}
    names = _fields_for(event)
    version: list[tuple[str, str]] = []
    if event.action in SUBMITTING and after:
        for name in names:
            text = _value_text(name, after.get(name))
            if text and not (name == "reason" and text == event.reason):
                version.append((FIELD_LABELS[name], text))
    changed = (
        [FIELD_LABELS[n] for n in names if before.get(n) != after.get(n)]
        if event.action == "save_draft" and after
        else []
    )
    period_task = event.period_task if event.period_task_id else None
    return Entry(
        seq=event.seq,
        when=timezone.localtime(event.created_at),
        actor_name=event.actor_name,
        actor_unit=event.actor_unit,
        actor_role=event.actor_role,
        action=event.action,
        label=action_label(event.action),
        step=_step_text(event),
        reason=event.reason,
        details=_details(event),
        files=_files(data),
        version=version,
        changed=changed,
        period_task_id=event.period_task_id,
        task_text=period_task.plan_task.task if period_task is not None else "",
        period_label=period_task.period.label if period_task is not None else "",
    )


def task_entries(period_task: PeriodTask) -> list[Entry]:
    """Every event of one task, oldest first, in one query."""
    events = (
        AuditEvent.objects.filter(period_task=period_task)
        .select_related("step__unit", "period_task__plan_task", "period_task__period__plan")
        .order_by("seq")
    )
    return [entry_from_event(e) for e in events]


# --- the flow chart, with where the task is now ---------------------------------------------


@dataclass(frozen=True)
class ChartNode:
    name: str
    title: str
    current: bool
    done: bool
    units: list[str]  # units of the open steps at this node


@dataclass(frozen=True)
class FlowChart:
    svg: SafeString
    human_nodes: list[ChartNode]
    finished: bool

    @property
    def position(self) -> str:
        """Where the task is now, in words (the PDF has no chart)."""
        if self.finished:
            return "Hoàn thành"
        parts = [
            f"{n.title} ({', '.join(n.units)})" if n.units else n.title for n in self.human_nodes if n.current
        ]
        return "; ".join(parts) or "—"


# viewflow styles its shapes with a stylesheet; we draw under style-src 'self', so the few
# marks the shapes carry by class get the equivalent presentation attributes instead.
_SHAPE_ATTRIBUTES = {
    'class="gateway-marker"': (
        'class="gateway-marker" fill="#000" stroke="none" font-weight="bold" '
        'font-family="sans-serif" text-anchor="middle"'
    ),
    'class="task-marker"': 'class="task-marker" fill="none" stroke="#000" stroke-width="1.1"',
    'class="task-label"': 'class="task-label" fill="none" stroke="#000" stroke-width="1.1"',
    'class="event end-event"': 'class="event end-event" stroke-width="4"',
}


def _shape_svg(svg: str) -> str:
    for mark, attributes in _SHAPE_ATTRIBUTES.items():
        svg = svg.replace(mark, attributes)
    return svg


def flow_chart(period_task: PeriodTask) -> FlowChart:
    """viewflow's own layout of the flow, drawn by our template: visited nodes in green,
    the current node(s) (the open steps, or the end once signed off) outlined in red.
    Two queries: the process's tasks, and its open steps."""
    from viewflow.workflow import chart
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    from workflow.flows import ReportFlow

    grid = chart.calc_layout_data(ReportFlow)
    done: set[str] = set()
    finished = False
    for task in Task.objects.filter(process_id=period_task.process_id).only("flow_task", "status"):
        name = getattr(task.flow_task, "name", "")
        if task.status == STATUS.DONE:
            done.add(name)
            finished = finished or name == "end"
    current_units: dict[str, list[str]] = {}
    open_steps = (
        Step.objects.filter(period_task=period_task, state=Step.State.OPEN)
        .select_related("task", "unit")
        .order_by("pk")
    )
    for step in open_steps:
        name = getattr(step.task.flow_task, "name", step.kind)
        current_units.setdefault(name, [])
        if step.unit_id:
            current_units[name].append(step.unit.name)
    current = set(current_units) | ({"end"} if finished else set())

    human: list[ChartNode] = []
    for cell in grid.cells:
        node = cell.node
        title = str(node.task_title or node.name)
        cell.title = title
        cell.shape.svg = _shape_svg(cell.shape.svg)
        if node.name in current:
            cell.status = "current"
        elif node.name in done:
            cell.status = "done"
        if getattr(node, "step_kind", None):
            human.append(
                ChartNode(
                    name=node.name,
                    title=title,
                    current=node.name in current,
                    done=node.name in done,
                    units=current_units.get(node.name, []),
                )
            )
    human.sort(key=lambda n: list(KIND_FIELDS).index(n.name) if n.name in KIND_FIELDS else 99)
    svg = get_template("history/flow_chart.svg").render(
        {"grid": grid, "cells": grid.cells, "edges": grid.edges}
    )
    return FlowChart(svg=mark_safe(svg), human_nodes=human, finished=finished)  # noqa: S308 - our template


# --- downloads ------------------------------------------------------------------------------


def _refuse_every_url() -> Any:
    """A WeasyPrint fetcher that fetches nothing: the PDF is built from the string alone.

    A subclass, not a plain function: WeasyPrint 70 reads ``_fail_on_errors`` from the
    fetcher when it raises, which a function does not have.
    """
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"external resources are not loaded: {url[:100]}")

    return RefuseAll()


def history_pdf(context: dict[str, Any]) -> bytes:
    import weasyprint

    html = render_to_string("history/task_pdf.html", context)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_refuse_every_url()).write_pdf()


XLSX_HEADERS = [
    "STT sự kiện",
    "Thời gian",
    "Người thực hiện",
    "Đơn vị",
    "Vai trò",
    "Thao tác",
    "Bước",
    "Lý do",
    "Chi tiết",
    "Tài liệu kiểm chứng (SHA-256)",
    "Nội dung đã gửi",
    "Trường đã sửa",
]


def entry_row(entry: Entry) -> list[Any]:
    """One spreadsheet row per event (also what the tests compare with the trail)."""
    return [
        entry.seq,
        entry.when.replace(tzinfo=None, microsecond=0),
        entry.actor_name,
        entry.actor_unit,
        entry.actor_role,
        entry.label,
        entry.step,
        entry.reason,
        entry.details,
        "\n".join(f"{name} – SHA-256: {sha}" for name, sha in entry.files),
        "\n".join(f"{label}: {value}" for label, value in entry.version),
        ", ".join(entry.changed),
    ]


def history_xlsx(entries: list[Entry], *, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from plans.xlsx import cell_text_safe, print_setup, rows_fit

    book = Workbook()
    sheet = book.active
    sheet.title = "Lịch sử xử lý"
    sheet.append([title[:32_000]])
    sheet["A1"].font = Font(bold=True)
    sheet.append(XLSX_HEADERS)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for entry in entries:
        sheet.append(entry_row(entry))
        for cell in sheet[sheet.max_row]:
            cell_text_safe(cell)  # the one escaping rule of every workbook (plans.xlsx)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.cell(row=sheet.max_row, column=2).number_format = "dd/mm/yyyy hh:mm"
    for column, width in zip("ABCDEFGHIJKL", (8, 17, 22, 28, 28, 26, 30, 40, 30, 50, 60, 24), strict=True):
        sheet.column_dimensions[column].width = width
    cell_text_safe(sheet["A1"])
    sheet.merge_cells("A1:L1")
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[2]:
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    print_setup(sheet, 2)  # A4 landscape, fitted to the width, the header row on every page
    rows_fit(sheet, 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
    context["exported_by"] = request.user.get_full_name() or request.user.get_username()
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
    roles = roles_of(user)
    return user.is_superuser or roles.is_auditor or roles.is_leadership or roles.is_office


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
        self.fields["unit"].choices = [("", "Tất cả")] + [(u.pk, u.name) for u in units]
        # Every period of every plan, one <optgroup> per plan; printed from one escaped string.
        self.fields["period"].choices = [("", "Tất cả"), *((g.label, g.options) for g in periods)]
        self.fields["period"].widget = PeriodSelect(periods)
        self.fields["action"].choices = [("", "Tất cả")] + list(ACTION_LABELS.items())
        self._unit_names = {u.pk: u.name for u in units}
        for name in ("date_from", "date_to"):
            self.fields[name].error_messages["invalid"] = self.MESSAGES["invalid_date"]
            self.fields[name].widget.attrs.update({"placeholder": "dd/mm/yyyy", "inputmode": "numeric"})
        for name in ("unit", "period", "action"):
            self.fields[name].error_messages["invalid_choice"] = self.MESSAGES["invalid_choice"]
        for name in ("before", "after"):
            for key in ("invalid", "min_value", "max_value"):
                self.fields[name].error_messages[key] = self.MESSAGES["invalid_number"]

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


def search_page(
    qs: QuerySet[AuditEvent], *, before: int | None, after: int | None
) -> tuple[list[AuditEvent], bool, bool]:
    """One page, newest first, by keyset on seq (no COUNT, no OFFSET): (rows, has_older, has_newer)."""
    if after is not None and before is None:
        rows = list(qs.filter(seq__gt=after).order_by("seq")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        return list(reversed(rows[:PAGE_SIZE])), True, has_newer
    if before is not None:
        qs = qs.filter(seq__lt=before)
    rows = list(qs.order_by("-seq")[: PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, before is not None


@login_required
@require_GET
def audit_search(request: HttpRequest) -> HttpResponse:
    """Tra cứu nhật ký: by person, unit, action, period and dates; auditors, leadership, office."""
    if not _may_search(request.user):
        raise PermissionDenied("Tra cứu nhật ký dành cho kiểm tra, Lãnh đạo Sở và Văn phòng Sở.")
    units = list(Unit.objects.order_by("order", "name"))
    # Every period of every plan (one query); a period id the URL names that is none of them
    # is said so on the page, with a 404.
    periods = selectors.period_choices(timezone.localdate())
    form = SearchForm(request.GET or None, units=units, periods=periods)
    context: dict[str, Any] = {"form": form, "entries": [], "has_older": False, "has_newer": False}
    asked = selectors.parse_id(request.GET.get("period", ""))
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

"""Lịch sử xử lý: one task's audit history (page, PDF, .xlsx) and the audit search.

Both read the audit trail (``AuditEvent``), never the current state of the records: what
the page shows is what was recorded when each person acted (their unit and role then,
the report as submitted, the SHA-256 of each file).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from audit.models import AuditEvent, action_label
from plans.models import Membership
from workflow import selectors
from workflow.models import PeriodTask, Step

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
KIND_FIELDS: dict[str, tuple[str, ...]] = {
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
    before: dict[str, Any] = data["before"] if isinstance(data.get("before"), dict) else {}
    after: dict[str, Any] = data["after"] if isinstance(data.get("after"), dict) else {}
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
        if step.unit is not None:
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


# --- the audit search ---------------------------------------------------------------------


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

"""Reads of the plan as data: the plan table page, the import preview, the exports.

The plan table is assembled in Python from one task query (criterion, section, appendix
and group joined in) and two prefetches (lead and partner units), so the page costs the
same number of queries for 3 tasks or 300.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from plans.models import Appendix, Criterion, Plan, PlanTask, Section, Unit
from plans.parsing import ParsedPlan
from plans.text import fold, nfc

PAR_HEADERS = [
    "TT",
    "Lĩnh vực/Tiêu chí/Tiêu chí thành phần",
    "Mục tiêu",
    "Nhiệm vụ, giải pháp",
    "Đơn vị chủ trì thực hiện",
    "Cơ quan phối hợp thực hiện",
    "Thời gian thực hiện",
]
OTHER_HEADERS = [h for h in PAR_HEADERS if h != "Mục tiêu"]
TIMELINE_LABELS = dict(PlanTask.TimelineKind.choices)
INDEX_LABELS = dict(Appendix.Index.choices)


@dataclass(frozen=True)
class PlanFilters:
    """The plan page's filters, already validated (None / "" = not filtering)."""

    appendix: int | None = None  # appendix number
    unit: Unit | None = None  # as lead or as partner
    kind: str | None = None  # PlanTask.TimelineKind
    q: str = ""

    @property
    def active(self) -> bool:
        return bool(self.appendix or self.unit or self.kind or self.q.strip())


@dataclass
class HeadingRow:
    """A section (I, II ...) or group (1, 2 ...) row spanning the table."""

    kind: str  # "section" | "group"
    code: str
    title: str


@dataclass
class UnitLabel:
    short_name: str
    name: str


@dataclass
class TaskRow:
    """One task row; TT and criterion cells are drawn on the criterion's first row."""

    first: bool
    span: int
    ordinal: str
    criterion: str
    target: str
    task: str
    lead_text: str
    lead_units: list[UnitLabel]
    partner_text: str
    partner_units: list[UnitLabel]
    timeline_text: str
    timeline_kind: str
    inherited: list[str]
    lead_unresolved: list[str] = field(default_factory=list)  # preview only: names not recognised
    partner_unresolved: list[str] = field(default_factory=list)
    row: int | None = None  # preview only: the task's line in the file
    key: str = ""
    kind: str = "task"

    @property
    def timeline_label(self) -> str:
        return TIMELINE_LABELS.get(self.timeline_kind, "")

    @property
    def timeline_pill(self) -> str:
        """The kind's label, when it says more than the text written in the plan."""
        label = self.timeline_label
        if self.timeline_kind == PlanTask.TimelineKind.NONE or fold(label) == fold(self.timeline_text):
            return ""
        return str(label)


@dataclass
class AppendixTable:
    number: int
    index: str
    title: str
    has_target: bool
    columns: list[str]
    rows: list[HeadingRow | TaskRow] = field(default_factory=list)

    @property
    def index_label(self) -> str:
        return INDEX_LABELS.get(self.index, "")

    @property
    def task_count(self) -> int:
        return sum(1 for r in self.rows if isinstance(r, TaskRow))

    @property
    def inherited_count(self) -> int:
        return sum(len(r.inherited) for r in self.rows if isinstance(r, TaskRow))

    @property
    def headers(self) -> list[str]:
        return headers_for(self.has_target, self.columns)


def headers_for(has_target: bool, columns: Iterable[str]) -> list[str]:
    """The document's own column titles when they fit the table, else the standard ones."""
    columns = [nfc(c) for c in columns]
    standard = PAR_HEADERS if has_target else OTHER_HEADERS
    return columns if len(columns) == len(standard) and all(columns) else list(standard)


def criterion_label(code: str, name: str) -> str:
    return f"{code}. {name}" if code else name


# --- Plans ------------------------------------------------------------------------------------


def plans_list() -> list[Plan]:
    return list(Plan.objects.order_by("-year", "-pk"))


def plan_choose(plans: list[Plan], raw_pk: str | None) -> Plan | None:
    """The plan a ``plan`` GET parameter names, else the newest; None when there is none."""
    if raw_pk and raw_pk.isdigit():
        for plan in plans:
            if plan.pk == int(raw_pk):
                return plan
    return plans[0] if plans else None


# --- The plan table ---------------------------------------------------------------------------


def plan_tasks_queryset(plan: Plan, filters: PlanFilters) -> QuerySet[PlanTask]:
    tasks = PlanTask.objects.for_page().filter(plan=plan).order_by("position")
    if filters.appendix:
        tasks = tasks.filter(criterion__section__appendix__number=filters.appendix)
    if filters.unit is not None:
        # Subqueries rather than OR-ed joins: no duplicate rows, no DISTINCT needed.
        led = PlanTask.lead_units.through.objects.filter(unit=filters.unit).values("plantask_id")
        partnered = PlanTask.partner_units.through.objects.filter(unit=filters.unit).values("plantask_id")
        tasks = tasks.filter(Q(pk__in=led) | Q(pk__in=partnered))
    if filters.kind:
        tasks = tasks.filter(timeline_kind=filters.kind)
    folded = fold(filters.q)
    if folded:
        # search_text is stored folded (no diacritics, đ -> d, lower case), so a plain
        # icontains works the same on SQLite and PostgreSQL.
        tasks = tasks.filter(search_text__icontains=folded)
    return tasks


def plan_tasks_for_page(plan: Plan, filters: PlanFilters) -> list[AppendixTable]:
    """The plan as the original tables (appendix -> section -> group -> criterion -> task).

    Three queries whatever the plan's size: tasks with their hierarchy, lead units,
    partner units.
    """
    tasks = list(plan_tasks_queryset(plan, filters))
    spans = Counter(t.criterion_id for t in tasks)
    tables: list[AppendixTable] = []
    section_id = group_id = criterion_id = None
    for t in tasks:
        criterion = t.criterion
        section = criterion.section
        appendix = section.appendix
        if not tables or tables[-1].number != appendix.number:
            tables.append(
                AppendixTable(
                    number=appendix.number,
                    index=appendix.index,
                    title=appendix.title,
                    has_target=appendix.has_target,
                    columns=list(appendix.columns),
                )
            )
            section_id = group_id = criterion_id = None
        table = tables[-1]
        if section.pk != section_id:
            section_id, group_id = section.pk, None
            if section.code or section.title:
                table.rows.append(HeadingRow("section", section.code, section.title))
        if criterion.group_id and criterion.group_id != group_id:
            group_id = criterion.group_id
            table.rows.append(HeadingRow("group", criterion.group.code, criterion.group.title))
        first = criterion.pk != criterion_id
        criterion_id = criterion.pk
        table.rows.append(
            TaskRow(
                first=first,
                span=spans[criterion.pk],
                ordinal=criterion.ordinal,
                criterion=criterion_label(criterion.code, criterion.name),
                target=t.target,
                task=t.task,
                lead_text=t.lead_text,
                lead_units=[UnitLabel(u.short_name, u.name) for u in t.lead_units.all()],
                partner_text=t.partner_text,
                partner_units=[UnitLabel(u.short_name, u.name) for u in t.partner_units.all()],
                timeline_text=t.timeline_text,
                timeline_kind=t.timeline_kind,
                inherited=list(t.inherited),
                key=t.key,
            )
        )
    return tables


def tables_from_parsed(parsed: ParsedPlan, units: Iterable[Unit]) -> list[AppendixTable]:
    """The same tables for a parsed file not yet imported (the upload preview)."""
    short = {u.name: u.short_name for u in units}

    def labels(names: Iterable[str]) -> list[UnitLabel]:
        return [UnitLabel(short.get(n, n), n) for n in names]

    tables = []
    for appendix in parsed.appendices:
        table = AppendixTable(
            number=appendix.number,
            index=appendix.index,
            title=appendix.title,
            has_target=appendix.index == Appendix.Index.PAR,
            columns=list(appendix.columns),
        )
        tables.append(table)
        for section in appendix.sections:
            if section.code or section.title:
                table.rows.append(HeadingRow("section", section.code, section.title))
            group_titles = {g.code: g.title for g in section.groups}
            group_code = None
            for criterion in section.criteria:
                if criterion.group_code and criterion.group_code != group_code:
                    group_code = criterion.group_code
                    table.rows.append(HeadingRow("group", group_code, group_titles.get(group_code, "")))
                for i, t in enumerate(criterion.tasks):
                    folded_lead = fold(t.lead_text)
                    lead_unresolved = [u for u in t.unresolved if fold(u) and fold(u) in folded_lead]
                    partner_unresolved = [u for u in t.unresolved if u not in lead_unresolved]
                    table.rows.append(
                        TaskRow(
                            first=i == 0,
                            span=len(criterion.tasks),
                            ordinal=criterion.ordinal,
                            criterion=criterion_label(criterion.code, criterion.name),
                            target=t.target,
                            task=t.task,
                            lead_text=t.lead_text,
                            lead_units=labels(t.lead_units),
                            partner_text=t.partner_text,
                            partner_units=labels(t.partner_units),
                            timeline_text=t.timeline_text,
                            timeline_kind=t.timeline_kind,
                            inherited=list(t.inherited),
                            lead_unresolved=lead_unresolved,
                            partner_unresolved=partner_unresolved,
                            row=t.row,
                        )
                    )
    return tables


# --- Exports ----------------------------------------------------------------------------------


def _export_appendices(plan: Plan) -> QuerySet[Appendix]:
    tasks = PlanTask.objects.prefetch_related("lead_units", "partner_units").order_by("position")
    criteria = Criterion.objects.select_related("group").prefetch_related(Prefetch("tasks", queryset=tasks))
    sections = Section.objects.prefetch_related("groups", Prefetch("criteria", queryset=criteria))
    return plan.appendices.order_by("number").prefetch_related(Prefetch("sections", queryset=sections))


def plan_export_data(plan: Plan) -> dict[str, Any]:
    """The plan as plain data; the format is documented in docs/plan-json.md."""
    return {
        "format": "cchc-plan/1",
        "plan": {
            "id": plan.pk,
            "title": plan.title,
            "year": plan.year,
            "source_name": plan.source_name,
            "source_sha256": plan.source_sha256,
        },
        "appendices": [
            {
                "number": appendix.number,
                "index": appendix.index,
                "title": appendix.title,
                "columns": list(appendix.columns),
                "sections": [
                    {
                        "code": section.code,
                        "title": section.title,
                        "groups": [{"code": g.code, "title": g.title} for g in section.groups.all()],
                        "criteria": [
                            {
                                "ordinal": criterion.ordinal,
                                "code": criterion.code,
                                "name": criterion.name,
                                "group": criterion.group.code if criterion.group_id else None,
                                "tasks": [_export_task(t) for t in criterion.tasks.all()],
                            }
                            for criterion in section.criteria.all()
                        ],
                    }
                    for section in appendix.sections.all()
                ],
            }
            for appendix in _export_appendices(plan)
        ],
    }


def _export_task(t: PlanTask) -> dict[str, Any]:
    return {
        "key": t.key,
        "target": t.target,
        "task": t.task,
        "lead_text": t.lead_text,
        "lead_units": [u.name for u in t.lead_units.all()],
        "partner_text": t.partner_text,
        "partner_units": [u.name for u in t.partner_units.all()],
        "timeline_text": t.timeline_text,
        "timeline_kind": t.timeline_kind,
        "due_date": t.due_date.isoformat() if t.due_date else None,
        "inherited": list(t.inherited),
    }


_WIDTHS_PAR = [6, 40, 34, 60, 26, 26, 16]
_WIDTHS_OTHER = [6, 44, 64, 26, 26, 16]

"""Reads of the plan as data: the plan table page, the import preview, the exports.

The plan table is assembled in Python from one task query (criterion, section, appendix
and group joined in) and two unit queries (lead and partner units), all three read as plain
rows of the columns shown, so the page costs the same number of queries for 3 tasks or 300
and builds no model instance per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from typing import Any

from django.db.models import Case, F, Prefetch, Q, QuerySet, Subquery, When
from django.utils.safestring import SafeString, mark_safe

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
PILL_COLOURS = {PlanTask.TimelineKind.ONGOING.value: "blue", PlanTask.TimelineKind.YEAR.value: "orange"}


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
    # The plan page only: the task's status in the chosen period (workflow.counting).
    status_label: str = ""
    status_colour: str = ""

    @property
    def rowspan(self) -> str:
        """``span`` as text, for the template (an int would be localised on every use)."""
        return str(self.span)

    @property
    def timeline_label(self) -> str:
        return str(TIMELINE_LABELS.get(self.timeline_kind, ""))  # the label is lazy; read in the request

    @cached_property
    def timeline_pill(self) -> str:
        """The kind's label, when it says more than the text written in the plan.

        Cached: the template asks twice per row, and folding both texts is not free."""
        label = self.timeline_label
        if self.timeline_kind == PlanTask.TimelineKind.NONE or fold(label) == fold(self.timeline_text):
            return ""
        return str(label)

    @property
    def timeline_colour(self) -> str:
        """The pill's colour class."""
        return PILL_COLOURS.get(self.timeline_kind, "grey")


@dataclass
class AppendixTable:
    number: int
    index: str
    title: str
    has_target: bool
    columns: list[str]
    rows: list[HeadingRow | TaskRow] = field(default_factory=list)
    # The plan page only: (label, colour, count) of each status in the chosen period.
    status_counts: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def index_label(self) -> str:
        return str(INDEX_LABELS.get(self.index, ""))  # the label is lazy; read in the request

    @property
    def task_count(self) -> int:
        return sum(1 for r in self.rows if isinstance(r, TaskRow))

    @property
    def inherited_count(self) -> int:
        return sum(len(r.inherited) for r in self.rows if isinstance(r, TaskRow))

    @cached_property
    def headers(self) -> list[str]:
        """Cached (it depends only on has_target and columns): every heading row's colspan asks."""
        return headers_for(self.has_target, self.columns)

    @cached_property
    def heading_span(self) -> str:
        """The colspan of a section or group row's title cell (all columns but TT), as text:
        the template prints it on every heading row, and an int would be localised each time."""
        return str(len(self.headers) - 1)


def headers_for(has_target: bool, columns: Iterable[str]) -> list[str]:
    """The document's own column titles when they fit the table, else the standard ones."""
    columns = [nfc(c) for c in columns]
    standard = PAR_HEADERS if has_target else OTHER_HEADERS
    return columns if len(columns) == len(standard) and all(columns) else list(standard)


def criterion_label(code: str, name: str) -> str:
    return f"{code}. {name}" if code else name


# --- Plans ------------------------------------------------------------------------------------

# Every column of a plan, in the model's order, so that the chosen row becomes a whole Plan.
_PLAN_COLUMNS = tuple(f.attname for f in Plan._meta.concrete_fields)


def plan_pick(raw_pk: str | None) -> tuple[Plan | None, list[dict[str, Any]]]:
    """The plan a ``plan`` GET parameter names (else the newest; None when there is none) and
    the plan picker's options (``pk`` as text, ``label``, ``selected``), newest first.

    One query of plain rows: a province keeps hundreds of plans over the years and the picker
    shows only their year and title, so only the chosen row is made a model instance. Its
    ``imported_at`` is read for the two rows that can be chosen (the one named, the newest)
    and left NULL on the others: decoding hundreds of timestamps nobody shows is the bulk of
    this query's cost.
    """
    wanted = int(raw_pk) if raw_pk and raw_pk.isascii() and raw_pk.isdigit() else None
    queryset = Plan.objects.order_by("-year", "-pk")
    candidates = Q(pk=Subquery(queryset.values("pk")[:1]))
    if wanted is not None:
        candidates |= Q(pk=wanted)
    columns = tuple("stamp" if name == "imported_at" else name for name in _PLAN_COLUMNS)
    rows = list(queryset.annotate(stamp=Case(When(candidates, then=F("imported_at")))).values_list(*columns))
    if not rows:
        return None, []
    pk_at, year_at, title_at = (_PLAN_COLUMNS.index(name) for name in ("id", "year", "title"))
    chosen = next((row for row in rows if row[pk_at] == wanted), rows[0])
    plan = Plan.from_db(queryset.db, _PLAN_COLUMNS, chosen)
    options = [
        {"pk": str(row[pk_at]), "label": f"{row[year_at]} – {row[title_at]}", "selected": row is chosen}
        for row in rows
    ]
    return plan, options


def plan_options_html(options: list[dict[str, Any]]) -> SafeString:
    """The plan picker's ``<option>``s as one escaped string (a province keeps hundreds of plans:
    a template loop over them costs more than the rest of the plan page's header)."""
    return mark_safe(  # noqa: S308 - every value in it is escaped
        "".join(
            f'<option value="{escape(o["pk"])}"{" selected" if o["selected"] else ""}>{escape(o["label"])}</option>'
            for o in options
        )
    )


# --- The plan table ---------------------------------------------------------------------------


def plan_tasks_queryset(plan: Plan, filters: PlanFilters) -> QuerySet[PlanTask]:
    tasks = PlanTask.objects.filter(plan=plan).order_by("position")
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


# The columns the tables show, read as plain rows: no model instances for the task and its
# criterion, section, appendix and group, and none of the wide columns the page never shows
# (search_text, due_date ...).
_TASK_COLUMNS = (
    "pk",
    "key",
    "target",
    "task",
    "lead_text",
    "partner_text",
    "timeline_text",
    "timeline_kind",
    "inherited",
    "criterion_id",
    "criterion__ordinal",
    "criterion__code",
    "criterion__name",
    "criterion__group_id",
    "criterion__group__code",
    "criterion__group__title",
    "criterion__section_id",
    "criterion__section__code",
    "criterion__section__title",
    "criterion__section__appendix__number",
    "criterion__section__appendix__index",
    "criterion__section__appendix__title",
    "criterion__section__appendix__columns",
)


def _unit_labels(through: Any, task_ids: list[int]) -> dict[int, list[UnitLabel]]:
    """Each task's units (lead or partner, by the through table given) in the units' order;
    one label object per unit, shared by the rows that name it."""
    rows = (
        through.objects.filter(plantask_id__in=task_ids)
        .order_by("unit__order", "unit__name", "unit_id")
        .values_list("plantask_id", "unit_id", "unit__short_name", "unit__name")
    )
    labels: dict[int, UnitLabel] = {}
    by_task: dict[int, list[UnitLabel]] = {}
    for task_id, unit_id, short_name, name in rows:
        label = labels.get(unit_id)
        if label is None:
            label = labels[unit_id] = UnitLabel(short_name, name)
        by_task.setdefault(task_id, []).append(label)
    return by_task


def plan_tasks_for_page(plan: Plan, filters: PlanFilters) -> list[AppendixTable]:
    """The plan as the original tables (appendix -> section -> group -> criterion -> task).

    Three queries whatever the plan's size: tasks with their hierarchy (plain rows), lead
    units, partner units.
    """
    tasks = list(plan_tasks_queryset(plan, filters).values_list(*_TASK_COLUMNS))
    if not tasks:
        return []
    task_ids = [t[0] for t in tasks]
    leads = _unit_labels(PlanTask.lead_units.through, task_ids)
    partners = _unit_labels(PlanTask.partner_units.through, task_ids)
    spans = Counter(t[9] for t in tasks)
    tables: list[AppendixTable] = []
    section_id = group_id = criterion_id = None
    par = Appendix.Index.PAR.value
    for (
        pk,
        key,
        target,
        task,
        lead_text,
        partner_text,
        timeline_text,
        timeline_kind,
        inherited,
        criterion_pk,
        ordinal,
        criterion_code,
        criterion_name,
        criterion_group_id,
        group_code,
        group_title,
        criterion_section_id,
        section_code,
        section_title,
        number,
        index,
        appendix_title,
        columns,
    ) in tasks:
        if not tables or tables[-1].number != number:
            tables.append(
                AppendixTable(
                    number=number,
                    index=index,
                    title=appendix_title,
                    has_target=index == par,
                    columns=list(columns),
                )
            )
            section_id = group_id = criterion_id = None
        table = tables[-1]
        if criterion_section_id != section_id:
            section_id, group_id = criterion_section_id, None
            if section_code or section_title:
                table.rows.append(HeadingRow("section", section_code, section_title))
        if criterion_group_id and criterion_group_id != group_id:
            group_id = criterion_group_id
            table.rows.append(HeadingRow("group", group_code, group_title))
        first = criterion_pk != criterion_id
        criterion_id = criterion_pk
        table.rows.append(
            TaskRow(
                first=first,
                span=spans[criterion_pk],
                ordinal=ordinal,
                criterion=criterion_label(criterion_code, criterion_name),
                target=target,
                task=task,
                lead_text=lead_text,
                lead_units=leads.get(pk, []),
                partner_text=partner_text,
                partner_units=partners.get(pk, []),
                timeline_text=timeline_text,
                timeline_kind=timeline_kind,
                inherited=list(inherited),
                key=key,
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
                                "group": criterion.group.code if criterion.group is not None else None,
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

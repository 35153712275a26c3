"""Tổng quan tiến độ: results of one reporting period counted per the national convention.

Selectors first, then the two pages. Every count is computed in the database by
conditional aggregation (one grouped query per breakdown) with the conditions of the one
counting rule (``workflow.counting``), so the dashboard costs a fixed number of queries
whatever the number of processes, and shows the numbers the period report shows. A
cancelled run and a task without a run are no result of the period: they are on lines of
their own, outside the buckets and the total.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    QuerySet,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from plans.models import PlanTask, ReportingPeriod, Section, Unit
from plans.roles import roles_of
from workflow import access, counting, selectors
from workflow.models import BUCKET_COLOURS, Bucket, Line, PeriodTask, Stage, Step
from workflow.selectors import parse_id

PAGE_SIZE = 50
OVERDUE_STEPS_SHOWN = 50
BUCKETS = counting.BUCKETS
LINES = counting.LINES
STATUSES = counting.STATUSES
# The statuses whose tasks the task list shows: runs (buckets and cancelled runs).
LISTED = (*BUCKETS, Line.CANCELED.value)


# --- who sees what -----------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardScope:
    """The whole department (unit None) or the tasks one unit leads (its head's view)."""

    unit: Unit | None = None


def dashboard_scope_for_user(user: Any) -> DashboardScope:
    """Office, leadership and auditors see the department; a unit head sees their unit; others 403."""
    scope = access.capabilities(user).dashboard_scope
    if scope == "all":
        return DashboardScope()
    if scope == "unit":
        return DashboardScope(unit=roles_of(user).unit)
    raise PermissionDenied(
        "Trang tổng quan dành cho Lãnh đạo Sở, Văn phòng Sở, trưởng đơn vị và người kiểm tra."
    )


# --- the counts, by the one rule (workflow.counting) ------------------------------------------


def _count_columns(rule: counting.PeriodRule, today: datetime.date) -> dict[str, Count]:
    return {f"n_{status}": Count("pk", filter=c) for status, c in rule.conditions(today).items()}


def _counts_of(row: Mapping[str, Any]) -> dict[str, int]:
    return {status: row[f"n_{status}"] for status in STATUSES}


# --- selectors ---------------------------------------------------------------------------


def period_for(wanted: int | None, today: datetime.date) -> ReportingPeriod | None:
    """The period asked for by id (``UnknownPeriod`` when there is none), else the default one;
    one query."""
    if wanted is None:
        return selectors.period_default(today)
    period = ReportingPeriod.objects.select_related("plan").filter(pk=wanted).first()
    if period is None:
        raise UnknownPeriod
    return period


class UnknownPeriod(Exception):
    """A URL asked for a period that does not exist: the page says so (404)."""


def _led_by(unit: Unit, plan_task_ref: str) -> Exists:
    return Exists(
        PlanTask.lead_units.through.objects.filter(plantask_id=OuterRef(plan_task_ref), unit_id=unit.pk)
    )


def plan_tasks_in_scope(*, rule: counting.PeriodRule, scope: DashboardScope) -> QuerySet[PlanTask]:
    """The period's population (every task of the plan, with its run), limited to the tasks
    the scope's unit leads."""
    qs = rule.plan_tasks()
    if scope.unit is not None:
        qs = qs.filter(_led_by(scope.unit, "pk"))
    return qs


def period_tasks_in_scope(*, period: ReportingPeriod, scope: DashboardScope) -> QuerySet[PeriodTask]:
    """The period's runs (cancelled ones included: a filter picks them), limited to the tasks
    the scope's unit leads."""
    qs = PeriodTask.objects.filter(period=period)
    if scope.unit is not None:
        qs = qs.filter(_led_by(scope.unit, "plan_task_id"))
    return qs


def bucket_counts_by_section(
    *, rule: counting.PeriodRule, scope: DashboardScope, today: datetime.date
) -> list[dict[str, Any]]:
    """One row per section (with its appendix) of the plan: the count of each status."""
    rows = (
        plan_tasks_in_scope(rule=rule, scope=scope)
        .values(
            appendix_number=F("criterion__section__appendix__number"),
            appendix_title=F("criterion__section__appendix__title"),
            section_pk=F("criterion__section_id"),
            section_code=F("criterion__section__code"),
            section_title=F("criterion__section__title"),
            section_order=F("criterion__section__order"),
        )
        .annotate(**_count_columns(rule, today))
        .order_by("appendix_number", "section_order", "section_pk")
    )
    return [{**row, "counts": _counts_of(row)} for row in rows]


def bucket_counts_by_unit(
    *, rule: counting.PeriodRule, scope: DashboardScope, today: datetime.date
) -> list[dict[str, Any]]:
    """One row per lead unit: a task counts once for each of its lead units."""
    rows = (
        plan_tasks_in_scope(rule=rule, scope=scope)
        .filter(lead_units__isnull=False)
        .values(
            unit_pk=F("lead_units__id"),
            unit_name=F("lead_units__name"),
            unit_short=F("lead_units__short_name"),
            unit_order=F("lead_units__order"),
        )
        .annotate(**_count_columns(rule, today))
        .order_by("unit_order", "unit_name")
    )
    # A head sees their own unit's row, not the co-leads of the tasks they share.
    return [
        {**row, "counts": _counts_of(row)}
        for row in rows
        if scope.unit is None or row["unit_pk"] == scope.unit.pk
    ]


def overdue_open_steps(
    *, period: ReportingPeriod, scope: DashboardScope, today: datetime.date, limit: int = OVERDUE_STEPS_SHOWN
) -> list[Step]:
    """Open steps past their due date, oldest first, with who holds them (limit + 1 rows)."""
    qs = (
        Step.objects.filter(period_task__period=period, state=Step.State.OPEN, due_date__lt=today)
        .exclude(period_task__stage=Stage.CANCELED)
        .select_related("period_task__plan_task", "unit", "assignee")
        .order_by("due_date", "pk")
    )
    if scope.unit is not None:
        qs = qs.filter(_led_by(scope.unit, "period_task__plan_task_id"))
    return list(qs[: limit + 1])


@dataclass(frozen=True)
class DashboardFilters:
    """What a count stands for: the GET parameters of the task list behind it."""

    period: int | None = None
    bucket: str | None = None
    appendix: int | None = None  # the appendix number within the period's plan
    section: int | None = None
    unit: int | None = None

    @classmethod
    def from_query(cls, params: Any) -> DashboardFilters:
        bucket = params.get("bucket") or None
        return cls(
            period=parse_id(params.get("period", "")),
            bucket=bucket if bucket in LISTED else None,
            appendix=parse_id(params.get("appendix", "")),
            section=parse_id(params.get("section", "")),
            unit=parse_id(params.get("unit", "")),
        )

    def query(self, **changes: Any) -> str:
        chosen = replace(self, **changes)
        names = ("period", "bucket", "appendix", "section", "unit")
        return urlencode({name: getattr(chosen, name) for name in names if getattr(chosen, name) is not None})

    def apply(
        self, qs: QuerySet[PeriodTask], rule: counting.PeriodRule, today: datetime.date
    ) -> QuerySet[PeriodTask]:
        conditions = rule.conditions(today, anchor="run")
        # Without a status: the runs the period's result counts (every bucket, no cancelled run).
        qs = qs.filter(conditions[self.bucket]) if self.bucket else qs.exclude(stage=Stage.CANCELED)
        if self.appendix:
            qs = qs.filter(plan_task__criterion__section__appendix__number=self.appendix)
        if self.section:
            qs = qs.filter(plan_task__criterion__section_id=self.section)
        if self.unit:
            qs = qs.filter(
                Exists(
                    PlanTask.lead_units.through.objects.filter(
                        plantask_id=OuterRef("plan_task_id"), unit_id=self.unit
                    )
                )
            )
        return qs


def period_task_list(
    *, rule: counting.PeriodRule, scope: DashboardScope, filters: DashboardFilters, today: datetime.date
) -> QuerySet[PeriodTask]:
    """The runs behind one count, in plan order, each with its status (two queries a page)."""
    return (
        filters.apply(period_tasks_in_scope(period=rule.period, scope=scope), rule, today)
        .annotate(bucket_code=rule.annotation(today, anchor="run"))
        .select_related("plan_task__criterion__section__appendix", "period__plan")
        .prefetch_related("plan_task__lead_units")
        .order_by("plan_task__position", "pk")
    )


# --- presentation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    bucket: str
    label: str
    colour: str
    count: int
    url: str
    percent: int  # whole percent, so the bar's width is a class (the CSP allows no inline style)


@dataclass
class CountRow:
    """One line of a breakdown: counts per bucket, each linked to its tasks, and a stacked bar."""

    label: str
    title: str
    total: int
    total_url: str
    cells: list[Cell] = field(default_factory=list)
    is_group: bool = False
    lines: list[Cell] = field(default_factory=list)  # outside the buckets (``Line``)
    everything: int = 0  # the plan's tasks in this row: total plus the lines


def whole_percents(counts: list[int]) -> list[int]:
    """Shares of 100 that add up to exactly 100 (largest remainder), or all 0 when empty."""
    total = sum(counts)
    if not total:
        return [0] * len(counts)
    exact = [n * 100 / total for n in counts]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: 100 - sum(shares)]:
        shares[i] += 1
    return shares


def count_row(
    *,
    label: str,
    title: str = "",
    counts: Mapping[str, int],
    filters: DashboardFilters,
    is_group: bool = False,
) -> CountRow:
    base = reverse("dashboard:tasks")
    total = counting.national_total(dict(counts))
    percents = whole_percents([counts[bucket] for bucket in BUCKETS])
    return CountRow(
        label=label,
        title=title,
        total=total,
        total_url=f"{base}?{filters.query()}",
        is_group=is_group,
        everything=sum(counts[status] for status in STATUSES),
        lines=[
            Cell(
                bucket=line,
                label=str(Line(line).label),
                colour=BUCKET_COLOURS[Line(line)],
                count=counts[line],
                # Cancelled runs are runs: listed; the other lines are plan tasks without a run.
                url=f"{base}?{filters.query(bucket=line)}" if line == Line.CANCELED else "",
                percent=0,
            )
            for line in LINES
        ],
        cells=[
            Cell(
                bucket=bucket,
                label=str(Bucket(bucket).label),
                colour=BUCKET_COLOURS[Bucket(bucket)],
                count=counts[bucket],
                url=f"{base}?{filters.query(bucket=bucket)}",
                percent=percent,
            )
            for bucket, percent in zip(BUCKETS, percents, strict=True)
        ],
    )


def _sum(rows: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total = counting.counts_zero()
    for counts in rows:
        for status in STATUSES:
            total[status] += counts[status]
    return total


CHART_HEIGHT = 160  # the tallest bar, in the SVG's viewBox units (the viewBox is 620 x 240)
CHART_BASELINE = 190
CHART_NAMES = {
    Bucket.DONE_ON_TIME: ("Hoàn thành", "đúng hạn"),
    Bucket.DONE_LATE: ("Hoàn thành", "quá hạn"),
    Bucket.OPEN_IN_TIME: ("Chưa hoàn thành", "trong hạn"),
    Bucket.OPEN_OVERDUE: ("Chưa hoàn thành", "quá hạn"),
    Bucket.NOT_STARTED: ("Chưa thực hiện", ""),
}


def chart_bars(total: CountRow) -> list[dict[str, Any]]:
    """The period's totals as bars of the inline SVG chart: integer geometry, so nothing is localised."""
    highest = max((cell.count for cell in total.cells), default=0) or 1
    bars = []
    for index, cell in enumerate(total.cells):
        height = round(cell.count * CHART_HEIGHT / highest)
        x = 20 + index * 120
        bars.append(
            {
                "cell": cell,
                "x": x,
                "centre": x + 40,
                "y": CHART_BASELINE - height,
                "height": height,
                "value_y": CHART_BASELINE - height - 6,
                "names": CHART_NAMES[Bucket(cell.bucket)],
            }
        )
    return bars


# Who picks up an unclaimed step that has no unit: the office reviews, leadership signs off.
STEP_POOLS = {Step.Kind.REVIEW: "Văn phòng Sở", Step.Kind.SIGN_OFF: "Lãnh đạo Sở"}


# --- pages -------------------------------------------------------------------------------


def _appendix_and_section_rows(
    sections: list[dict[str, Any]], filters: DashboardFilters
) -> tuple[list[CountRow], list[CountRow]]:
    """Appendix rows are sums of their sections (a run belongs to one section): no extra query."""
    appendix_rows: list[CountRow] = []
    section_rows: list[CountRow] = []
    for number in dict.fromkeys(row["appendix_number"] for row in sections):
        mine = [row for row in sections if row["appendix_number"] == number]
        appendix = count_row(
            label=f"Phụ lục {number}",
            title=mine[0]["appendix_title"],
            counts=_sum(row["counts"] for row in mine),
            filters=replace(filters, appendix=number),
        )
        appendix_rows.append(appendix)
        section_rows.append(replace(appendix, is_group=True))
        section_rows.extend(
            count_row(
                label=f"{row['section_code']}. {row['section_title']}"
                if row["section_code"]
                else row["section_title"] or "—",
                counts=row["counts"],
                filters=replace(filters, section=row["section_pk"]),
            )
            for row in mine
        )
    return appendix_rows, section_rows


UNKNOWN_PERIOD = selectors.UNKNOWN_PERIOD


def _unknown_period(request: HttpRequest, scope: DashboardScope, today: datetime.date) -> HttpResponse:
    """A URL named a period that does not exist: the page says so, with the picker (404)."""
    periods = selectors.period_choices(today, with_deadline=True)
    context = {
        "scope": scope,
        "periods": periods,
        "period_options": selectors.period_options_html(periods, None),
        "period": None,
        "today": today,
        "unknown_period": UNKNOWN_PERIOD,
    }
    return render(request, "dashboard/index.html", context, status=404)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    scope = dashboard_scope_for_user(request.user)
    today = timezone.localdate()
    try:
        period = period_for(parse_id(request.GET.get("period", "")), today)
    except UnknownPeriod:
        return _unknown_period(request, scope, today)
    periods = selectors.period_choices(today, with_deadline=True)
    context: dict[str, Any] = {
        "scope": scope,
        "periods": periods,
        "period_options": selectors.period_options_html(periods, period.pk if period else None),
        "period": period,
        "today": today,
    }
    if period is None:
        return render(request, "dashboard/index.html", context)

    filters = DashboardFilters(period=period.pk)
    rule = counting.rule_for(period)
    sections = bucket_counts_by_section(rule=rule, scope=scope, today=today)
    appendix_rows, section_rows = _appendix_and_section_rows(sections, filters)
    unit_rows = [
        count_row(
            label=row["unit_short"],
            title=row["unit_name"],
            counts=row["counts"],
            filters=replace(filters, unit=row["unit_pk"]),
        )
        for row in bucket_counts_by_unit(rule=rule, scope=scope, today=today)
    ]
    total = count_row(label="Tổng", counts=_sum(row["counts"] for row in sections), filters=filters)
    steps = overdue_open_steps(period=period, scope=scope, today=today)
    for step in steps:
        step.days_late = (today - step.due_date).days
        step.holder_pool = step.unit.name if step.unit else STEP_POOLS.get(step.kind, "")
    context.update(
        total=total,
        chart=chart_bars(total),
        chart_baseline=CHART_BASELINE,
        appendix_rows=appendix_rows,
        section_rows=section_rows,
        unit_rows=unit_rows,
        not_launched=total.lines[LINES.index(Line.NOT_LAUNCHED)].count,
        overdue_steps=steps[:OVERDUE_STEPS_SHOWN],
        more_overdue_steps=len(steps) > OVERDUE_STEPS_SHOWN,
        can_launch=access.capabilities(request.user).launch,
        legend=[(str(Bucket(b).label), BUCKET_COLOURS[Bucket(b)]) for b in BUCKETS],
        line_legend=[str(Line(line).label) for line in LINES],
    )
    return render(request, "dashboard/index.html", context)


@login_required
@require_GET
def tasks(request: HttpRequest) -> HttpResponse:
    scope = dashboard_scope_for_user(request.user)
    today = timezone.localdate()
    try:
        period = period_for(parse_id(request.GET.get("period", "")), today)
    except UnknownPeriod:
        return _unknown_period(request, scope, today)
    if period is None:
        raise Http404("Chưa có kỳ báo cáo nào.")
    filters = replace(DashboardFilters.from_query(request.GET), period=period.pk)
    rule = counting.rule_for(period)
    number = parse_id(request.GET.get("page", "1")) or 1
    if number >= 100_000:
        number = 1
    start = (number - 1) * PAGE_SIZE
    # A page without COUNT(*): one row more than shown tells whether there is a next page.
    rows = list(
        period_task_list(rule=rule, scope=scope, filters=filters, today=today)[start : start + PAGE_SIZE + 1]
    )
    for row in rows:
        row.bucket_label = counting.status_label(row.bucket_code)
        row.bucket_colour = BUCKET_COLOURS[row.bucket_code]
    section = (
        Section.objects.select_related("appendix").filter(pk=filters.section).first()
        if filters.section
        else None
    )
    unit = Unit.objects.filter(pk=filters.unit).first() if filters.unit else None
    return render(
        request,
        "dashboard/tasks.html",
        {
            "scope": scope,
            "period": period,
            "filters": filters,
            "bucket_label": counting.status_label(filters.bucket) if filters.bucket else "",
            "bucket_colour": BUCKET_COLOURS[filters.bucket] if filters.bucket else "",
            "section": section,
            "unit": unit,
            "period_tasks": rows[:PAGE_SIZE],
            "page": number,
            "has_next": len(rows) > PAGE_SIZE,
            "query": filters.query(),
            "back_url": f"{reverse('dashboard:index')}?{urlencode({'period': period.pk})}",
        },
    )

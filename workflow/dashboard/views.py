"""Tổng quan tiến độ: the two pages (the period's counts per section and unit, and the task list
behind each count), built from ``workflow.dashboard.selectors``."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from plans.models import ReportingPeriod, Section, Unit
from workflow import access, counting, selectors
from workflow.dashboard.selectors import (
    BUCKETS,
    LINES,
    OVERDUE_STEPS_SHOWN,
    STATUSES,
    DashboardFilters,
    DashboardScope,
    UnknownPeriod,
    bucket_counts_by_section,
    bucket_counts_by_unit,
    dashboard_scope_for_user,
    overdue_open_steps,
    period_for,
    period_task_list,
)
from workflow.models import BUCKET_COLOURS, Bucket, Line, PeriodTask, Step
from workflow.selectors import parse_id

PAGE_SIZE = 50

# --- presentation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    bucket: str
    label: str
    colour: str
    count: int
    url: str
    percent: int  # whole percent, so the bar's width is a class (the CSP allows no inline style)

    @property
    def link(self) -> SafeString:
        """The count as every table and total prints it: a link to its tasks (a plain number
        for the lines without runs), greyed when zero. Built here, not by a template included
        per cell: the dashboard prints about 400 of them."""
        zero = "" if self.count else " zero"
        if self.url:
            return format_html(
                '<a class="count{}" href="{}" title="{}">{}</a>', zero, self.url, self.label, self.count
            )
        return format_html('<span class="count plain{}" title="{}">{}</span>', zero, self.label, self.count)


@dataclass(frozen=True)
class OverdueStep:
    """An open step past its due date, as the dashboard lists it."""

    step: Step
    days_late: int
    holder_pool: str  # who may take it while nobody has: its unit, the office or the leadership


@dataclass(frozen=True)
class ListedRun:
    """A run on the dashboard's task list, with its status by the counting rule."""

    run: PeriodTask
    label: str
    colour: str


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

    @property
    def bar(self) -> SafeString:
        """The row's stacked bar: one segment per bucket, its width a class (pct-N)."""
        described = "; ".join(f"{c.label}: {c.count}" for c in self.cells)
        segments = format_html_join(
            "",
            '<span class="{} pct-{}" title="{}: {}"></span>',
            ((c.colour, c.percent, c.label, c.count) for c in self.cells),
        )
        return format_html('<div class="bar" role="img" aria-label="{}">{}</div>', described, segments)


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
    base = f"{reverse('dashboard:tasks')}?"
    total = counting.national_total(dict(counts))
    percents = whole_percents([counts[bucket] for bucket in BUCKETS])
    # Cancelled runs are runs: listed; the other lines are plan tasks without a run.
    queries = filters.bucket_queries((*BUCKETS, Line.CANCELED.value))
    return CountRow(
        label=label,
        title=title,
        total=total,
        total_url=base + filters.query(),
        is_group=is_group,
        everything=sum(counts[status] for status in STATUSES),
        lines=[
            Cell(
                bucket=line,
                label=counting.status_label(line),
                colour=BUCKET_COLOURS[line],
                count=counts[line],
                url=base + queries[line] if line in queries else "",
                percent=0,
            )
            for line in LINES
        ],
        cells=[
            Cell(
                bucket=bucket,
                label=counting.status_label(bucket),
                colour=BUCKET_COLOURS[bucket],
                count=counts[bucket],
                url=base + queries[bucket],
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
STEP_POOLS: dict[str, str] = {Step.Kind.REVIEW: "Văn phòng Sở", Step.Kind.SIGN_OFF: "Lãnh đạo Sở"}


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


def _picker_context(
    scope: DashboardScope, today: datetime.date, period: ReportingPeriod | None
) -> dict[str, Any]:
    """The context both the page and its "unknown period" answer start from: the scope, today,
    the chosen period and the period picker (every period with its deadline)."""
    periods = selectors.period_choices(today, period.pk if period else None, with_deadline=True)
    return {
        "scope": scope,
        "periods": periods,
        "period_options": selectors.period_options_html(periods, period.pk if period else None),
        "period": period,
        "today": today,
    }


DashboardView = Callable[..., HttpResponse]


def dashboard_page(view: DashboardView) -> Callable[[HttpRequest], HttpResponse]:
    """What every dashboard page starts with: a signed-in GET, the person's scope, today and the
    period the URL names (else where the pickers open). A period that does not exist is said
    so on the page, with the picker (404)."""

    @login_required
    @require_GET
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        scope = dashboard_scope_for_user(request.user)
        today = timezone.localdate()
        try:
            period = period_for(parse_id(request.GET.get("period", "")), today)
        except UnknownPeriod:
            context = {**_picker_context(scope, today, None), "unknown_period": UNKNOWN_PERIOD}
            return render(request, "dashboard/index.html", context, status=404)
        return view(request, scope=scope, today=today, period=period)

    return wrapper


@dashboard_page
def index(
    request: HttpRequest, *, scope: DashboardScope, today: datetime.date, period: ReportingPeriod | None
) -> HttpResponse:
    context = _picker_context(scope, today, period)
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
    steps = [
        OverdueStep(
            step=step,
            days_late=(today - step.due_date).days,
            holder_pool=step.unit.name if step.unit else STEP_POOLS.get(step.kind, ""),
        )
        for step in overdue_open_steps(period=period, scope=scope, today=today)
    ]
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


@dashboard_page
def tasks(
    request: HttpRequest, *, scope: DashboardScope, today: datetime.date, period: ReportingPeriod | None
) -> HttpResponse:
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
    shown = [
        ListedRun(
            run=run,
            label=counting.status_label(code := getattr(run, "bucket_code")),  # noqa: B009 - an annotation
            colour=BUCKET_COLOURS[code],
        )
        for run in rows[:PAGE_SIZE]
    ]
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
            "period_tasks": shown,
            "page": number,
            "has_next": len(rows) > PAGE_SIZE,
            "query": filters.query(),
            "back_url": f"{reverse('dashboard:index')}?{urlencode({'period': period.pk})}",
        },
    )

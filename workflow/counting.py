"""Đếm kết quả của kỳ báo cáo: the one counting rule (docs/counting.md).

Every page and document that shows a period's results (dashboard, period report PDF and
.xlsx, plan page, a run's page and its history) asks this module, in one of two forms
built from the same definition:

- ``PeriodRule.classify`` – one task of the plan (with its run in the period, if any) in
  Python: what a run's page, the history and the report rows show;
- ``PeriodRule.conditions`` – the same rule as mutually exclusive ``Q`` conditions (and
  ``PeriodRule.annotation``, a ``Case``), so that the dashboard counts per appendix and per
  unit in one grouped query each. tests/workflow/test_counting.py holds the two against each
  other for every task at every moment that matters.

The rule, in short:

1. The population is the plan's tasks; each task is counted once per period (once for each
   of its lead units in per-unit counts).
2. A task with a run in the period that is not cancelled falls in one of the five buckets
   (``Bucket``), judged against its deadline (3).
3. The deadline is the period's internal deadline, except for a "Năm" task in a period
   other than "Năm": that task is due at its own due date (31/12), so until then it is "in
   progress within its due date". ``effective_deadline`` is the one place a day is turned
   into a deadline (the working-day calendar replaces it).
4. Every other task is on a line of its own (``Line``), outside the buckets: a cancelled run;
   a task the period should have launched (``services.tasks_for_period``) but did not; a
   "Năm" task not due in this period; any other task not launched in the period ("Khi tham
   mưu…", event-driven).
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    DateField,
    FilteredRelation,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone

from plans.models import PlanTask, ReportingPeriod
from workflow.models import Bucket, Line, PeriodTask, Stage

BUCKETS: tuple[str, ...] = tuple(Bucket.values)
LINES: tuple[str, ...] = tuple(Line.values)
STATUSES: tuple[str, ...] = BUCKETS + LINES
STATUS_LABELS: dict[str, str] = {str(s.value): str(s.label) for s in (*Bucket, *Line)}
YEAR = PlanTask.TimelineKind.YEAR.value


# --- deadlines ----------------------------------------------------------------------------------


def effective_deadline(day: datetime.date) -> datetime.date:
    """The day a deadline written as ``day`` is judged against: itself on a working day, else
    the working day it moves to (the working-day calendar, plans.calendar.judged_deadline)."""
    from plans.calendar import judged_deadline

    return judged_deadline(day)


def due_in_period(timeline_kind: str, period: ReportingPeriod) -> bool:
    """Whether a task of this timeline is due in the period: a "Năm" task only in the "Năm"
    period (its due date is the year's end); every other task in any period it runs in."""
    return timeline_kind != YEAR or period.code == ReportingPeriod.Code.Y


def own_due_date(due_date: datetime.date | None, year: int) -> datetime.date:
    """A "Năm" task's own due date as written in the plan, else the plan year's last day."""
    return due_date or datetime.date(year, 12, 31)


# --- one task, in Python ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """What the rule reads of a run: its stage and when it started and was completed."""

    stage: str
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None


class PeriodRule:
    """The counting rule of one period, ready to apply: its deadlines and the tasks it launches.

    Built with two queries (``rule_for``) that do not depend on the number of runs.
    """

    def __init__(
        self,
        period: ReportingPeriod,
        *,
        launchable: Iterable[int],
        year_due_dates: Iterable[datetime.date | None] = (),
        tasks: Iterable[tuple[int, str, str, datetime.date | None]] = (),
    ) -> None:
        self.period = period
        self.deadline = effective_deadline(period.deadline)
        self.launchable = frozenset(launchable)
        self._year_due_dates = {*year_due_dates, None}
        # The plan's tasks as (pk, key, timeline kind, own due date), when ``rule_for`` read them.
        self.tasks = list(tasks)

    @functools.cached_property
    def own_deadlines(self) -> dict[datetime.date | None, datetime.date]:
        """Each "Năm" task's own due date turned into a deadline once (the SQL form lists them)."""
        year = self.period.plan.year
        return {day: effective_deadline(own_due_date(day, year)) for day in self._year_due_dates}

    # The deadline of one task in this period.
    def deadline_for(self, timeline_kind: str, due_date: datetime.date | None) -> datetime.date:
        if due_in_period(timeline_kind, self.period):
            return self.deadline
        if due_date not in self.own_deadlines:  # a task the rule was not built with
            return effective_deadline(own_due_date(due_date, self.period.plan.year))
        return self.own_deadlines[due_date]

    def classify(
        self,
        *,
        plan_task_id: int,
        timeline_kind: str,
        due_date: datetime.date | None,
        run: RunState | None,
        today: datetime.date,
    ) -> str:
        """The task's status in the period: a ``Bucket`` or a ``Line`` value."""
        if run is None:
            if plan_task_id in self.launchable:
                return Line.NOT_LAUNCHED.value
            if not due_in_period(timeline_kind, self.period):
                return Line.NOT_DUE.value
            return Line.NOT_IN_PERIOD.value
        if run.stage == Stage.CANCELED:
            return Line.CANCELED.value
        deadline = self.deadline_for(timeline_kind, due_date)
        if run.completed_at is not None:
            done_day = timezone.localdate(run.completed_at)
            return Bucket.DONE_ON_TIME.value if done_day <= deadline else Bucket.DONE_LATE.value
        if today > deadline:
            return Bucket.OPEN_OVERDUE.value
        if run.started_at is None:
            return Bucket.NOT_STARTED.value
        return Bucket.OPEN_IN_TIME.value

    # --- the same rule in SQL -------------------------------------------------------------------

    def _deadline_expression(self, task: str) -> Any:
        """The deadline of each row as an SQL expression (``task``: the path to the plan task)."""
        if self.period.code == ReportingPeriod.Code.Y:
            return Value(self.deadline, output_field=DateField())
        year_task = Q(**{f"{task}timeline_kind": YEAR})
        whens = [
            When(year_task & Q(**{f"{task}due_date": day}), then=Value(deadline))
            for day, deadline in sorted(self.own_deadlines.items(), key=lambda item: str(item[0]))
            if day is not None
        ]
        whens.append(When(year_task, then=Value(self.own_deadlines[None])))
        return Case(*whens, default=Value(self.deadline), output_field=DateField())

    def conditions(self, today: datetime.date, *, anchor: str = "plan_task") -> dict[str, Q]:
        """One condition per status, mutually exclusive and covering every row: ``classify`` in SQL.

        ``anchor`` "plan_task": rows are the plan's tasks, joined to their run in the period as
        ``run`` (``plan_tasks``); "run": rows are runs of the period (every status but the
        not-launched lines is then possible). The completion day is taken in the
        department's time zone (signed off at 00:30 on the 11th is late for the 10th).
        """
        if anchor == "plan_task":
            run, task = "run__", ""
            launched = Q(run__id__isnull=False)
            task_id = "pk"
        else:
            run, task = "", "plan_task__"
            launched = Q(pk__isnull=False)  # every row is a run
            task_id = "plan_task_id"
        deadline = self._deadline_expression(task)
        done_day = TruncDate(f"{run}completed_at", tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
        canceled = Q(**{f"{run}stage": Stage.CANCELED})
        counted = launched & ~canceled
        done = counted & Q(**{f"{run}completed_at__isnull": False})
        open_ = counted & Q(**{f"{run}completed_at__isnull": True})
        overdue = Q(GreaterThan(Value(today, output_field=DateField()), deadline))
        started = Q(**{f"{run}started_at__isnull": False})
        not_launched = ~launched
        in_launch = Q(**{f"{task_id}__in": sorted(self.launchable)})
        due_here = (
            Q(pk__isnull=False)
            if self.period.code == ReportingPeriod.Code.Y
            else ~Q(**{f"{task}timeline_kind": YEAR})
        )
        return {
            Bucket.DONE_ON_TIME.value: done & Q(LessThanOrEqual(done_day, deadline)),
            Bucket.DONE_LATE.value: done & Q(GreaterThan(done_day, deadline)),
            Bucket.OPEN_IN_TIME.value: open_ & ~overdue & started,
            Bucket.OPEN_OVERDUE.value: open_ & overdue,
            Bucket.NOT_STARTED.value: open_ & ~overdue & ~started,
            Line.NOT_DUE.value: not_launched & ~in_launch & ~due_here,
            Line.NOT_IN_PERIOD.value: not_launched & ~in_launch & due_here,
            Line.NOT_LAUNCHED.value: not_launched & in_launch,
            Line.CANCELED.value: launched & canceled,
        }

    def annotation(self, today: datetime.date, *, anchor: str = "plan_task") -> Case:
        """The status of each row, as a column."""
        return Case(
            *(When(c, then=Value(status)) for status, c in self.conditions(today, anchor=anchor).items()),
            output_field=CharField(),
        )

    def plan_tasks(self) -> QuerySet[PlanTask]:
        """The period's population: every task of the plan, each joined to its run in the
        period (at most one: the database refuses a second) as ``run``."""
        return PlanTask.objects.filter(plan_id=self.period.plan_id).annotate(
            run=FilteredRelation("period_tasks", condition=Q(period_tasks__period_id=self.period.pk))
        )


def rule_for(
    period: ReportingPeriod, *, year_due_dates: Iterable[datetime.date | None] | None = None
) -> PeriodRule:
    """The period's rule: the tasks it launches (``services.launch_kinds``, the one home of
    that decision) and the own due dates of the plan's "Năm" tasks (unless the caller has
    them); one query of three short columns."""
    from workflow.services import launch_kinds

    kinds = launch_kinds(period)
    rows = list(
        PlanTask.objects.filter(plan_id=period.plan_id)
        .order_by()
        .values_list("pk", "key", "timeline_kind", "due_date")
    )
    launchable = [pk for pk, _key, kind, _due in rows if kind in kinds]
    if year_due_dates is None:
        year_due_dates = {due for _pk, _key, kind, due in rows if kind == YEAR}
    return PeriodRule(period, launchable=launchable, year_due_dates=list(year_due_dates), tasks=rows)


def statuses_by_key(rule: PeriodRule, today: datetime.date) -> dict[str, str]:
    """Every task of the period's plan by its key, with its status (the plan page): the tasks
    ``rule_for`` read, the period's runs in one short query, each task classified by the rule's
    Python form (``PeriodRule.classify``; the SQL form gives the same, tested side by side)."""
    runs = {
        plan_task_id: RunState(stage=stage, started_at=started, completed_at=completed)
        for plan_task_id, stage, started, completed in PeriodTask.objects.filter(
            period_id=rule.period.pk
        ).values_list("plan_task_id", "stage", "started_at", "completed_at")
    }
    return {
        key: rule.classify(plan_task_id=pk, timeline_kind=kind, due_date=due, run=runs.get(pk), today=today)
        for pk, key, kind, due in rule.tasks
    }


@dataclass
class PlanPageResults:
    """The plan page's period picker and the chosen period's statuses (already put on the tables)."""

    period: ReportingPeriod | None
    options: list[tuple[int, str]]
    unknown: bool = False


def plan_tables_with_statuses(
    plan: Any, tables: list[Any], raw_period: str | None, today: datetime.date
) -> PlanPageResults:
    """Put each shown task's status in a period of the plan on the plan page's tables (its
    ``status_label``/``status_colour``, and per table the count of each status among the shown
    tasks). The period: the one ``raw_period`` names among the plan's, else where the pickers
    open (``selectors.period_default_among``); ``unknown`` when the URL named no period of the plan.
    Four queries whatever the plan's size: its periods (each with whether it has runs), its
    tasks, the period's runs, the partners asked."""
    from workflow import selectors
    from workflow.models import BUCKET_COLOURS

    periods = list(
        ReportingPeriod.objects.filter(plan=plan)
        .annotate(has_runs=selectors.periods_with_runs())
        .order_by("deadline", "pk")
    )
    for p in periods:
        p.plan = plan  # the label reads the plan's year: not one query per period
    options = [(p.pk, f"{p.label} (hạn {p.deadline:%d/%m/%Y})") for p in periods]
    wanted = selectors.parse_id(raw_period or "")
    if raw_period:
        period = next((p for p in periods if p.pk == wanted), None)
        if period is None:
            return PlanPageResults(period=None, options=options, unknown=True)
    else:
        chosen = selectors.period_default_among(
            ((p.pk, p.plan_id, p.deadline, p.has_runs) for p in periods), today
        )
        period = next((p for p in periods if p.pk == chosen), None)
    if period is None:
        return PlanPageResults(period=None, options=options)
    period.plan = plan
    statuses = statuses_by_key(rule_for(period), today)
    # Who was asked for input in the period (issue 12: partners are asked where needed): the
    # partner steps each run opened, in any round; one query.
    from workflow.models import Step

    asked: dict[str, list[str]] = {}
    for key, unit in (
        Step.objects.filter(period_task__period=period, kind=Step.Kind.PARTNER)
        .order_by("unit__order", "unit__name")
        .values_list("period_task__plan_task__key", "unit__short_name")
        .distinct()
    ):
        if unit not in asked.setdefault(key, []):
            asked[key].append(unit)
    for table in tables:
        counts = counts_zero()
        for row in table.rows:
            status = statuses.get(getattr(row, "key", ""))
            if row.kind != "task" or status is None:
                continue
            counts[status] += 1
            row.status_label = STATUS_LABELS[status]
            row.status_colour = BUCKET_COLOURS[status]
            row.partners_asked = ", ".join(asked.get(row.key, []))
        table.status_counts = [
            (STATUS_LABELS[s], BUCKET_COLOURS[s], counts[s]) for s in STATUSES if counts[s]
        ]
    return PlanPageResults(period=period, options=options)


def run_status(run: PeriodTask, today: datetime.date) -> str:
    """One run's status (a ``Bucket``, or ``Line.CANCELED``) without a query: a run is launched,
    so which tasks the period launches does not matter. Reads ``run.period`` and
    ``run.plan_task``: select them with the run."""
    period = run.period
    plan_task = run.plan_task
    rule = PeriodRule(period, launchable=(), year_due_dates=[plan_task.due_date])
    return rule.classify(
        plan_task_id=plan_task.pk,
        timeline_kind=plan_task.timeline_kind,
        due_date=plan_task.due_date,
        run=RunState(stage=run.stage, started_at=run.started_at, completed_at=run.completed_at),
        today=today,
    )


def status_label(status: str) -> str:
    return STATUS_LABELS[status]


def counts_zero() -> dict[str, int]:
    return dict.fromkeys(STATUSES, 0)


def national_total(counts: dict[str, int]) -> int:
    """The tasks counted in the period's result: the five buckets."""
    return sum(counts[b] for b in BUCKETS)

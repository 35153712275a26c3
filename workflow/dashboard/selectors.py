"""Tổng quan tiến độ: results of one reporting period counted per the national convention.

Selectors of the dashboard (the pages are in ``views``). Every count is computed in the database by
conditional aggregation (one grouped query per breakdown) with the conditions of the one
counting rule (``workflow.counting``), so the dashboard costs a fixed number of queries
whatever the number of processes, and shows the numbers the period report shows. A
cancelled run and a task without a run are no result of the period: they are on lines of
their own, outside the buckets and the total.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    QuerySet,
)

from plans.models import PlanTask, ReportingPeriod, Unit
from plans.roles import roles_of
from workflow import access, counting, selectors
from workflow.models import Line, PeriodTask, Stage, Step
from workflow.selectors import parse_id

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

    def bucket_queries(self, buckets: Iterable[str]) -> dict[str, str]:
        """``query(bucket=b)`` for each bucket, the parts they share encoded once (the dashboard
        links about 400 counts)."""
        head = urlencode({"period": self.period}) if self.period is not None else ""
        tail = self.query(period=None, bucket=None)
        return {
            bucket: "&".join(part for part in (head, urlencode({"bucket": bucket}), tail) if part)
            for bucket in buckets
        }

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

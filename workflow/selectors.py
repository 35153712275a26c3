"""Reads: what the flow's gateways ask, and the lists people open all day.

Every step list selector returns a queryset of steps, filtered and ordered; ``step_rows``
reads a page of it in one query (the columns the rows show, nothing per row).
"""

from __future__ import annotations

import datetime
import html
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    When,
)
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from plans.models import ReportingPeriod, Unit
from plans.roles import roles_of
from plans.text import fold
from workflow.models import PeriodTask, Step


def parse_id(value: object) -> int | None:
    """A positive database id from user input, or None ("²", "-1", 10**5000 and "abc" are not ids)."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


@dataclass(frozen=True)
class PeriodGroup:
    """One plan's periods in a period picker: an ``<optgroup>`` of (id, label) options."""

    label: str
    options: list[tuple[int, str]]


class PeriodChoices(list[PeriodGroup]):
    """A picker's groups, and their options as HTML once printed (by ``blank``), so that the
    list kept for the pickers is printed once, not on every page."""

    def __init__(self, groups: list[PeriodGroup]) -> None:
        super().__init__(groups)
        self.printed: dict[str | None, str] = {}


# The pickers' periods, kept per worker process (per database: the benchmark swaps them) for
# PERIOD_PICKER_CACHE_SECONDS; a saved or deleted plan or period forgets them at once in this
# process (workflow.apps), and a period another process added is read when a URL names it.
_picker: dict[tuple[str, bool], tuple[float, PeriodChoices]] = {}
_picker_lock = threading.Lock()


def period_choices_forget(**_signal: Any) -> None:
    with _picker_lock:
        _picker.clear()


def period_choices(
    today: datetime.date, selected: int | None = None, *, with_deadline: bool = False
) -> list[PeriodGroup]:
    """Every period of every plan for a period picker, one group per plan (newest year first,
    then the newest plan), each plan's periods by deadline. ``with_deadline`` adds the internal
    deadline to each label ("Quý I/2024 (hạn 10/03/2024)"). ``today`` does not change the list:
    every period is reachable. ``selected``: a period a URL names; if this process's list does
    not hold it, the list is read again (another process may have added it)."""
    key = (str(connection.settings_dict["NAME"]), with_deadline)
    now = time.monotonic()
    with _picker_lock:
        kept = _picker.get(key)
    fresh = kept is not None and now - kept[0] < settings.PERIOD_PICKER_CACHE_SECONDS
    if kept is not None and fresh and period_known(kept[1], selected):
        return kept[1]
    groups = PeriodChoices(_period_groups(with_deadline=with_deadline))
    with _picker_lock:
        _picker[key] = (now, groups)
    return groups


def _period_groups(*, with_deadline: bool) -> list[PeriodGroup]:
    """The picker's groups from the database: one query of six short columns whatever the
    number of plans."""
    # Plain strings once: a lazy label turned to text on each of 1 400 rows costs 15 ms.
    labels = {code: str(label) for code, label in ReportingPeriod.Code.choices}
    rows = ReportingPeriod.objects.order_by("-plan__year", "-plan_id", "deadline", "pk").values_list(
        "pk", "code", "deadline", "plan_id", "plan__year", "plan__title"
    )
    groups: list[PeriodGroup] = []
    current: int | None = None
    options: list[tuple[int, str]] = []
    # Plain string building (no strftime): a province's 1 400 periods.
    for pk, code, due, plan_id, year, title in rows:
        if plan_id != current:
            current = plan_id
            short = title if len(title) <= 80 else title[:79] + "…"
            options = []
            groups.append(PeriodGroup(label=f"Năm {year} – {short}", options=options))
        if with_deadline:
            options.append((pk, f"{labels[code]}/{year} (hạn {due.day:02d}/{due.month:02d}/{due.year})"))
        else:
            options.append((pk, f"{labels[code]}/{year}"))
    return groups


def period_options_html(
    groups: list[PeriodGroup], selected: int | None, *, blank: str | None = None
) -> SafeString:
    """The picker's ``<optgroup>``s and ``<option>``s as HTML, every label escaped.

    Printed as one string: a province's 1 400 periods cost a template loop (or a form widget)
    about 80 ms (150 ms as a form's Select) a page, this about 2 ms, and nothing when the
    groups are the ones kept for the pickers (only the chosen option is marked). ``blank``: the
    label of a first option with an empty value ("Tất cả")."""
    html_text = _options_html(groups, blank)
    if selected is not None:
        option = f'<option value="{selected}">'
        html_text = html_text.replace(option, f'<option value="{selected}" selected>', 1)
    return mark_safe(html_text)  # noqa: S308 - every text in it is escaped (quotes too)


def _options_html(groups: list[PeriodGroup], blank: str | None) -> str:
    printed = groups.printed if isinstance(groups, PeriodChoices) else {}
    if blank in printed:
        return printed[blank]
    parts = [] if blank is None else [f'<option value="">{html.escape(blank)}</option>']
    for group in groups:
        parts.append(f'<optgroup label="{html.escape(group.label)}">')
        parts.extend(f'<option value="{pk}">{html.escape(label)}</option>' for pk, label in group.options)
        parts.append("</optgroup>")
    printed[blank] = "".join(parts)
    return printed[blank]


UNKNOWN_PERIOD = "Không tìm thấy kỳ báo cáo đã chọn. Hãy chọn một kỳ trong danh sách."


def period_known(groups: list[PeriodGroup], pk: int | None) -> bool:
    """Whether a period id is among the picker's choices (no query: they hold every period)."""
    return pk is None or any(pk == option for group in groups for option, _label in group.options)


def period_default(today: datetime.date, *, plan_id: int | None = None) -> ReportingPeriod | None:
    """The period a picker opens on (``period_default_among``), among every period or, with
    ``plan_id``, that plan's. Two queries: the candidates' dates and whether each has runs, then
    the chosen one with its plan."""
    candidates = (
        ReportingPeriod.objects.all() if plan_id is None else ReportingPeriod.objects.filter(plan_id=plan_id)
    )
    rows = (
        candidates.order_by()
        .annotate(has_runs=periods_with_runs())
        .values_list("pk", "plan_id", "deadline", "has_runs")
    )
    chosen = period_default_among(rows, today)
    return None if chosen is None else ReportingPeriod.objects.select_related("plan").get(pk=chosen)


def periods_with_runs() -> Exists:
    """Annotation for a period queryset: whether the period has any run."""
    return Exists(PeriodTask.objects.filter(period_id=OuterRef("pk")))


def period_default_among(
    rows: Iterable[tuple[int, int, datetime.date, bool]], today: datetime.date
) -> int | None:
    """The rule where a period picker opens, never an empty period while another has runs, over
    ``(pk, plan_id, deadline, has_runs)`` rows: among the plans that have runs, the period whose
    deadline is next (ties: the older row), else the most recently passed one that has runs
    (ties: the newer row); a plan or a passed period without any run only when nothing else is
    left. None when there are no rows."""
    rows = list(rows)
    plans_with_runs = {plan_id for _pk, plan_id, _deadline, has_runs in rows if has_runs}

    def rank(row: tuple[int, int, datetime.date, bool]) -> tuple[Any, ...]:
        pk, plan_id, deadline, has_runs = row
        upcoming = deadline >= today
        return (
            plan_id not in plans_with_runs,
            not upcoming,
            (deadline, pk) if upcoming else (),
            not has_runs,
            -deadline.toordinal(),
            -pk,
        )

    return min(rows, key=rank)[0] if rows else None


# --- what the flow asks ------------------------------------------------------------------


def lead_unit_ids(process: Any) -> list[int]:
    return list(process.period_task.plan_task.lead_units.order_by("order", "pk").values_list("pk", flat=True))


def partner_units(plan_task: Any) -> list[Unit]:
    """The units a run of ``plan_task`` may ask for input: its partner units that do not also
    lead it, in unit order (one query)."""
    return list(
        plan_task.partner_units.exclude(pk__in=plan_task.lead_units.values("pk")).order_by("order", "pk")
    )


def partner_unit_ids(process: Any) -> list[int]:
    """``partner_units`` of the process's task, as ids."""
    return [u.pk for u in partner_units(process.period_task.plan_task)]


@dataclass
class PartnerChoice:
    """What a lead step (or a review asking partners) chooses from, and what is ticked."""

    units: Sequence[Unit]
    proposed: list[int]


def partner_choice(step: Step, process: Any = None) -> PartnerChoice:
    """The partner units ``step`` may ask and those proposed (ticked): the step's own choice once
    made (a draft); at review, none; for a lead step, after a return what the return proposed
    (the partners asked before when the office ticked "xin lại ý kiến", none after a sign-off
    return), else the units the plan names one by one — not those a collective phrase ("Các
    phòng, đơn vị thuộc sở") only covers."""
    from plans.models import PlanTask

    plan_task = step.period_task.plan_task
    # One query: the units, each marked whether the plan names it one by one.
    named = PlanTask.partner_units_named.through.objects.filter(
        plantask_id=plan_task.pk, unit_id=OuterRef("pk")
    )
    units = list(
        plan_task.partner_units.exclude(pk__in=plan_task.lead_units.values("pk"))
        .annotate(named=Exists(named))
        .order_by("order", "pk")
    )
    allowed = [u.pk for u in units]
    if step.partners_asked is not None:
        proposed: Any = step.partners_asked
    elif step.kind != Step.Kind.LEAD or not units:
        proposed = []
    else:
        proposed = None
        if step.round > 1:
            if process is None:
                from workflow.models import TaskProcess

                process = TaskProcess.objects.get(pk=step.period_task.process_id)
            proposed = process.partners_proposed
        if proposed is None:
            proposed = [u.pk for u in units if u.named]
    chosen = {int(pk) for pk in proposed}
    return PartnerChoice(units=units, proposed=[pk for pk in allowed if pk in chosen])


def signoff_unit(process: Any) -> Unit | None:
    """The unit whose overseeing deputy may sign off; None (director only) for several leads."""
    leads = list(process.period_task.plan_task.lead_units.all()[:2])
    return leads[0] if len(leads) == 1 else None


# --- lists -------------------------------------------------------------------------------

# What a list row shows (workflow.views._rows), read as plain values: as model instances
# (select_related) a row was eleven objects built from every column of eleven tables, long
# texts and JSON included, and a 50-row page spent most of its time on them
# (docs/benchmarks.md). The joins are select_related's, less the submitter's (not shown):
# INNER for the period task's chain, LEFT for the unit and the assignee, which may be empty.
STEP_ROW_COLUMNS = (
    "pk",
    "state",
    "kind",
    "round",
    "due_date",
    "assignee_id",
    "period_task__plan_task__task",
    "period_task__plan_task__criterion__code",
    "period_task__plan_task__criterion__name",
    "period_task__plan_task__criterion__section__appendix__number",
    "period_task__period__code",
    "period_task__period__plan__year",
    "unit__short_name",
    "assignee__last_name",
    "assignee__first_name",
    "assignee__username",
    "period_task__period__deadline",
)


SEARCH_MAX = 200  # characters of a search kept; the rest of a pasted text is dropped


def search_words(text: str) -> str:
    """A search as typed, made safe to keep: printable characters only (a NUL would make
    PostgreSQL refuse the query), at most SEARCH_MAX of them, spaces folded."""
    kept = "".join(ch if ch.isprintable() else " " for ch in text[: SEARCH_MAX * 2])
    return " ".join(kept.split())[:SEARCH_MAX]


def units_matching(folded: str) -> list[int]:
    """Ids of the units whose name or short name contains ``folded`` (``plans.text.fold``'d):
    folded here, with the same function, as unit names have no folded column (one query)."""
    return [
        pk
        for pk, name, short_name in Unit.objects.values_list("pk", "name", "short_name")
        if folded in fold(name) or folded in fold(short_name or "")
    ]


@dataclass(frozen=True)
class StepFilters:
    appendix: int | None = None
    period: int | None = None
    kind: str | None = None
    overdue: bool = False
    q: str = ""  # the search as typed (search_words), matched without diacritics

    @classmethod
    def from_query(cls, params: Any) -> StepFilters:
        def as_int(name: str) -> int | None:
            return parse_id(params.get(name, ""))

        kind = params.get("kind") or None
        return cls(
            appendix=as_int("appendix"),
            period=as_int("period"),
            kind=kind if kind in Step.Kind.values else None,
            overdue=params.get("overdue") == "1",
            q=search_words(params.get("q", "")),
        )

    def apply(self, qs: QuerySet[Step], today: datetime.date | None = None) -> QuerySet[Step]:
        if self.appendix:
            qs = qs.filter(period_task__plan_task__criterion__section__appendix__number=self.appendix)
        if self.period:
            qs = qs.filter(period_task__period_id=self.period)
        if self.kind:
            qs = qs.filter(kind=self.kind)
        if self.overdue:
            qs = qs.filter(state=Step.State.OPEN, due_date__lt=today or timezone.localdate())
        folded = fold(self.q)
        if folded:
            # The plan task's search_text is stored folded (plans.text.fold: no diacritics,
            # đ -> d, lower case) from its criterion, task and unit texts, as the plan page
            # searches it; the step's own unit is matched by its folded name.
            qs = qs.filter(
                Q(period_task__plan_task__search_text__contains=folded) | Q(unit__in=units_matching(folded))
            )
        return qs


# The step lists' order: the most urgent first, then by arrival (a step created earlier came
# first), the id last so that a page boundary never moves.
LIST_ORDER = ("due_date", "created_at", "pk")


def _steps() -> QuerySet[Step]:
    return Step.objects.all()


def step_rows(qs: QuerySet[Step], start: int, stop: int) -> list[tuple[Any, ...]]:
    """Rows ``start:stop`` of a step list as tuples of STEP_ROW_COLUMNS, in one query."""
    return list(qs.values_list(*STEP_ROW_COLUMNS)[start:stop])


def step_rows_with_reasons(
    qs: QuerySet[Step], start: int, stop: int
) -> tuple[list[tuple[Any, ...]], dict[int, str]]:
    """Rows ``start:stop`` of a step list (tuples of STEP_ROW_COLUMNS) and why each returned
    step among them was returned. One query when the list already orders by the reason
    (``returned_first``: Việc của tôi); else a second one for the page's steps only (an
    annotation on the whole list would be computed for every row before the LIMIT)."""
    if "return_reason" in qs.query.annotations:
        values = list(qs.values_list(*STEP_ROW_COLUMNS, "return_reason")[start:stop])
        width = len(STEP_ROW_COLUMNS)
        return [row[:width] for row in values], {row[0]: row[width] for row in values if row[width]}
    rows = step_rows(qs, start, stop)
    reasons: dict[int, str] = {}
    if rows:
        reasons = dict(
            Step.objects.filter(
                pk__in=[row[0] for row in rows], round__gt=1, kind__in=list(RETURNED_BY_DECISION)
            )
            .annotate(return_reason=_return_reason())
            .filter(return_reason__isnull=False)
            .values_list("pk", "return_reason")
        )
    return rows, reasons


def steps_assigned_to(user: Any) -> QuerySet[Step]:
    """Việc của tôi: open steps assigned to the user."""
    return _steps().filter(assignee=user, state=Step.State.OPEN).order_by(*LIST_ORDER)


def steps_of_unit_queue(user: Any) -> QuerySet[Step]:
    """Việc của đơn vị: open lead/partner steps of the user's unit (claimed or not)."""
    unit = roles_of(user).unit
    if unit is None:
        return Step.objects.none()
    return (
        _steps()
        .filter(unit=unit, state=Step.State.OPEN, kind__in=[Step.Kind.LEAD, Step.Kind.PARTNER])
        .order_by(*LIST_ORDER)
    )


def steps_awaiting_approval(user: Any) -> QuerySet[Step]:
    """Chờ phê duyệt: open review steps (office) and sign-off steps (leadership)."""
    from workflow import access

    condition = Q(pk__in=[])
    if access.reviews_reports(user):
        condition |= Q(kind=Step.Kind.REVIEW)
    if access.signs_off_everything(user):
        condition |= Q(kind=Step.Kind.SIGN_OFF)
    else:
        condition |= Q(kind=Step.Kind.SIGN_OFF, unit__in=access.units_signed_off_by(user))
    return _steps().filter(condition, state=Step.State.OPEN).order_by(*LIST_ORDER)


def steps_done_by(user: Any) -> QuerySet[Step]:
    """Đã xử lý: steps the user submitted, newest first."""
    return _steps().filter(submitted_by=user).order_by("-submitted_at", "-pk")


def unit_members(unit: Unit | None) -> QuerySet[Any]:
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(membership__unit=unit, is_active=True)
        .order_by("last_name", "first_name", "username")
    )


def period_task_detail(pk: int) -> PeriodTask:
    """One period task with everything its page shows, in a fixed number of queries."""
    return (
        PeriodTask.objects.select_related(
            "plan_task__criterion__section__appendix",
            "plan_task__criterion__group",
            "period__plan",
            "launched_by",
        )
        .prefetch_related("plan_task__lead_units", "plan_task__partner_units")
        .get(pk=pk)
    )


def steps_of_period_task(period_task: PeriodTask) -> list[Step]:
    from django.db.models import Prefetch

    from workflow.models import Evidence

    return list(
        period_task.steps.select_related("unit", "assignee", "submitted_by", "task")
        .prefetch_related(
            Prefetch(
                "evidence",
                queryset=Evidence.objects.filter(removed_at__isnull=True).select_related("uploaded_by"),
            )
        )
        .order_by("pk")
    )


# --- returns ------------------------------------------------------------------------------

# The decision that sends work back to a kind of step (the other kinds are never "returned").
RETURNED_BY_DECISION: dict[str, str] = {
    Step.Kind.LEAD: Step.Decision.RETURN_LEAD,
    Step.Kind.REVIEW: Step.Decision.RETURN_OFFICE,
}


def _returns(period_task_id: Any, round_: Any, kind: str) -> QuerySet[Step]:
    """The review or sign-off of the round before ``round_`` whose decision sent a step of
    ``kind`` back (arguments may be OuterRef expressions)."""
    return Step.objects.filter(
        period_task_id=period_task_id,
        round=round_ - 1,
        state=Step.State.DONE,
        decision=RETURNED_BY_DECISION[kind],
    )


def step_returned_by(step: Step) -> Step | None:
    """The decision step that returned this one, or None (a first round, a partner asked again)."""
    if step.kind not in RETURNED_BY_DECISION:
        return None
    opened_by = round_opened_by(step.period_task_id, step.round)
    return opened_by if opened_by and opened_by.decision == RETURNED_BY_DECISION[step.kind] else None


def round_opened_by(period_task_id: int, round_: int) -> Step | None:
    """The return (to the lead or to the office) that opened round ``round_`` of a run, or None."""
    if round_ < 2:
        return None
    return (
        Step.objects.filter(
            period_task_id=period_task_id,
            round=round_ - 1,
            state=Step.State.DONE,
            decision__in=list(RETURNED_BY_DECISION.values()),
        )
        .select_related("submitted_by")
        .order_by("pk")
        .last()
    )


def _return_reason() -> Case:
    """For each step of a queryset: the reason it was returned with, or NULL if it was not."""
    return Case(
        *[
            When(
                kind=kind,
                round__gt=1,
                then=Subquery(
                    _returns(OuterRef("period_task_id"), OuterRef("round"), kind)
                    .order_by("-pk")
                    .values("reason")[:1]
                ),
            )
            for kind in RETURNED_BY_DECISION
        ],
        default=None,
        output_field=TextField(),
    )


def returned_first(qs: QuerySet[Step]) -> QuerySet[Step]:
    """Việc của tôi: the steps returned to the user first, then in ``qs``'s own order."""
    order = list(qs.query.order_by) or list(LIST_ORDER)
    return qs.annotate(return_reason=_return_reason()).order_by(
        Case(When(return_reason__isnull=False, then=0), default=1), *order
    )

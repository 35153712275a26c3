"""Reads for the official documents: everything a document shows, as plain data.

Each selector costs a fixed number of queries whatever the plan's size, and returns
dataclasses holding only values (no model instances): the templates render nothing
else, so a hash of this data identifies the document (see ``pdf.document_cached``).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from plans.models import Plan, PlanTask, ReportingPeriod, Unit
from plans.selectors import AppendixTable, HeadingRow, PlanFilters, criterion_label, plan_tasks_for_page
from workflow import counting
from workflow import selectors as workflow_selectors
from workflow.models import AuditEvent, Bucket, Evidence, Line, PeriodTask, Stage, Step
from workflow.reports.formatting import date_line, day_text, number_line, percent

BUCKET_ORDER = list(Bucket)
LINE_ORDER = list(Line)
# "Nơi nhận" of each document, before the closing "Lưu: VT, VP." line.
RECIPIENTS = ["Sở Nội vụ (b/c)", "Ban Giám đốc Sở", "Các phòng, đơn vị thuộc Sở"]
DOSSIER_RECIPIENTS = ["Ban Giám đốc Sở", "Đơn vị chủ trì, phối hợp thực hiện nhiệm vụ"]
BUCKET_LABELS = dict(counting.STATUS_LABELS)  # the buckets and the lines outside them


@dataclass(frozen=True)
class DocumentHeader:
    """The lines every official document opens with, all from the plan (its year's configuration)."""

    superior_body: str  # "UBND TỈNH BẮC KẠN"
    issuing_body: str  # "SỞ CÔNG THƯƠNG"
    number: str  # "Số: …/BC-SCT"
    date: str  # "Bắc Kạn, ngày 05 tháng 3 năm 2024"


def document_header(
    plan: Plan, *, day: datetime.date | None, number: str = "", symbol: str = ""
) -> DocumentHeader:
    return DocumentHeader(
        superior_body=plan.superior_body.upper(),
        issuing_body=plan.issuing_body.upper(),
        number=number_line(symbol or plan.document_symbol, number),
        date=date_line(plan.place, day, year=plan.year),
    )


def _person(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def _moment(value: datetime.datetime | None) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


# --- (1) The plan's appendices ---------------------------------------------------------------


@dataclass
class PlanDocument:
    """Kế hoạch: the plan's appendix tables as in the original document."""

    header: DocumentHeader
    title: str
    year: int
    attached_to: str
    appendices: list[AppendixTable]
    task_count: int
    recipients: list[str] = field(default_factory=lambda: list(RECIPIENTS))


def plan_document(plan: Plan) -> PlanDocument:
    """Four queries: the plan was read by the caller; tasks with their hierarchy and units."""
    tables = plan_tasks_for_page(plan, PlanFilters())
    if plan.number:
        adopted = f" ngày {day_text(plan.adopted_on)}" if plan.adopted_on else ""
        attached_to = f"(Kèm theo Kế hoạch số {plan.number}{adopted})"
    else:
        attached_to = f"(Kèm theo {plan.title})"
    return PlanDocument(
        header=document_header(plan, day=plan.adopted_on, number=plan.number or "…"),
        title=plan.title,
        year=plan.year,
        attached_to=attached_to,
        appendices=tables,
        task_count=sum(t.task_count for t in tables),
    )


# --- (2) The period report -----------------------------------------------------------------


@dataclass
class LeadResult:
    unit: str
    text: str
    explanation: str = ""


@dataclass
class ReportTask:
    """What the report shows of a plan task (TT and criterion drawn on the criterion's first row)."""

    key: str
    first: bool
    span: int
    ordinal: str
    criterion: str
    task: str
    lead_text: str
    partner_text: str


@dataclass
class ReportRow:
    """One task of the plan in the period: its result, its bucket, its evidence."""

    task: ReportTask
    launched: bool
    bucket: str
    bucket_label: str
    results: list[LeadResult]
    evidence_count: int
    canceled: bool = False
    kind: str = "task"


@dataclass
class ReportAppendix:
    number: int
    title: str
    rows: list[HeadingRow | ReportRow] = field(default_factory=list)


@dataclass
class BucketCount:
    bucket: str
    label: str
    count: int
    share: str


@dataclass
class UnitCount:
    name: str
    counts: list[int]  # in BUCKET_ORDER
    total: int  # the buckets: the unit's tasks counted in the period's result
    lines: list[int] = field(default_factory=list)  # in LINE_ORDER
    everything: int = 0  # the unit's tasks in the plan


@dataclass
class PeriodReport:
    """Báo cáo kết quả thực hiện kế hoạch trong một kỳ."""

    header: DocumentHeader
    plan_title: str
    year: int
    period_code: str
    period_label: str
    deadline: str
    cutoff: str
    today: str
    total: int  # tasks counted in the period's result (the buckets)
    buckets: list[BucketCount]
    units: list[UnitCount]
    appendices: list[ReportAppendix]
    lines: list[BucketCount] = field(default_factory=list)  # outside the buckets, share of the plan
    plan_total: int = 0  # every task of the plan: total plus the lines
    by_appendix: list[UnitCount] = field(default_factory=list)  # "Phụ lục 1" …, as the units
    bucket_labels: list[str] = field(default_factory=lambda: [BUCKET_LABELS[b] for b in BUCKET_ORDER])
    line_labels: list[str] = field(default_factory=lambda: [BUCKET_LABELS[x] for x in LINE_ORDER])
    recipients: list[str] = field(default_factory=lambda: list(RECIPIENTS))


def period_get(pk: int) -> ReportingPeriod:
    return ReportingPeriod.objects.select_related("plan").get(pk=pk)


@dataclass
class _PlanTaskRow:
    """A plan task as the report reads it: its table, heading rows, cells and lead units."""

    pk: int
    appendix_number: int
    appendix_title: str
    section_id: int
    section_code: str
    section_title: str
    group_id: int | None
    group_code: str | None
    group_title: str | None
    criterion_id: int
    criterion_ordinal: str
    criterion_label: str
    key: str
    task: str
    lead_text: str
    partner_text: str
    timeline_kind: str
    due_date: datetime.date | None
    lead_units: list[str] = field(default_factory=list)


_TASK_COLUMNS = (
    "pk",
    "criterion__section__appendix__number",
    "criterion__section__appendix__title",
    "criterion__section_id",
    "criterion__section__code",
    "criterion__section__title",
    "criterion__group_id",
    "criterion__group__code",
    "criterion__group__title",
    "criterion_id",
    "criterion__ordinal",
    "criterion__code",
    "criterion__name",
    "key",
    "task",
    "lead_text",
    "partner_text",
    "timeline_kind",
    "due_date",
    "lead_units__name",
)


def _plan_task_rows(plan: Plan) -> list[_PlanTaskRow]:
    """The plan's tasks in plan order with the columns the report shows; one query (the lead
    units joined in: a task with two lead units comes as two consecutive rows)."""
    rows: list[_PlanTaskRow] = []
    query = PlanTask.objects.filter(plan=plan).order_by("position", "pk").values_list(*_TASK_COLUMNS)
    for (
        pk,
        appendix_number,
        appendix_title,
        section_id,
        section_code,
        section_title,
        group_id,
        group_code,
        group_title,
        criterion_id,
        ordinal,
        code,
        name,
        key,
        task,
        lead_text,
        partner_text,
        timeline_kind,
        due_date,
        lead_unit,
    ) in query:
        if rows and rows[-1].pk == pk:
            rows[-1].lead_units.append(lead_unit)
            continue
        rows.append(
            _PlanTaskRow(
                pk=pk,
                appendix_number=appendix_number,
                appendix_title=appendix_title,
                section_id=section_id,
                section_code=section_code,
                section_title=section_title,
                group_id=group_id,
                group_code=group_code,
                group_title=group_title,
                criterion_id=criterion_id,
                criterion_ordinal=ordinal,
                criterion_label=criterion_label(code, name),
                key=key,
                task=task,
                lead_text=lead_text,
                partner_text=partner_text,
                timeline_kind=timeline_kind,
                due_date=due_date,
                lead_units=[] if lead_unit is None else [lead_unit],
            )
        )
    return rows


@dataclass
class _RunResult:
    state: counting.RunState
    canceled: bool
    evidence_count: int
    results: list[LeadResult]


def _period_results(period: ReportingPeriod) -> dict[int, _RunResult]:
    """Each run of the period by plan task id: what the counting rule reads, its distinct
    current evidence files and the latest submitted lead report of each lead unit (two queries)."""
    runs = (
        PeriodTask.objects.filter(period=period)
        .annotate(
            evidence_count=Count(
                "steps__evidence__sha256",
                filter=Q(steps__evidence__removed_at__isnull=True),
                distinct=True,
            )
        )
        .order_by()
        .values_list("pk", "plan_task_id", "stage", "started_at", "completed_at", "evidence_count")
    )
    by_run: dict[int, _RunResult] = {}
    out: dict[int, _RunResult] = {}
    for pk, plan_task_id, stage, started_at, completed_at, evidence_count in runs:
        result = _RunResult(
            state=counting.RunState(stage=stage, started_at=started_at, completed_at=completed_at),
            canceled=stage == Stage.CANCELED,
            evidence_count=evidence_count,
            results=[],
        )
        by_run[pk] = out[plan_task_id] = result
    # The latest submitted lead report of each lead unit, in the order the units first
    # reported: steps come in pk order, the last one of a unit wins its unit's place.
    latest: dict[int, dict[int | None, LeadResult]] = {}
    reports = (
        Step.objects.filter(
            period_task__period=period,
            kind=Step.Kind.LEAD,
            state=Step.State.DONE,
            submitted_at__isnull=False,
        )
        .order_by("pk")
        .values_list("period_task_id", "unit_id", "unit__name", "result", "explanation")
    )
    for run_id, unit_id, unit_name, text, explanation in reports:
        latest.setdefault(run_id, {})[unit_id] = LeadResult(
            unit=unit_name or "", text=text, explanation=explanation
        )
    for run_id, by_unit in latest.items():
        if run_id in by_run:
            by_run[run_id].results = list(by_unit.values())
    return out


def _row_label(status: str, rule: counting.PeriodRule, t: _PlanTaskRow) -> str:
    """A task's status as its row says it; a "Năm" task not due yet names its own due date."""
    if status == Line.NOT_DUE:
        return f"{BUCKET_LABELS[status]} (hạn {day_text(rule.deadline_for(t.timeline_kind, t.due_date))})"
    return BUCKET_LABELS[status]


def _count_row(name: str, c: Counter[str]) -> UnitCount:
    return UnitCount(
        name=name,
        counts=[c[b] for b in BUCKET_ORDER],
        total=sum(c[b] for b in BUCKET_ORDER),
        lines=[c[x] for x in LINE_ORDER],
        everything=sum(c.values()),
    )


def period_report(period: ReportingPeriod, *, today: datetime.date | None = None) -> PeriodReport:
    """Every task of the plan with its status in the period (``workflow.counting``); five
    queries for any plan size.

    The five buckets count the runs launched in the period and not cancelled; every other
    task is on a line of its own. Counts per unit count a task for each of its lead units.
    Only the values the document shows are read (plain rows), as the cache key hashes them.
    """
    today = today or timezone.localdate()
    plan = period.plan
    tasks = _plan_task_rows(plan)
    rule = counting.rule_for(
        period, year_due_dates=[t.due_date for t in tasks if t.timeline_kind == counting.YEAR]
    )
    runs = _period_results(period)
    units = list(Unit.objects.order_by("order", "name").values_list("name", flat=True))

    spans = Counter(t.criterion_id for t in tasks)
    totals: Counter[str] = Counter()
    per_unit: dict[str, Counter[str]] = {name: Counter() for name in units}
    per_appendix: dict[str, Counter[str]] = {}
    appendices: list[ReportAppendix] = []
    section_id = group_id = criterion_id = None
    for t in tasks:
        if not appendices or appendices[-1].number != t.appendix_number:
            appendices.append(ReportAppendix(number=t.appendix_number, title=t.appendix_title))
            section_id = group_id = criterion_id = None
        rows = appendices[-1].rows
        if t.section_id != section_id:
            section_id, group_id = t.section_id, None
            if t.section_code or t.section_title:
                rows.append(HeadingRow("section", t.section_code, t.section_title))
        if t.group_id and t.group_id != group_id:
            group_id = t.group_id
            rows.append(HeadingRow("group", t.group_code or "", t.group_title or ""))
        first = t.criterion_id != criterion_id
        criterion_id = t.criterion_id
        run = runs.get(t.pk)
        bucket = rule.classify(
            plan_task_id=t.pk,
            timeline_kind=t.timeline_kind,
            due_date=t.due_date,
            run=None if run is None else run.state,
            today=today,
        )
        totals[bucket] += 1
        per_appendix.setdefault(f"Phụ lục {t.appendix_number}", Counter())[bucket] += 1
        for name in t.lead_units:
            per_unit.setdefault(name, Counter())[bucket] += 1
        rows.append(
            ReportRow(
                task=ReportTask(
                    key=t.key,
                    first=first,
                    span=spans[t.criterion_id],
                    ordinal=t.criterion_ordinal,
                    criterion=t.criterion_label,
                    task=t.task,
                    lead_text=t.lead_text,
                    partner_text=t.partner_text,
                ),
                launched=run is not None,
                bucket=bucket,
                bucket_label=_row_label(bucket, rule, t),
                results=[] if run is None else run.results,
                evidence_count=0 if run is None else run.evidence_count,
                canceled=False if run is None else run.canceled,
            )
        )
    total = sum(totals[b] for b in BUCKET_ORDER)
    plan_total = sum(totals.values())
    return PeriodReport(
        header=document_header(plan, day=today),
        plan_title=plan.title,
        year=plan.year,
        period_code=period.code,
        period_label=period.label,
        deadline=day_text(rule.deadline),
        cutoff=day_text(period.cutoff),
        today=day_text(today),
        total=total,
        buckets=[
            BucketCount(
                bucket=b.value, label=BUCKET_LABELS[b], count=totals[b], share=percent(totals[b], total)
            )
            for b in BUCKET_ORDER
        ],
        lines=[
            BucketCount(
                bucket=x.value, label=BUCKET_LABELS[x], count=totals[x], share=percent(totals[x], plan_total)
            )
            for x in LINE_ORDER
        ],
        plan_total=plan_total,
        units=[_count_row(name, c) for name, c in per_unit.items()],
        by_appendix=[_count_row(name, c) for name, c in per_appendix.items()],
        appendices=appendices,
    )


# --- (3) The dossier of one task in one period ---------------------------------------------

ACTION_LABELS = {
    "launch": "Khởi tạo nhiệm vụ trong kỳ",
    "claim": "Nhận việc",
    "assign": "Giao việc",
    "reassign": "Giao lại",
    "save_draft": "Lưu nháp",
    "submit": "Gửi kết quả",
    "partner_input": "Gửi ý kiến phối hợp",
    "ask_partners": "Xin ý kiến phối hợp",
    "approve": "Đồng ý",
    "return": "Trả lại",
    "sign_off": "Phê duyệt",
    "evidence_added": "Đính kèm tài liệu kiểm chứng",
    "evidence_removed": "Gỡ tài liệu kiểm chứng",
    "cancel": "Hủy quy trình",
}


@dataclass
class DossierStep:
    number: int
    kind: str
    title: str  # "Chủ trì thực hiện – Phòng Quản lý công nghiệp"
    round: int
    state: str
    due: str
    assignee: str
    submitted_at: str
    submitted_by: str
    result: str
    self_assessment: str
    explanation: str
    no_opinion: bool
    decision: str
    reason: str


@dataclass
class DossierEvidence:
    name: str
    step: int  # DossierStep.number
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: str
    removed: str  # "" or "gỡ lúc … bởi …"


@dataclass
class DossierEvent:
    seq: int
    at: str
    actor: str
    action: str
    reason: str
    hash: str


@dataclass
class Dossier:
    """Hồ sơ nhiệm vụ: one task's run in one period, every version and decision."""

    header: DocumentHeader
    period_label: str
    deadline: str
    appendix: str
    section: str
    criterion: str
    target: str
    task: str
    lead: str
    partners: str
    timeline: str
    stage: str
    bucket_label: str
    launched: str
    completed: str
    steps: list[DossierStep]
    evidence: list[DossierEvidence]
    events: list[DossierEvent]
    recipients: list[str] = field(default_factory=lambda: list(DOSSIER_RECIPIENTS))


def dossier(pk: int, *, today: datetime.date | None = None) -> Dossier:
    """Six queries: the run with its plan task, units, steps, evidence and audit events."""
    today = today or timezone.localdate()
    run = workflow_selectors.period_task_detail(pk)
    plan_task = run.plan_task
    criterion = plan_task.criterion
    section = criterion.section
    plan = run.period.plan
    steps = list(
        Step.objects.filter(period_task=run).select_related("unit", "assignee", "submitted_by").order_by("pk")
    )
    numbers = {s.pk: i for i, s in enumerate(steps, start=1)}
    evidence = Evidence.objects.filter(step__period_task=run).select_related("uploaded_by", "removed_by")
    events = AuditEvent.objects.filter(period_task=run).order_by("seq")
    return Dossier(
        header=document_header(plan, day=today),
        period_label=run.period.label,
        deadline=day_text(run.period.deadline),
        appendix=f"Phụ lục {section.appendix.number}. {section.appendix.title}",
        section=str(section),
        criterion=str(criterion) + (f" (nhóm {criterion.group})" if criterion.group_id else ""),
        target=plan_task.target,
        task=plan_task.task,
        lead="; ".join(u.name for u in plan_task.lead_units.all()),
        partners="; ".join(u.name for u in plan_task.partner_units.all()),
        timeline=plan_task.timeline_text,
        stage=run.get_stage_display(),
        bucket_label=BUCKET_LABELS[run.bucket(today)],
        launched=" bởi ".join(x for x in (_moment(run.launched_at), _person(run.launched_by)) if x),
        completed=_moment(run.completed_at),
        steps=[
            DossierStep(
                number=numbers[s.pk],
                kind=s.kind,
                title=s.get_kind_display() + (f" – {s.unit.name}" if s.unit else ""),
                round=s.round,
                state=s.get_state_display(),
                due=day_text(s.due_date),
                assignee=_person(s.assignee),
                submitted_at=_moment(s.submitted_at),
                submitted_by=_person(s.submitted_by),
                result=s.result,
                self_assessment=s.get_self_assessment_display() if s.self_assessment else "",
                explanation=s.explanation,
                no_opinion=s.no_opinion,
                decision=s.get_decision_display() if s.decision else "",
                reason=s.reason,
            )
            for s in steps
        ],
        evidence=[
            DossierEvidence(
                name=e.original_name,
                step=numbers.get(e.step_id, 0),
                size=e.size,
                sha256=e.sha256,
                uploaded_by=_person(e.uploaded_by),
                uploaded_at=_moment(e.uploaded_at),
                removed=(
                    " ".join(
                        ["gỡ lúc", _moment(e.removed_at)]
                        + (["bởi", _person(e.removed_by)] if e.removed_by else [])
                    )
                    if e.removed_at
                    else ""
                ),
            )
            for e in evidence.order_by("pk")
        ],
        events=[
            DossierEvent(
                seq=ev.seq,
                at=_moment(ev.created_at),
                actor=ev.actor_name + (f" ({ev.actor_role})" if ev.actor_role else ""),
                action=ACTION_LABELS.get(ev.action, ev.action),
                reason=ev.reason,
                hash=ev.hash,
            )
            for ev in events
        ],
    )

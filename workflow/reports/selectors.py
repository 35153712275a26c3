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

from django.db.models import Prefetch
from django.utils import timezone

from plans.models import Plan, ReportingPeriod, Unit
from plans.selectors import AppendixTable, HeadingRow, PlanFilters, TaskRow, plan_tasks_for_page
from workflow import selectors as workflow_selectors
from workflow.models import AuditEvent, Bucket, Evidence, PeriodTask, Stage, Step
from workflow.reports.formatting import date_line, day_text, number_line, percent

BUCKET_ORDER = list(Bucket)
# "Nơi nhận" of each document, before the closing "Lưu: VT, VP." line.
RECIPIENTS = ["Sở Nội vụ (b/c)", "Ban Giám đốc Sở", "Các phòng, đơn vị thuộc Sở"]
DOSSIER_RECIPIENTS = ["Ban Giám đốc Sở", "Đơn vị chủ trì, phối hợp thực hiện nhiệm vụ"]
BUCKET_LABELS = {b.value: str(b.label) for b in Bucket}


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
class ReportRow:
    """One task of the plan in the period: its result, its bucket, its evidence."""

    task: TaskRow
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
    total: int


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
    total: int
    buckets: list[BucketCount]
    units: list[UnitCount]
    appendices: list[ReportAppendix]
    bucket_labels: list[str] = field(default_factory=lambda: [BUCKET_LABELS[b] for b in BUCKET_ORDER])
    recipients: list[str] = field(default_factory=lambda: list(RECIPIENTS))


def period_get(pk: int) -> ReportingPeriod:
    return ReportingPeriod.objects.select_related("plan").get(pk=pk)


def _period_tasks(period: ReportingPeriod) -> dict[str, PeriodTask]:
    """The period's runs by plan task key, with their steps and current evidence (three queries)."""
    steps = Step.objects.select_related("unit").order_by("pk")
    steps = steps.prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.filter(removed_at__isnull=True).order_by("pk"))
    )
    runs = (
        PeriodTask.objects.filter(period=period)
        .select_related("plan_task")
        .prefetch_related(Prefetch("steps", queryset=steps))
    )
    out: dict[str, PeriodTask] = {}
    for run in runs:
        run.period = period  # bucket() reads the deadline: no query per run
        out[run.plan_task.key] = run
    return out


def _lead_results(run: PeriodTask) -> list[LeadResult]:
    """The latest submitted lead report of each lead unit, in the order the units reported."""
    latest: dict[int | None, Step] = {}
    for step in run.steps.all():
        if step.kind == Step.Kind.LEAD and step.state == Step.State.DONE and step.submitted_at:
            latest[step.unit_id] = step  # steps come in pk order: the last one wins
    return [
        LeadResult(unit=step.unit.name if step.unit else "", text=step.result, explanation=step.explanation)
        for step in latest.values()
    ]


def period_report(period: ReportingPeriod, *, today: datetime.date | None = None) -> PeriodReport:
    """Every task of the plan with its result in the period; eight queries for any plan size.

    A task not launched in the period is "Chưa thực hiện". Counts per unit count a task
    for each of its lead units.
    """
    today = today or timezone.localdate()
    plan = period.plan
    tables = plan_tasks_for_page(plan, PlanFilters())
    runs = _period_tasks(period)
    units = list(Unit.objects.order_by("order", "name"))

    totals: Counter[str] = Counter()
    per_unit: dict[str, Counter[str]] = {u.name: Counter() for u in units}
    appendices: list[ReportAppendix] = []
    for table in tables:
        appendix = ReportAppendix(number=table.number, title=table.title)
        appendices.append(appendix)
        for row in table.rows:
            if isinstance(row, HeadingRow):
                appendix.rows.append(row)
                continue
            run = runs.get(row.key)
            if run is None:
                bucket, results, evidence, canceled = Bucket.NOT_STARTED.value, [], 0, False
            else:
                bucket = str(run.bucket(today))
                results = _lead_results(run)
                evidence = len({e.sha256 for s in run.steps.all() for e in s.evidence.all()})
                canceled = run.stage == Stage.CANCELED
            totals[bucket] += 1
            for unit in row.lead_units:
                per_unit.setdefault(unit.name, Counter())[bucket] += 1
            appendix.rows.append(
                ReportRow(
                    task=row,
                    launched=run is not None,
                    bucket=bucket,
                    bucket_label=BUCKET_LABELS[bucket],
                    results=results,
                    evidence_count=evidence,
                    canceled=canceled,
                )
            )
    total = sum(totals.values())
    return PeriodReport(
        header=document_header(plan, day=today),
        plan_title=plan.title,
        year=plan.year,
        period_code=period.code,
        period_label=period.label,
        deadline=day_text(period.deadline),
        cutoff=day_text(period.cutoff),
        today=day_text(today),
        total=total,
        buckets=[
            BucketCount(
                bucket=b.value, label=BUCKET_LABELS[b], count=totals[b], share=percent(totals[b], total)
            )
            for b in BUCKET_ORDER
        ],
        units=[
            UnitCount(name=name, counts=[c[b] for b in BUCKET_ORDER], total=sum(c.values()))
            for name, c in per_unit.items()
        ],
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
        bucket_label=BUCKET_LABELS[str(run.bucket(today))],
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

"""Workflow state and business records of a plan task's run through a reporting period.

viewflow keeps the process and its task rows; it keeps no reports, reasons, files or
history. Those are ours, linked to viewflow's rows and written in the same transaction
as the step that produces them.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process, Task

from plans.models import PlanTask, ReportingPeriod, Unit


class TaskProcess(Process):
    """Quy trình: one plan task in one reporting period, as a viewflow process.

    Only the decisions the flow's gateways ask live here; the records live in PeriodTask
    and Step.
    """

    review_approved = jsonstore.BooleanField(default=False)
    signoff_decision = jsonstore.CharField(max_length=10, blank=True)  # approve / office / lead
    # Partners (docs: "partners asked where needed"): the units the next partner split opens, in
    # unit order, chosen by the lead unit(s) of round ``partners_round`` when they submit, or by
    # the office at review; and what a round's lead form proposes after a return (None: the
    # units the plan names one by one).
    partners_asked = jsonstore.JSONField(default=list)
    partners_round = jsonstore.IntegerField(default=0)
    partners_proposed = jsonstore.JSONField(null=True, default=None)

    # Not stored: the context of the action driving the engine for this process
    # (workflow.services.context.ActionContext), set while it runs, read by the flow's hooks.
    context: Any = None

    class Meta:
        proxy = True
        verbose_name = _("quy trình")
        verbose_name_plural = _("quy trình")
        permissions = [
            ("launch_taskprocess", _("Khởi tạo kỳ báo cáo")),
            ("review_taskprocess", _("Thẩm định kết quả (Văn phòng Sở)")),
            ("audit_taskprocess", _("Xem toàn bộ hồ sơ (kiểm tra, thẩm định)")),
        ]

    def decide(self, step: Step) -> None:
        """Record where a review or sign-off decision sends the run; the gateways read it.

        - review approves → sign-off; asks partners → the units it chose, then review again;
          returns → the lead unit, whose new round proposes the partners asked before only when
          the office ticked "xin lại ý kiến phối hợp" (none otherwise);
        - sign-off approves → end; returns to the office → review (partners not asked);
          returns to the lead → the lead unit, proposing no partners.
        """
        if step.kind == Step.Kind.REVIEW:
            self.review_approved = step.decision == Step.Decision.APPROVE
            if step.decision == Step.Decision.ASK_PARTNERS:
                self.partners_asked = list(step.partners_asked or [])
            elif not self.review_approved:
                self.partners_proposed = list(self.partners_asked) if step.ask_partners_again else []
                self.partners_asked = []
        elif step.kind == Step.Kind.SIGN_OFF:
            self.signoff_decision = step.decision
            if step.decision == Step.Decision.RETURN_LEAD:
                self.partners_proposed = []
            self.partners_asked = []

    def lead_asks(self, round_: int, unit_ids: list[int], order: list[int]) -> None:
        """A lead unit of round ``round_`` asks ``unit_ids``: with several lead units, the run
        asks every unit any of them chose (kept in ``order``, the plan's partner order)."""
        asked = set(unit_ids)
        if self.partners_round == round_:
            asked |= set(self.partners_asked)
        self.partners_asked = [pk for pk in order if pk in asked]
        self.partners_round = round_

    @property
    def needs_partner_input(self) -> bool:
        return bool(self.partners_asked)

    @property
    def partners_requested(self) -> bool:
        """The office asked partners at review (the review gateway's third way)."""
        return not self.review_approved and bool(self.partners_asked)

    @property
    def signed_off(self) -> bool:
        return self.signoff_decision == "approve"

    @property
    def returned_to_office(self) -> bool:
        return self.signoff_decision == "office"


class StepKind(models.TextChoices):
    """The four human steps of a run and their one name, wherever a person reads it: lists,
    step pages, notifications, the history, the run's stage and the flow chart (``Step.Kind``)."""

    LEAD = "lead", _("Chủ trì thực hiện")
    PARTNER = "partner", _("Phối hợp cho ý kiến")
    REVIEW = "review", _("Văn phòng Sở thẩm định")
    SIGN_OFF = "sign_off", _("Lãnh đạo Sở phê duyệt")


class Stage(models.TextChoices):
    """Where a run stands: at one of its steps (named as the step), done or cancelled."""

    LEAD = StepKind.LEAD.value, StepKind.LEAD.label
    PARTNER = StepKind.PARTNER.value, StepKind.PARTNER.label
    REVIEW = StepKind.REVIEW.value, StepKind.REVIEW.label
    SIGN_OFF = StepKind.SIGN_OFF.value, StepKind.SIGN_OFF.label
    DONE = "done", _("Hoàn thành")
    CANCELED = "canceled", _("Đã hủy")


class Bucket(models.TextChoices):
    """The national convention for counting a period's results (domain.md), with its colours.

    Only runs launched in the period and not cancelled fall in a bucket; every other task of
    the plan is on one of the ``Line``s. The rule is ``workflow.counting`` (docs/counting.md).
    """

    DONE_ON_TIME = "done_on_time", _("Hoàn thành đúng hạn")
    DONE_LATE = "done_late", _("Hoàn thành quá hạn")
    OPEN_IN_TIME = "open_in_time", _("Chưa hoàn thành – trong hạn")
    OPEN_OVERDUE = "open_overdue", _("Chưa hoàn thành – quá hạn")
    NOT_STARTED = "not_started", _("Chưa thực hiện")


class Line(models.TextChoices):
    """The plan's tasks that are no result of the period: listed on their own lines, never in a bucket."""

    NOT_DUE = "not_due", _("Thực hiện trong năm, chưa đến hạn")
    NOT_IN_PERIOD = "not_in_period", _("Không phát sinh trong kỳ")
    NOT_LAUNCHED = "not_launched", _("Chưa khởi tạo trong kỳ")
    CANCELED = "canceled", _("Đã hủy quy trình")


BUCKET_COLOURS: dict[str, str] = {
    Bucket.DONE_ON_TIME: "green",
    Bucket.DONE_LATE: "orange",
    Bucket.OPEN_IN_TIME: "blue",
    Bucket.OPEN_OVERDUE: "red",
    Bucket.NOT_STARTED: "grey",
    # Outside the buckets: a run's page can show these too (a cancelled run).
    Line.NOT_DUE: "outline",
    Line.NOT_IN_PERIOD: "outline",
    Line.NOT_LAUNCHED: "outline",
    Line.CANCELED: "outline",
}


class PeriodTask(models.Model):
    """Nhiệm vụ trong kỳ: a plan task run in one reporting period (one process)."""

    plan_task = models.ForeignKey(PlanTask, on_delete=models.PROTECT, related_name="period_tasks")
    period = models.ForeignKey(ReportingPeriod, on_delete=models.PROTECT, related_name="period_tasks")
    process = models.OneToOneField(Process, on_delete=models.CASCADE, related_name="period_task")
    stage = models.CharField(_("bước hiện tại"), max_length=10, choices=Stage.choices, default=Stage.LEAD)
    round = models.PositiveSmallIntegerField(_("vòng"), default=1)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    launched_at = models.DateTimeField(_("khởi tạo lúc"), default=timezone.now)
    started_at = models.DateTimeField(_("bắt đầu thực hiện lúc"), null=True, blank=True)
    completed_at = models.DateTimeField(_("hoàn thành lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("nhiệm vụ trong kỳ")
        verbose_name_plural = _("nhiệm vụ trong kỳ")
        constraints = [
            # Launching is idempotent: the database refuses a second run of a task in a period.
            models.UniqueConstraint(fields=["plan_task", "period"], name="periodtask_unique_run")
        ]
        indexes = [models.Index(fields=["period", "stage"], name="periodtask_period_stage")]

    def __str__(self) -> str:
        return f"{self.plan_task} – {self.period}"

    def bucket(self, today: datetime.date | None = None) -> str:
        """The run's place in the period's count (a ``Bucket``, or ``Line.CANCELED``): the one
        rule of ``workflow.counting``. Reads ``period`` and ``plan_task``: select them."""
        from workflow import counting

        return counting.run_status(self, today or timezone.localdate())


class Step(models.Model):
    """Bước xử lý: one human step of a period task, with the report written in it.

    One row per viewflow task: a return creates new task rows, hence new Step rows,
    so every submitted version stays as it was.
    """

    Kind = StepKind

    class State(models.TextChoices):
        OPEN = "open", _("Đang xử lý")
        DONE = "done", _("Đã xong")
        CANCELED = "canceled", _("Đã hủy")

    class SelfAssessment(models.TextChoices):
        DONE = "done", _("Đã hoàn thành")
        IN_PROGRESS = "in_progress", _("Đang thực hiện")
        NOT_DONE = "not_done", _("Chưa thực hiện")

    class Decision(models.TextChoices):
        APPROVE = "approve", _("Đồng ý")
        RETURN_LEAD = "lead", _("Trả lại đơn vị chủ trì")
        RETURN_OFFICE = "office", _("Trả lại Văn phòng Sở")
        ASK_PARTNERS = "partners", _("Xin ý kiến phối hợp")

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="step")
    period_task = models.ForeignKey(PeriodTask, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(_("loại bước"), max_length=10, choices=Kind.choices)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="steps")
    round = models.PositiveSmallIntegerField(_("vòng"), default=1)
    state = models.CharField(_("trạng thái"), max_length=10, choices=State.choices, default=State.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(_("hạn xử lý"))
    created_at = models.DateTimeField(default=timezone.now)
    # The report.
    result = models.TextField(_("kết quả thực hiện"), blank=True)
    self_assessment = models.CharField(
        _("tự đánh giá"), max_length=12, choices=SelfAssessment.choices, blank=True
    )
    explanation = models.TextField(_("giải trình"), blank=True)
    no_opinion = models.BooleanField(_("không có ý kiến"), default=False)
    decision = models.CharField(_("quyết định"), max_length=10, choices=Decision.choices, blank=True)
    reason = models.TextField(_("lý do"), blank=True)
    ask_partners_again = models.BooleanField(_("xin lại ý kiến phối hợp"), default=False)
    # The partner units this step asked for input (a lead step, or a review asking partners),
    # as unit ids; None: not chosen (yet).
    partners_asked = models.JSONField(
        _("cơ quan phối hợp được xin ý kiến"), null=True, blank=True, default=None
    )
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("gửi lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("bước xử lý")
        verbose_name_plural = _("bước xử lý")
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["unit", "state", "due_date"], name="step_unit_state_due"),
            models.Index(fields=["assignee", "state", "due_date"], name="step_assignee_state_due"),
            models.Index(fields=["kind", "state", "due_date"], name="step_kind_state_due"),
            models.Index(fields=["submitted_by", "submitted_at"], name="step_submitted_by"),
            # The lists' totals (a unit's open steps, a deputy's open sign-offs) count this small
            # index alone, without visiting the table: 16 ms -> 0.4 ms at 100 000 processes.
            models.Index(
                fields=["unit", "kind"], condition=models.Q(state="open"), name="step_open_unit_kind"
            ),
        ]

    def __str__(self) -> str:
        unit = f" – {self.unit.short_name}" if self.unit is not None else ""
        return f"{self.get_kind_display()}{unit} (vòng {self.round})"

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.state == self.State.OPEN and (today or timezone.localdate()) > self.due_date

    def snapshot(self) -> dict[str, object]:
        """The report's fields as the audit trail records them."""
        return {
            "result": self.result,
            "self_assessment": self.self_assessment,
            "explanation": self.explanation,
            "no_opinion": self.no_opinion,
            "decision": self.decision,
            "reason": self.reason,
            "ask_partners_again": self.ask_partners_again,
            "partners_asked": self.partners_asked,
        }


class Evidence(models.Model):
    """Tài liệu kiểm chứng: a file attached to a step, stored outside any served URL.

    A step of a later round starts with the files of the round before: a new row per file,
    ``carried_from`` the row it continues, naming the same stored file (same bytes, same
    SHA-256). The earlier row stays as it was submitted; removing the new one removes it from
    the new round only. So a stored name is unique among the rows that uploaded a file, and
    shared by the rows that carry it on.
    """

    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="evidence")
    original_name = models.CharField(_("tên tệp"), max_length=255)
    stored_name = models.CharField(max_length=100)
    carried_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_to",
        verbose_name=_("chuyển tiếp từ"),
    )
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("dung lượng"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("tài liệu kiểm chứng")
        verbose_name_plural = _("tài liệu kiểm chứng")
        ordering = ["pk"]
        constraints = [
            # One uploaded row per stored file; the rows carrying it into later rounds share it.
            models.UniqueConstraint(
                fields=["stored_name"],
                condition=models.Q(carried_from__isnull=True),
                name="evidence_stored_name_uploaded_once",
            ),
            # A step carries a given earlier row at most once.
            models.UniqueConstraint(fields=["step", "carried_from"], name="evidence_carried_once_per_step"),
        ]

    def __str__(self) -> str:
        return self.original_name


class Notification(models.Model):
    """Thông báo: an in-app message to one user (also mailed, through ``OutgoingMail``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("thông báo")
        verbose_name_plural = _("thông báo")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_read")]

    def __str__(self) -> str:
        return self.message


class Reminder(models.Model):
    """Nhắc hạn đã gửi: one row per step and kind, so a reminder goes out once only."""

    class Kind(models.TextChoices):
        D7 = "d7", _("Còn 7 ngày")
        D3 = "d3", _("Còn 3 ngày")
        D1 = "d1", _("Còn 1 ngày")
        MISSED = "missed", _("Quá hạn")

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["step", "kind"], name="reminder_once")]

    def __str__(self) -> str:
        return f"{self.step_id}:{self.kind}"


class OutgoingMail(models.Model):
    """Thư đi: one mail to one address, written in the transaction of the action that causes it
    and delivered by a background job (workflow/tasks.py), which retries it with backoff."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Chờ gửi")
        SENDING = "sending", _("Đang gửi")
        SENT = "sent", _("Đã gửi")
        FAILED = "failed", _("Gửi không được")

    recipient = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("thư đi")
        verbose_name_plural = _("thư đi")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outgoing_mail_status_due")]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.subject}"

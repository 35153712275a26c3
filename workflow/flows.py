"""The reporting flow, as the diagram: one plan task in one reporting period.

lead unit(s) → partner units (those the lead asked, if any) → Văn phòng Sở review → leadership
sign-off, with returns to the lead unit from review, and to the office or the lead from sign-off;
the office may ask partners at review (partners → review again). Where a decision sends the run
is recorded on the process (TaskProcess.decide / lead_asks) and read by the gateways below.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import act, flow, lock

from workflow import selectors, services
from workflow.models import Stage, StepKind, TaskProcess
from workflow.nodes import Join, StepView, UnitSplit
from workflow.views import step_redirect


class ReportFlow(flow.Flow):
    """Báo cáo kết quả thực hiện nhiệm vụ trong kỳ."""

    process_class = TaskProcess
    # Waits for the process row instead of failing after a few NOWAIT retries (a 500);
    # on SQLite, IMMEDIATE transactions serialise writers instead.
    lock_impl = lock.SelectForUpdateLock(nowait=False, attempts=1)
    process_title = _("Báo cáo kết quả nhiệm vụ")

    start = (
        flow.StartHandle(this.start_process).Annotation(title=_("Khởi tạo kỳ báo cáo")).Next(this.lead_split)
    )

    lead_split = (
        UnitSplit(units=selectors.lead_unit_ids).Annotation(title=_("Giao đơn vị chủ trì")).Next(this.lead)
    )
    lead = (
        StepView(step_redirect, kind=StepKind.LEAD)
        .Annotation(title=StepKind.LEAD.label)
        .Permission("plans.work_on_unit")
        .Next(this.lead_join)
    )
    lead_join = Join().Annotation(title=_("Các đơn vị chủ trì đã báo cáo")).Next(this.partners_needed)

    partners_needed = (
        flow.If(act.process.needs_partner_input)
        .Annotation(title=_("Cần ý kiến phối hợp?"))
        .Then(this.partner_split)
        .Else(this.review)
    )
    partner_split = (
        UnitSplit(units=this.partners_asked).Annotation(title=_("Xin ý kiến phối hợp")).Next(this.partner)
    )
    partner = (
        StepView(step_redirect, kind=StepKind.PARTNER)
        .Annotation(title=StepKind.PARTNER.label)
        .Permission("plans.work_on_unit")
        .Next(this.partner_join)
    )
    partner_join = Join().Annotation(title=_("Đã đủ ý kiến phối hợp")).Next(this.review)

    review = (
        StepView(step_redirect, kind=StepKind.REVIEW)
        .Annotation(title=StepKind.REVIEW.label)
        .Permission("workflow.review_taskprocess")
        .Next(this.review_result)
    )
    review_result = (
        flow.Switch()
        .Annotation(title=_("Thẩm định đạt?"))
        .Case(this.sign_off, act.process.review_approved)
        .Case(this.partner_split, act.process.partners_requested)
        .Default(this.lead_split)
    )

    sign_off = (
        StepView(step_redirect, kind=StepKind.SIGN_OFF)
        .Annotation(title=StepKind.SIGN_OFF.label)
        .Permission("plans.sign_off_unit", obj=selectors.signoff_unit)
        .Next(this.sign_off_result)
    )
    sign_off_result = (
        flow.Switch()
        .Annotation(title=_("Kết quả phê duyệt"))
        .Case(this.end, act.process.signed_off)
        .Case(this.review, act.process.returned_to_office)
        .Default(this.lead_split)
    )

    end = flow.End().Annotation(title=Stage.DONE.label)

    def start_process(self, activation: Any, **kwargs: Any) -> TaskProcess:
        return services.process_start(activation=activation, **kwargs)

    def partners_asked(self, process: TaskProcess) -> list[int]:
        """The partner units this round asks: chosen by the lead unit(s) when they submitted, or
        by the office at review (TaskProcess.partners_asked), never read from the plan."""
        return list(process.partners_asked)

"""Fixtures of the fault tests: an evidence root per test and a populated workflow."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import LEAD_REPORT, PDF, png_bytes
from workflow import services
from workflow.evidence import store
from workflow.models import PeriodTask


@pytest.fixture
def populated(units: dict[str, Any], personas: dict[str, Any], evidence_root: Path) -> dict[str, Any]:
    """Three processes in Q1 at different stages, evidence attached, the audit chain filled.

    Task A (QLCN, partner QLTM): lead with a PDF and a PNG -> partner -> review approved -> sign-off open.
    Task B (QLTM): lead claimed, a PNG attached, a draft saved.
    Task C (ATNL): just launched.
    """
    criterion = CriterionFactory()
    plan = criterion.section.appendix.plan
    a = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]], task="Nhiệm vụ A")
    b = plan_task(criterion, lead=[units["QLTM"]], task="Nhiệm vụ B")
    c = plan_task(criterion, lead=[units["ATNL"]], task="Nhiệm vụ C")
    period = periods(plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[a, b, c])
    pt_a, pt_b = PeriodTask.objects.get(plan_task=a), PeriodTask.objects.get(plan_task=b)

    def attach(step: Any, user: Any, name: str, content: bytes) -> None:
        stored = store(io.BytesIO(content), name=name, size=len(content))
        services.evidence_attach(step_id=step.pk, user=user, stored=stored)

    lead = pt_a.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    attach(lead, personas["staff"], "bao-cao.pdf", PDF)
    attach(lead, personas["staff"], "anh-chup.png", png_bytes(1))
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)
    partner = pt_a.steps.get(kind="partner")
    services.step_claim(step_id=partner.pk, user=personas["other_staff"])
    services.step_submit(step_id=partner.pk, user=personas["other_staff"], data={"result": "Nhất trí"})
    review = pt_a.steps.get(kind="review")
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    services.step_submit(
        step_id=review.pk, user=personas["office_reviewer"], data={"decision": "approve", "reason": ""}
    )
    lead_b = pt_b.steps.get(kind="lead")
    services.step_claim(step_id=lead_b.pk, user=personas["other_staff"])
    attach(lead_b, personas["other_staff"], "minh-chung.png", png_bytes(2))
    services.step_save_draft(step_id=lead_b.pk, user=personas["other_staff"], data={"result": "Đang làm"})
    return {"period": period, "a": pt_a, "b": pt_b, "lead_b": lead_b, "personas": personas}

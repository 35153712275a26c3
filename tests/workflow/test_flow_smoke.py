from __future__ import annotations

import pytest

from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.models import PeriodTask, Step


@pytest.mark.django_db
def test_plain_task_goes_from_lead_to_sign_off(units, personas):
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    period = periods(criterion.section.appendix.plan)["Q1"]

    result = services.period_launch(period=period, actor=personas["office_reviewer"])
    assert len(result.started) == 1
    pt = PeriodTask.objects.get(plan_task=task, period=period)
    lead = pt.steps.get(kind="lead")
    assert lead.unit == units["QLCN"]

    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead.pk,
        user=personas["staff"],
        data={"result": "Đã làm", "self_assessment": "done", "explanation": "Không có tệp"},
    )
    partner = pt.steps.get(kind="partner")
    assert partner.unit == units["QLTM"]
    services.step_claim(step_id=partner.pk, user=personas["other_staff"])
    services.step_submit(
        step_id=partner.pk, user=personas["other_staff"], data={"no_opinion": True, "result": ""}
    )
    review = pt.steps.get(kind="review")
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    services.step_submit(
        step_id=review.pk, user=personas["office_reviewer"], data={"decision": "approve", "reason": ""}
    )
    sign = pt.steps.get(kind="sign_off")
    assert sign.unit == units["QLCN"]
    services.step_claim(step_id=sign.pk, user=personas["deputy"])
    services.step_submit(step_id=sign.pk, user=personas["deputy"], data={"decision": "approve", "reason": ""})
    pt.refresh_from_db()
    assert pt.stage == "done"
    assert pt.completed_at is not None
    assert pt.process.status == "DONE"
    assert list(Step.objects.filter(period_task=pt).values_list("kind", "state")) == [
        ("lead", "done"),
        ("partner", "done"),
        ("review", "done"),
        ("sign_off", "done"),
    ]

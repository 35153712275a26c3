"""Every path of the reporting flow, driven through the services (the pages have their own tests)."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import do, open_steps
from workflow import services
from workflow.models import PeriodTask, Step

LEAD_REPORT = {
    "result": "Đã triển khai",
    "self_assessment": "done",
    "explanation": "Chưa có tệp, xin giải trình",
}


def test_task_without_partners_goes_straight_to_review(launch, personas):
    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("review", None)]
    assert not pt.steps.filter(kind="partner").exists()


def test_every_partner_unit_gets_its_own_step_and_review_waits_for_all(launch, personas):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("partner", "QLTM"), ("partner", "ATNL")]
    do(pt.steps.get(kind="partner", unit__short_name="QLTM"), personas["other_staff"], result="Nhất trí")
    assert open_steps(pt) == [("partner", "ATNL")]
    do(pt.steps.get(kind="partner", unit__short_name="ATNL"), personas["atnl_staff"], no_opinion=True)
    assert open_steps(pt) == [("review", None)]


def test_every_unit_as_lead_gives_each_unit_a_lead_step_joined_before_review(launch, personas, units):
    pt = launch(list(units))
    assert sorted(u for _, u in open_steps(pt)) == sorted(units)
    leads = {s.unit.short_name: s for s in pt.steps.filter(kind="lead")}
    do(leads["QLCN"], personas["staff"], **LEAD_REPORT)
    do(leads["QLTM"], personas["other_staff"], **LEAD_REPORT)
    assert not pt.steps.filter(kind="review").exists()
    from django.contrib.auth import get_user_model

    from plans import organisation

    for short, step in leads.items():
        step.refresh_from_db()
        if step.state == "open":
            user = get_user_model().objects.create_user(f"u_{short}")
            organisation.membership_set(user=user, unit=step.unit, role="staff")
            do(step, user, **LEAD_REPORT)
    assert open_steps(pt) == [("review", None)]
    # Several leads: only the director (no single unit to oversee) signs off.
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    sign = pt.steps.get(kind="sign_off")
    assert sign.unit is None
    with pytest.raises(services.PermissionDenied):
        services.step_claim(step_id=sign.pk, user=personas["deputy"])
    do(sign, personas["director"], decision="approve", reason="")
    pt.refresh_from_db()
    assert pt.stage == "done"


def test_return_at_review_sends_the_task_back_to_the_lead_with_the_reason(launch, personas):
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí")
    do(
        pt.steps.get(kind="review"),
        personas["office_reviewer"],
        decision="lead",
        reason="Thiếu số liệu",
        ask_partners_again=False,
    )
    pt.refresh_from_db()
    assert pt.round == 2
    assert open_steps(pt) == [("lead", "QLCN")]
    first, second = pt.steps.filter(kind="lead").order_by("pk")
    # The new round starts from the previous text; the submitted version stays as it was.
    assert (first.result, first.state, second.round, second.result) == (
        "Đã triển khai",
        "done",
        2,
        "Đã triển khai",
    )
    event = AuditEvent.objects.get(action="return")
    assert event.reason == "Thiếu số liệu"
    # Partners not asked again: the rework goes straight to review.
    do(second, personas["staff"], **{**LEAD_REPORT, "result": "Đã bổ sung số liệu"})
    assert open_steps(pt) == [("review", None)]
    assert pt.steps.filter(kind="partner").count() == 1


def test_return_at_review_can_ask_partners_again(launch, personas):
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí")
    do(
        pt.steps.get(kind="review"),
        personas["office_reviewer"],
        decision="lead",
        reason="Làm lại",
        ask_partners_again=True,
    )
    do(pt.steps.filter(kind="lead").last(), personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("partner", "QLTM")]


def test_sign_off_can_return_to_the_office(launch, personas):
    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.get(kind="sign_off"), personas["director"], decision="office", reason="Xem lại đánh giá")
    assert open_steps(pt) == [("review", None)]
    do(pt.steps.filter(kind="review").last(), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.filter(kind="sign_off").last(), personas["deputy"], decision="approve", reason="")
    pt.refresh_from_db()
    assert (pt.stage, pt.process.status) == ("done", "DONE")


def test_sign_off_can_return_to_the_lead(launch, personas):
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí")
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.get(kind="sign_off"), personas["director"], decision="lead", reason="Chưa đạt mục tiêu")
    assert open_steps(pt) == [("lead", "QLCN")]
    do(pt.steps.filter(kind="lead").last(), personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("review", None)]


def test_return_requires_a_reason(launch, personas):
    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    review = pt.steps.get(kind="review")
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    with pytest.raises(services.ValidationError) as error:
        services.step_submit(
            step_id=review.pk, user=personas["office_reviewer"], data={"decision": "lead", "reason": " "}
        )
    assert error.value.message_dict == {"reason": ["Trả lại phải nêu lý do."]}
    assert open_steps(pt) == [("review", None)]


def test_unit_head_assigns_and_reassigns_within_the_unit(launch, personas, make_user):
    pt = launch(["QLCN"])
    lead = pt.steps.get(kind="lead")
    colleague = make_user("qlcn_cv2", unit="QLCN")
    services.step_assign(step_id=lead.pk, assignee=personas["staff"], actor=personas["unit_head"])
    services.step_assign(step_id=lead.pk, assignee=colleague, actor=personas["unit_head"])
    lead.refresh_from_db()
    assert lead.assignee == colleague
    assert lead.task.owner == colleague
    assert list(AuditEvent.objects.filter(step=lead).values_list("action", flat=True)) == [
        "assign",
        "reassign",
    ]
    with pytest.raises(services.StepConflict):
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)
    services.step_submit(step_id=lead.pk, user=colleague, data=LEAD_REPORT)
    assert open_steps(pt) == [("review", None)]


def test_staff_cannot_assign_and_head_cannot_assign_outside_the_unit(launch, personas):
    pt = launch(["QLCN"])
    lead = pt.steps.get(kind="lead")
    with pytest.raises(services.PermissionDenied):
        services.step_assign(step_id=lead.pk, assignee=personas["staff"], actor=personas["staff"])
    with pytest.raises(services.ValidationError):
        services.step_assign(step_id=lead.pk, assignee=personas["other_staff"], actor=personas["unit_head"])


def test_launch_is_idempotent(units, personas):
    criterion = CriterionFactory()
    tasks = [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(3)]
    plan_task(criterion, lead=[units["QLCN"]], timeline_kind="year")
    plan_task(criterion, lead=[units["QLCN"]], timeline_kind="policy")
    period_q1 = periods(criterion.section.appendix.plan)["Q1"]
    first = services.period_launch(period=period_q1, actor=personas["office_reviewer"])
    second = services.period_launch(period=period_q1, actor=personas["office_reviewer"])
    assert (len(first.started), first.skipped) == (3, 0)
    assert (len(second.started), second.skipped) == (0, 3)
    assert PeriodTask.objects.filter(period=period_q1).count() == 3
    assert {pt.plan_task_id for pt in PeriodTask.objects.all()} == {t.pk for t in tasks}
    year = periods(criterion.section.appendix.plan)["Y"]
    assert len(services.period_launch(period=year, actor=personas["office_reviewer"]).started) == 4


def test_only_the_office_launches(units, personas):
    criterion = CriterionFactory()
    plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    for who in ("staff", "unit_head", "director", "auditor"):
        with pytest.raises(services.PermissionDenied):
            services.period_launch(period=period, actor=personas[who])
    assert PeriodTask.objects.count() == 0


def test_a_completed_task_is_bucketed_against_the_period_deadline(launch, personas, time_machine):
    import datetime

    time_machine.move_to(datetime.datetime(2024, 3, 1, 9, 0, tzinfo=datetime.UTC))
    pt = launch(["QLCN"])
    from workflow.models import Bucket

    assert pt.bucket() == Bucket.NOT_STARTED
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    pt.refresh_from_db()
    assert pt.bucket() == Bucket.OPEN_IN_TIME
    assert pt.bucket(today=datetime.date(2024, 3, 11)) == Bucket.OPEN_OVERDUE
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    time_machine.move_to(datetime.datetime(2024, 3, 12, 9, 0, tzinfo=datetime.UTC))
    do(pt.steps.get(kind="sign_off"), personas["director"], decision="approve", reason="")
    pt.refresh_from_db()
    assert pt.bucket() == Bucket.DONE_LATE


def test_office_cancels_a_run_with_a_reason(launch, personas, client):
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    with pytest.raises(services.ValidationError):
        services.period_task_cancel(period_task_id=pt.pk, actor=personas["office_reviewer"], reason=" ")
    for who in ("staff", "director", "auditor"):
        with pytest.raises(services.PermissionDenied):
            services.period_task_cancel(period_task_id=pt.pk, actor=personas[who], reason="x")
    services.period_task_cancel(
        period_task_id=pt.pk, actor=personas["office_reviewer"], reason="Trùng nhiệm vụ"
    )
    pt.refresh_from_db()
    assert (pt.stage, pt.process.status) == ("canceled", "CANCELED")
    assert open_steps(pt) == []
    assert list(pt.steps.values_list("kind", "state")) == [("lead", "done"), ("partner", "canceled")]
    assert AuditEvent.objects.get(action="cancel").reason == "Trùng nhiệm vụ"
    with pytest.raises(services.StepConflict):
        services.period_task_cancel(period_task_id=pt.pk, actor=personas["office_reviewer"], reason="lại")


def test_cancel_through_the_page_is_for_the_office_only(launch, personas, client):
    from django.urls import reverse

    pt = launch(["QLCN"])
    url = reverse("workflow:period_task", args=[pt.pk])
    client.force_login(personas["staff"])
    assert client.post(url, {"action": "cancel", "reason": "x"}).status_code == 403
    client.force_login(personas["office_reviewer"])
    assert client.post(url, {"action": "cancel", "reason": ""}).status_code == 400
    assert client.post(url, {"action": "cancel", "reason": "Không còn phù hợp"}).status_code == 302
    assert client.post(url, {"action": "cancel", "reason": "lại"}).status_code == 409


def test_a_process_hint_that_is_not_the_steps_process_changes_nothing(launch, personas):
    """The page passes the process it read with the step; a wrong one is a 409, nothing written."""
    pt = launch(["QLCN"])
    other = launch(["QLCN"])
    step = pt.steps.get(kind="lead")
    services.step_claim(step_id=step.pk, user=personas["staff"], process_id=pt.process_id)
    events = AuditEvent.objects.count()
    with pytest.raises(services.StepConflict):
        services.step_submit(
            step_id=step.pk, user=personas["staff"], data=LEAD_REPORT, process_id=other.process_id
        )
    step.refresh_from_db()
    assert step.state == Step.State.OPEN and AuditEvent.objects.count() == events
    assert open_steps(pt) == [("lead", "QLCN")]


# --- a later round carries the previous one over ----------------------------------------------


def returned_to_lead(launch: Any, personas: dict[str, Any], *, ask_partners_again: bool = True) -> PeriodTask:
    """QLCN leads with QLTM as partner; both report; the office returns it to the lead."""
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí")
    do(
        pt.steps.get(kind="review"),
        personas["office_reviewer"],
        decision="lead",
        reason="Thiếu số liệu",
        ask_partners_again=ask_partners_again,
    )
    return pt


def test_a_returned_step_goes_back_to_its_author_assigned_audited_and_told_with_a_link(launch, personas):
    from django.urls import reverse
    from viewflow.workflow.status import STATUS

    from workflow.models import Notification

    # Given QLCN's staff member submitted the lead step, and the office returned it
    pt = returned_to_lead(launch, personas)

    # Then the round-2 lead step is theirs, through viewflow's own assignment
    step = pt.steps.get(kind="lead", round=2)
    assert step.assignee == personas["staff"]
    assert (step.task.owner, step.task.status) == (personas["staff"], STATUS.ASSIGNED)
    assert step.task.assigned is not None
    # and starts from the text they sent
    assert (step.result, step.self_assessment, step.explanation) == tuple(LEAD_REPORT.values())
    # and the assignment is in the trail, after the return, by whoever returned it, with the reason
    ret, assign = AuditEvent.objects.filter(period_task=pt).order_by("-seq")[:2][::-1]
    assert (ret.action, assign.action) == ("return", "assign")
    assert (assign.actor, assign.step, assign.reason) == (personas["office_reviewer"], step, "Thiếu số liệu")
    assert assign.data == {"from": None, "to": "qlcn_cv", "returned": True, "round": 2}
    # and only they are told, once, that it came back: with the round, the reason and a link to it
    notes = list(Notification.objects.filter(step=step).values_list("user__username", "message", "url"))
    assert notes == [
        (
            "qlcn_cv",
            "Việc mới – bị trả lại (vòng 2) – Chủ trì thực hiện (Phòng Quản lý công nghiệp): "
            "Triển khai thực hiện kế hoạch CCHC – kỳ Quý I/2024. Lý do: Thiếu số liệu",
            reverse("workflow:step", args=[step.pk]),
        )
    ]
    assert not Notification.objects.filter(user=personas["staff"], message__startswith="Nhiệm vụ bị trả lại")
    # and the partner asked again starts from its own opinion, waiting in its unit's queue
    partner = pt.steps.get(kind="partner", round=1)
    do(step, personas["staff"], **LEAD_REPORT)
    again = pt.steps.get(kind="partner", round=2)
    assert (again.result, again.no_opinion, again.assignee) == ("Nhất trí", False, None)
    assert partner.result == "Nhất trí"
    assert Notification.objects.get(step=again, user=personas["other_staff"]).message == (
        "Việc mới (vòng 2) – Phối hợp cho ý kiến (Phòng Quản lý thương mại): Triển khai thực hiện kế hoạch CCHC"
        " – kỳ Quý I/2024. Vòng trước bị trả lại, lý do: Thiếu số liệu"
    )


def test_a_returned_step_waits_in_the_unit_queue_when_its_author_left_the_unit(launch, personas):
    from django.urls import reverse

    from plans import organisation
    from workflow.models import Notification

    # Given the author of the lead step moved to ATNL before the office returned it
    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    organisation.membership_set(
        user=personas["staff"], unit=personas["atnl_staff"].membership.unit, role="staff"
    )
    review = pt.steps.get(kind="review")
    do(review, personas["office_reviewer"], decision="lead", reason="Thiếu số liệu")

    # Then the returned step is nobody's: it waits in QLCN's queue, with the previous text
    step = pt.steps.get(kind="lead", round=2)
    assert (step.assignee, step.result) == (None, "Đã triển khai")
    assert not AuditEvent.objects.filter(step=step, action="assign").exists()
    # and QLCN's people hear it came back; the former author hears of the return, with a link
    assert list(Notification.objects.filter(step=step).values_list("user__username", flat=True)) == [
        "qlcn_tp"
    ]
    former = Notification.objects.get(user=personas["staff"], step=review)
    assert former.message == (
        "Nhiệm vụ bị trả lại đơn vị chủ trì (vòng 1): Triển khai thực hiện kế hoạch CCHC. Lý do: Thiếu số liệu"
    )
    assert former.url == reverse("workflow:period_task", args=[pt.pk])


def test_a_sign_off_returned_to_the_office_goes_back_to_the_reviewer(launch, personas, make_user):
    from plans import roles

    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    make_user("vp_cchc2", unit="VP", role=roles.OFFICE_REVIEWER)
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.get(kind="sign_off"), personas["director"], decision="office", reason="Xem lại đánh giá")

    review = pt.steps.get(kind="review", round=2)
    assert review.assignee == personas["office_reviewer"]
    # a decision is never carried over
    assert (review.decision, review.reason) == ("", "")
    # and nothing else of round 2 counts as returned: the sign-off after it is unassigned
    do(review, personas["office_reviewer"], decision="approve", reason="")
    assert pt.steps.get(kind="sign_off", round=2).assignee is None


def test_outcome_notifications_link_to_the_dossier(launch, personas):
    from django.urls import reverse

    from workflow.models import Notification

    pt = launch(["QLCN"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT)
    do(pt.steps.get(kind="review"), personas["office_reviewer"], decision="approve", reason="")
    note = Notification.objects.get(user=personas["staff"], message__startswith="Nhiệm vụ đã được")
    assert note.url == reverse("workflow:period_task", args=[pt.pk])

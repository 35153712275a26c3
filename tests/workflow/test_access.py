"""Who may see and do what on the workflow pages, driven through the test client.

A launched task led by QLCN with partner QLTM is taken to each stage (lead, partner,
review, sign_off); every persona that may not act there gets 403 (never a redirect,
never a change in the database) on every POST action of the step page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from viewflow.workflow.models import Task

from audit.models import AuditEvent
from plans import roles
from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import PERSONAS
from workflow import access, services
from workflow.models import Evidence, Notification, PeriodTask, Step

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

STAGES = ("lead", "partner", "review", "sign_off")
# Who may claim the open step at each stage (the unit head of QLCN may also assign at "lead").
MAY_CLAIM = {
    "lead": {"staff", "unit_head"},
    "partner": {"other_staff"},
    "review": {"office_reviewer"},
    "sign_off": {"director", "deputy"},
}
SEES_EVERYTHING = ("office_reviewer", "director", "deputy", "other_deputy", "auditor")
POST_ACTIONS = ("claim", "submit", "save", "assign", "upload")

DENIED = [(stage, persona) for stage in STAGES for persona in PERSONAS if persona not in MAY_CLAIM[stage]]


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _evidence_root(settings: Any, tmp_path: Any) -> Any:
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return settings.EVIDENCE_ROOT


@pytest.fixture
def period_task(units: dict[str, Any], personas: dict[str, Any]) -> PeriodTask:
    """One launched process: led by QLCN, partner QLTM, period Q1/2024."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"])
    return PeriodTask.objects.get(plan_task=task, period=period)


def advance_to(period_task: PeriodTask, stage: str, personas: dict[str, Any]) -> Step:
    """Drive the process with the services until the open step is of kind ``stage``."""
    lead = period_task.steps.get(kind="lead")
    if stage == "lead":
        return lead
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead.pk,
        user=personas["staff"],
        data={"result": "Đã ban hành kế hoạch", "self_assessment": "done", "explanation": "Không có tệp"},
    )
    partner = period_task.steps.get(kind="partner")
    if stage == "partner":
        return partner
    services.step_claim(step_id=partner.pk, user=personas["other_staff"])
    services.step_submit(step_id=partner.pk, user=personas["other_staff"], data={"no_opinion": True})
    review = period_task.steps.get(kind="review")
    if stage == "review":
        return review
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    services.step_submit(
        step_id=review.pk, user=personas["office_reviewer"], data={"decision": "approve", "reason": ""}
    )
    return period_task.steps.get(kind="sign_off")


def post_data(action: str, personas: dict[str, Any]) -> dict[str, Any]:
    """A complete, otherwise valid POST for each action of the step page."""
    if action == "assign":
        return {"action": "assign", "assignee": personas["staff"].pk}
    if action == "upload":
        return {"action": "upload", "file": SimpleUploadedFile("Báo cáo.pdf", PDF, "application/pdf")}
    if action in ("submit", "save"):
        return {
            "action": action,
            "report-result": "Kết quả do người không có quyền ghi",
            "report-self_assessment": "done",
            "report-explanation": "Giải trình",
            "report-no_opinion": "on",
            "report-decision": "approve",
            "report-reason": "",
        }
    return {"action": action}


def db_state(step: Step) -> dict[str, Any]:
    """Everything a POST on the step page could change."""
    return {
        "steps": list(
            Step.objects.order_by("pk").values_list(
                "pk", "state", "assignee_id", "result", "explanation", "decision", "draft_saved_at"
            )
        ),
        "tasks": list(Task.objects.order_by("pk").values_list("pk", "status", "owner_id")),
        "audit_events": AuditEvent.objects.count(),
        "evidence": Evidence.objects.count(),
        "notifications": Notification.objects.count(),
        "period_task": list(PeriodTask.objects.values_list("stage", "round", "started_at")),
    }


def files_under(root: Any) -> list[Any]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- denial matrix: each stage, each persona that may not act there -----------------------


@pytest.mark.parametrize(("stage", "persona"), DENIED)
def test_persona_not_allowed_at_stage_gets_403_on_every_action(
    client: Any,
    personas: dict[str, Any],
    period_task: PeriodTask,
    stage: str,
    persona: str,
    _evidence_root: Any,
) -> None:
    # Given the process is at ``stage`` with its step unclaimed
    step = advance_to(period_task, stage, personas)
    url = reverse("workflow:step", args=[step.pk])
    before = db_state(step)
    client.force_login(personas[persona])

    # When the persona opens the step and period task pages
    step_page = client.get(url)
    task_page = client.get(reverse("workflow:period_task", args=[period_task.pk]))
    # Then a unit not involved (ATNL) is refused; everyone else reads, without action buttons
    expected = 403 if persona == "atnl_staff" else 200
    assert (step_page.status_code, task_page.status_code) == (expected, expected)
    if expected == 200:
        body = step_page.content.decode()
        assert not any(f'value="{a}"' in body for a in POST_ACTIONS)

    # When the persona posts every action of the step page
    statuses = {action: client.post(url, post_data(action, personas)).status_code for action in POST_ACTIONS}
    # Then each is refused with 403 (not a login redirect), and nothing changed
    assert statuses == dict.fromkeys(POST_ACTIONS, 403)
    assert db_state(step) == before
    assert files_under(_evidence_root) == []


@pytest.mark.parametrize("stage", STAGES)
def test_allowed_claimer_at_stage_claims_the_step(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, stage: str
) -> None:
    # Given the process is at ``stage``; one of the people who may claim it
    step = advance_to(period_task, stage, personas)
    claimer = personas[sorted(MAY_CLAIM[stage])[0]]
    client.force_login(claimer)

    # When they claim it through the step page
    response = client.post(reverse("workflow:step", args=[step.pk]), {"action": "claim"})

    # Then they are sent back to the step, which is now theirs
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:step", args=[step.pk])
    step.refresh_from_db()
    assert step.assignee == claimer
    assert AuditEvent.objects.filter(action="claim", step=step, actor=claimer).count() == 1


@pytest.mark.parametrize("situation", ["claimed", "done"])
@pytest.mark.parametrize("persona", ["other_staff", "office_reviewer", "director", "deputy", "auditor"])
def test_persona_never_allowed_gets_403_not_409_on_a_claimed_or_finished_step(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, persona: str, situation: str
) -> None:
    # Given QLCN's lead step was claimed by its staff member (and, if "done", submitted)
    step = advance_to(period_task, "lead", personas)
    if situation == "claimed":
        services.step_claim(step_id=step.pk, user=personas["staff"])
    else:
        advance_to(period_task, "partner", personas)
    url = reverse("workflow:step", args=[step.pk])
    before = db_state(step)
    client.force_login(personas[persona])

    # When a persona who can never act on QLCN's lead step posts claim / save / submit
    statuses = {a: client.post(url, post_data(a, personas)).status_code for a in ("claim", "save", "submit")}

    # Then it is a denial (403), not a conflict (409), and nothing changed
    assert statuses == {"claim": 403, "save": 403, "submit": 403}
    assert db_state(step) == before


# --- read access -------------------------------------------------------------------------


def test_overseeing_personas_read_every_step_and_the_period_task_of_a_process(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given a process at sign-off, with lead, partner, review and sign-off steps
    advance_to(period_task, "sign_off", personas)
    step_ids = list(period_task.steps.order_by("pk").values_list("pk", flat=True))
    assert len(step_ids) == 4
    urls = [reverse("workflow:step", args=[pk]) for pk in step_ids]
    urls.append(reverse("workflow:period_task", args=[period_task.pk]))

    for persona in ("auditor", "director", "deputy", "other_deputy", "office_reviewer"):
        client.force_login(personas[persona])
        # When they open every step page and the period task page
        statuses = [client.get(url).status_code for url in urls]
        # Then all are readable
        assert statuses == [200] * 5, persona


def test_auditor_can_change_nothing_on_the_open_sign_off_step(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given a process at sign-off with its step unclaimed (the other three done)
    sign_off = advance_to(period_task, "sign_off", personas)
    before = db_state(sign_off)
    client.force_login(personas["auditor"])

    # When the auditor posts every action on the open sign-off step
    url = reverse("workflow:step", args=[sign_off.pk])
    statuses = {a: client.post(url, post_data(a, personas)).status_code for a in POST_ACTIONS}

    # Then every one is refused and no Step / AuditEvent / Task row changed
    assert statuses == dict.fromkeys(POST_ACTIONS, 403)
    assert db_state(sign_off) == before
    assert AuditEvent.objects.count() == before["audit_events"]
    assert Step.objects.count() == 4


def test_unit_not_involved_cannot_get_step_period_task_or_evidence(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's staff attached a file to the lead step
    step = advance_to(period_task, "lead", personas)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    client.force_login(personas["staff"])
    upload = SimpleUploadedFile("Kế hoạch.pdf", PDF, "application/pdf")
    assert (
        client.post(
            reverse("workflow:step", args=[step.pk]), {"action": "upload", "file": upload}
        ).status_code
        == 302
    )
    evidence = Evidence.objects.get(step=step)

    # When ATNL's staff (neither lead nor partner) asks for the step, the task and the file
    client.force_login(personas["atnl_staff"])
    statuses = [
        client.get(reverse("workflow:step", args=[step.pk])).status_code,
        client.get(reverse("workflow:period_task", args=[period_task.pk])).status_code,
        client.get(reverse("workflow:evidence", args=[evidence.pk])).status_code,
    ]

    # Then each is refused with 403
    assert statuses == [403, 403, 403]


def test_anonymous_is_redirected_to_login_on_every_workflow_page(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given a launched process (and a step of it)
    step = advance_to(period_task, "lead", personas)
    login = reverse("login")
    gets = [
        reverse("workflow:step", args=[step.pk]),
        reverse("workflow:period_task", args=[period_task.pk]),
        reverse("workflow:evidence", args=[1]),
        reverse("workflow:my_steps"),
        reverse("workflow:unit_queue"),
        reverse("workflow:awaiting"),
        reverse("workflow:done_by_me"),
        reverse("workflow:launch"),
        reverse("workflow:notifications"),
    ]
    before = db_state(step)

    # When nobody is logged in
    for url in gets:
        response = client.get(url)
        # Then the page sends them to the login page, keeping where they were going
        assert response.status_code == 302, url
        assert response["Location"] == f"{login}?next={url}", url
    response = client.post(reverse("workflow:step", args=[step.pk]), {"action": "claim"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{login}?next=")
    assert db_state(step) == before


# --- sign-off: a deputy for the units they oversee, the director for any ------------------


def test_deputy_claims_sign_off_only_for_units_they_oversee(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's task is at sign-off; the deputy oversees QLCN, the other deputy ATNL
    step = advance_to(period_task, "sign_off", personas)
    assert step.unit.short_name == "QLCN"
    url = reverse("workflow:step", args=[step.pk])

    # When the other deputy tries to claim it
    client.force_login(personas["other_deputy"])
    refused = client.post(url, {"action": "claim"})
    # Then they are refused
    assert refused.status_code == 403
    step.refresh_from_db()
    assert step.assignee_id is None

    # When the overseeing deputy claims it
    client.force_login(personas["deputy"])
    claimed = client.post(url, {"action": "claim"})
    # Then it is theirs
    assert claimed.status_code == 302
    step.refresh_from_db()
    assert step.assignee == personas["deputy"]


def test_director_claims_sign_off_of_any_unit_and_deputies_only_their_own(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given two processes at sign-off: one led by ATNL alone, one led jointly by QLCN and ATNL
    criterion = CriterionFactory()
    atnl_task = plan_task(criterion, lead=[units["ATNL"]])
    joint_task = plan_task(criterion, lead=[units["QLCN"], units["ATNL"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"])
    signers: dict[int, Step] = {}
    for task in (atnl_task, joint_task):
        pt = PeriodTask.objects.get(plan_task=task, period=period)
        for lead in pt.steps.filter(kind="lead"):
            user = personas["staff"] if lead.unit.short_name == "QLCN" else personas["atnl_staff"]
            services.step_claim(step_id=lead.pk, user=user)
            services.step_submit(
                step_id=lead.pk,
                user=user,
                data={"result": "Đã làm", "self_assessment": "done", "explanation": "Không có tệp"},
            )
        review = pt.steps.get(kind="review")
        services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
        services.step_submit(
            step_id=review.pk, user=personas["office_reviewer"], data={"decision": "approve"}
        )
        signers[task.pk] = pt.steps.get(kind="sign_off")
    atnl_sign, joint_sign = signers[atnl_task.pk], signers[joint_task.pk]
    assert atnl_sign.unit.short_name == "ATNL"
    assert joint_sign.unit is None  # several leads: the director signs

    def claim(persona: str, step: Step) -> int:
        client.force_login(personas[persona])
        return client.post(reverse("workflow:step", args=[step.pk]), {"action": "claim"}).status_code

    # When each deputy and the director try to claim
    # Then QLCN's deputy is refused on ATNL's and the joint one; ATNL's deputy on the joint one
    assert claim("deputy", atnl_sign) == 403
    assert claim("deputy", joint_sign) == 403
    assert claim("other_deputy", joint_sign) == 403
    # and the director claims the joint one, ATNL's deputy claims ATNL's
    assert claim("director", joint_sign) == 302
    assert claim("other_deputy", atnl_sign) == 302
    assert Step.objects.get(pk=joint_sign.pk).assignee == personas["director"]
    assert Step.objects.get(pk=atnl_sign.pk).assignee == personas["other_deputy"]


# --- assigning: the unit head, to members of the unit -------------------------------------


def test_staff_who_is_not_head_cannot_assign(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's lead step is open and unclaimed
    step = advance_to(period_task, "lead", personas)
    client.force_login(personas["staff"])

    # When the (non-head) staff member tries to hand it to themselves
    response = client.post(
        reverse("workflow:step", args=[step.pk]), {"action": "assign", "assignee": personas["staff"].pk}
    )

    # Then it is refused and the step stays unassigned
    assert response.status_code == 403
    step.refresh_from_db()
    assert step.assignee_id is None


def test_unit_head_assigns_to_a_member_and_reassigns_to_another(
    client: Any, make_user: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's lead step is open; QLCN has a second staff member
    second = make_user("qlcn_cv2", unit="QLCN")
    step = advance_to(period_task, "lead", personas)
    url = reverse("workflow:step", args=[step.pk])
    client.force_login(personas["unit_head"])

    # When the head assigns it to the staff member, then reassigns it to the second one
    first = client.post(url, {"action": "assign", "assignee": personas["staff"].pk})
    step.refresh_from_db()
    assigned_to = step.assignee
    again = client.post(url, {"action": "assign", "assignee": second.pk})

    # Then both succeed, the step and viewflow's task follow, and the trail records both
    assert (first.status_code, again.status_code) == (302, 302)
    assert assigned_to == personas["staff"]
    step.refresh_from_db()
    assert step.assignee == second
    assert Task.objects.get(pk=step.task_id).owner == second
    events = list(AuditEvent.objects.filter(step=step).order_by("seq").values_list("action", "data"))
    assert events == [
        ("assign", {"from": None, "to": "qlcn_cv"}),
        ("reassign", {"from": "qlcn_cv", "to": "qlcn_cv2"}),
    ]
    assert (
        Notification.objects.filter(user=second, step=step, message__startswith="Bạn được giao").count() == 1
    )


def test_unit_head_assigning_to_a_user_of_another_unit_is_400_with_a_vietnamese_message(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's lead step is open
    step = advance_to(period_task, "lead", personas)
    before = db_state(step)
    client.force_login(personas["unit_head"])

    # When the head assigns it to QLTM's staff member
    response = client.post(
        reverse("workflow:step", args=[step.pk]), {"action": "assign", "assignee": personas["other_staff"].pk}
    )

    # Then the form is shown again with a Vietnamese error and nothing changed
    assert response.status_code == 400
    assert "Người được giao phải là thành viên của đơn vị." in response.content.decode()
    assert db_state(step) == before


def test_unit_head_of_lead_unit_cannot_assign_partner_step_of_another_unit(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given the partner step belongs to QLTM
    step = advance_to(period_task, "partner", personas)
    client.force_login(personas["unit_head"])

    # When QLCN's head tries to hand it to QLTM's staff member
    response = client.post(
        reverse("workflow:step", args=[step.pk]), {"action": "assign", "assignee": personas["other_staff"].pk}
    )

    # Then it is refused
    assert response.status_code == 403
    step.refresh_from_db()
    assert step.assignee_id is None


# --- pages reserved to a role -------------------------------------------------------------


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "office_reviewer"])
def test_launch_page_is_refused_to_everyone_but_the_office(
    client: Any, units: dict[str, Any], personas: dict[str, Any], persona: str
) -> None:
    # Given a plan with one task and no process yet
    criterion = CriterionFactory()
    plan_task(criterion, lead=[units["QLCN"]])
    plan = criterion.section.appendix.plan
    client.force_login(personas[persona])

    # When someone outside the office opens the launch page or confirms a launch
    get = client.get(reverse("workflow:launch"))
    post = client.post(reverse("workflow:launch"), {"plan": plan.pk, "period": "Q1", "confirm": "1"})

    # Then both are refused and nothing was launched
    assert (get.status_code, post.status_code) == (403, 403)
    assert PeriodTask.objects.count() == 0


def test_launch_page_opens_for_the_office_reviewer(client: Any, personas: dict[str, Any]) -> None:
    client.force_login(personas["office_reviewer"])
    assert client.get(reverse("workflow:launch")).status_code == 200


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("staff", 403),
        ("unit_head", 403),
        ("other_staff", 403),
        ("auditor", 403),
        ("office_reviewer", 200),
        ("director", 200),
        ("deputy", 200),
    ],
)
def test_awaiting_page_is_for_office_and_leadership_only(
    client: Any, personas: dict[str, Any], persona: str, expected: int
) -> None:
    client.force_login(personas[persona])
    assert client.get(reverse("workflow:awaiting")).status_code == expected


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("auditor", 403), ("director", 403), ("deputy", 403), ("staff", 200), ("office_reviewer", 200)],
)
def test_unit_queue_is_refused_to_people_without_a_unit(
    client: Any, personas: dict[str, Any], persona: str, expected: int
) -> None:
    client.force_login(personas[persona])
    assert client.get(reverse("workflow:unit_queue")).status_code == expected
    assert client.post(reverse("workflow:unit_queue"), {"steps": ["1"]}).status_code == (
        403 if expected == 403 else 302
    )


# --- conflicts and validation --------------------------------------------------------------


def test_executing_a_step_someone_else_claimed_is_409_with_a_vietnamese_message(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given QLCN's lead step was claimed by the staff member
    step = advance_to(period_task, "lead", personas)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    url = reverse("workflow:step", args=[step.pk])
    before = db_state(step)
    client.force_login(personas["unit_head"])  # qualified for the step, but not its assignee

    # When the head submits, saves, or claims it
    submit = client.post(url, post_data("submit", personas))
    save = client.post(url, post_data("save", personas))
    claim = client.post(url, {"action": "claim"})

    # Then each is a conflict with a message saying someone else has it; nothing changed
    assert (submit.status_code, save.status_code, claim.status_code) == (409, 409, 409)
    assert "Bước này đang do người khác thực hiện." in submit.content.decode()
    assert "Bước này đang do người khác thực hiện." in save.content.decode()
    assert "Bước này vừa được người khác nhận." in claim.content.decode()
    assert db_state(step) == before


def test_lead_submit_without_evidence_or_explanation_is_400_and_nothing_moves(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given the staff member claimed QLCN's lead step and attached nothing
    step = advance_to(period_task, "lead", personas)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    before = db_state(step)
    client.force_login(personas["staff"])

    # When they submit a result and a self-assessment but no explanation
    response = client.post(
        reverse("workflow:step", args=[step.pk]),
        {
            "action": "submit",
            "report-result": "Đã ban hành kế hoạch",
            "report-self_assessment": "done",
            "report-explanation": "   ",
        },
    )

    # Then the page says a file or an explanation (giải trình) is needed, and nothing moved
    assert response.status_code == 400
    assert "Chưa có tài liệu kiểm chứng: hãy đính kèm tệp hoặc viết giải trình." in response.content.decode()
    assert db_state(step) == before
    assert not Step.objects.filter(period_task=period_task, kind="partner").exists()
    step.refresh_from_db()
    assert (step.state, step.result, step.submitted_at) == ("open", "", None)
    assert PeriodTask.objects.get(pk=period_task.pk).stage == "lead"


# --- separation of duties: nobody decides on a report they wrote ---------------------------

LEAD_DATA = {"result": "Đã ban hành kế hoạch", "self_assessment": "done", "explanation": "Không có tệp"}


@pytest.fixture
def office_led(units: dict[str, Any], personas: dict[str, Any], make_user: Any) -> dict[str, Any]:
    """A task led by Văn phòng Sở (partner QLTM) whose lead report the office reviewer wrote.

    ``writer`` is the office reviewer (a member of VP); ``colleague`` another office reviewer;
    ``partner_director`` a director who is also a member of QLTM and wrote its opinion.
    """
    colleague = make_user("vp_cchc2", unit="VP", role=roles.OFFICE_REVIEWER)
    partner_director = make_user("giamdoc_qltm", unit="QLTM", role=roles.DIRECTOR)
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["VP"]], partners=[units["QLTM"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"])
    pt = PeriodTask.objects.get(plan_task=task, period=period)
    writer = personas["office_reviewer"]
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=writer)
    services.step_submit(step_id=lead.pk, user=writer, data=LEAD_DATA)
    partner = pt.steps.get(kind="partner")
    services.step_claim(step_id=partner.pk, user=partner_director)
    services.step_submit(step_id=partner.pk, user=partner_director, data={"result": "Nhất trí"})
    return {
        "period_task": pt,
        "writer": writer,
        "colleague": colleague,
        "partner_director": partner_director,
        "review": pt.steps.get(kind="review"),
    }


def approve_review(pt: PeriodTask, reviewer: Any) -> Step:
    review = pt.steps.filter(kind="review").last()
    services.step_claim(step_id=review.pk, user=reviewer)
    services.step_submit(step_id=review.pk, user=reviewer, data={"decision": "approve", "reason": ""})
    return pt.steps.filter(kind="sign_off").last()


def test_author_of_the_lead_report_cannot_claim_its_review(client: Any, office_led: dict[str, Any]) -> None:
    # Given the office reviewer wrote Văn phòng Sở's lead report
    review, writer = office_led["review"], office_led["writer"]
    before = db_state(review)
    client.force_login(writer)

    # When they claim its review on the step page
    response = client.post(reverse("workflow:step", args=[review.pk]), {"action": "claim"})

    # Then it is refused, nothing changed; another office reviewer may claim it
    assert response.status_code == 403
    assert db_state(review) == before
    assert access.may_claim(writer, review) is False
    assert access.may_claim(office_led["colleague"], review) is True
    client.force_login(office_led["colleague"])
    assert client.post(reverse("workflow:step", args=[review.pk]), {"action": "claim"}).status_code == 302


def test_author_of_a_report_cannot_be_assigned_its_review_or_sign_off(office_led: dict[str, Any]) -> None:
    # Given the reports written by the office reviewer (lead) and a director (partner)
    pt, review = office_led["period_task"], office_led["review"]

    # Then neither the access module nor the engine lets the step be given to its author
    assert access.may_assign_to(review, office_led["writer"]) is False
    assert access.may_assign_to(review, office_led["colleague"]) is True
    assert review.task.flow_task.can_assign(office_led["writer"], review.task) is False
    sign_off = approve_review(pt, office_led["colleague"])
    assert access.may_assign_to(sign_off, office_led["partner_director"]) is False
    assert sign_off.task.flow_task.can_assign(office_led["partner_director"], sign_off.task) is False


@pytest.mark.parametrize("action", ["submit", "save"])
def test_author_holding_the_review_cannot_execute_it(
    client: Any, office_led: dict[str, Any], action: str
) -> None:
    # Given the review step is somehow held by the lead report's author (a claim made
    # before the rule, or written to the database directly)
    review, writer = office_led["review"], office_led["writer"]
    Step.objects.filter(pk=review.pk).update(assignee=writer)
    Task.objects.filter(pk=review.task_id).update(owner=writer, status="ASSIGNED")
    before = db_state(review)
    client.force_login(writer)

    # When they approve (or save a draft of) their own report through the page or the service
    response = client.post(
        reverse("workflow:step", args=[review.pk]),
        {"action": action, "report-decision": "approve", "report-reason": ""},
    )

    # Then it is refused and nothing changed
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        services.step_submit(step_id=review.pk, user=writer, data={"decision": "approve", "reason": ""})
    assert db_state(review) == before
    assert access.may_execute(writer, Step.objects.get(pk=review.pk)) is False
    assert review.task.flow_task.can_execute(writer, Task.objects.get(pk=review.task_id)) is False


def test_step_page_shows_the_author_no_claim_button_and_a_colleague_one(
    client: Any, office_led: dict[str, Any]
) -> None:
    # Given the open, unclaimed review of the office reviewer's own report
    url = reverse("workflow:step", args=[office_led["review"].pk])

    # When the author opens the step page
    client.force_login(office_led["writer"])
    own = client.get(url)
    # Then it is readable, offers no action, and says why
    assert own.status_code == 200
    assert not any(f'value="{a}"' in own.content.decode() for a in POST_ACTIONS)
    assert "Bạn đã gửi báo cáo hoặc ý kiến được xem xét ở bước này" in own.content.decode()

    # When another office reviewer opens it, the claim button is there and no such note
    client.force_login(office_led["colleague"])
    other = client.get(url).content.decode()
    assert 'value="claim"' in other
    assert "Bạn đã gửi báo cáo hoặc ý kiến" not in other


def test_author_of_the_partner_opinion_cannot_sign_off(client: Any, office_led: dict[str, Any]) -> None:
    # Given a colleague approved the review; the director who wrote QLTM's opinion and the director
    pt, partner_director = office_led["period_task"], office_led["partner_director"]
    sign_off = approve_review(pt, office_led["colleague"])
    url = reverse("workflow:step", args=[sign_off.pk])
    before = db_state(sign_off)

    # When the opinion's author opens the sign-off and claims it
    client.force_login(partner_director)
    page = client.get(url)
    claim = client.post(url, {"action": "claim"})

    # Then there is no button, the claim is refused, nothing changed; another director may sign
    assert page.status_code == 200 and 'value="claim"' not in page.content.decode()
    assert claim.status_code == 403
    assert db_state(sign_off) == before
    assert access.may_claim(partner_director, Step.objects.get(pk=sign_off.pk)) is False
    client.force_login(office_led["writer"])  # the lead's author is no signer at all
    assert client.post(url, {"action": "claim"}).status_code == 403


def test_author_of_the_lead_report_cannot_sign_off_even_as_director(
    units: dict[str, Any], personas: dict[str, Any], make_user: Any
) -> None:
    # Given a director who is also a member of QLCN wrote QLCN's lead report
    director = make_user("giamdoc_qlcn", unit="QLCN", role=roles.DIRECTOR)
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"])
    pt = PeriodTask.objects.get(plan_task=task, period=period)
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=director)
    services.step_submit(step_id=lead.pk, user=director, data=LEAD_DATA)
    sign_off = approve_review(pt, personas["office_reviewer"])

    # When they claim the sign-off
    # Then it is refused, and the other director may sign
    with pytest.raises(PermissionDenied):
        services.step_claim(step_id=sign_off.pk, user=director)
    assert Step.objects.get(pk=sign_off.pk).assignee_id is None
    assert (
        services.step_claim(step_id=sign_off.pk, user=personas["director"]).assignee == personas["director"]
    )


def test_sign_off_returned_to_the_office_is_still_not_reviewed_by_the_author(
    office_led: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given the sign-off sent the run back to the office: a new round with only a review step
    pt, writer = office_led["period_task"], office_led["writer"]
    sign_off = approve_review(pt, office_led["colleague"])
    services.step_claim(step_id=sign_off.pk, user=personas["director"])
    services.step_submit(
        step_id=sign_off.pk, user=personas["director"], data={"decision": "office", "reason": "Xem lại"}
    )
    second_review = pt.steps.filter(kind="review").last()
    assert second_review.round == 2 and second_review.state == "open"

    # Then the lead report under review is still the author's: they may not claim it
    assert access.may_claim(writer, second_review) is False
    with pytest.raises(PermissionDenied):
        services.step_claim(step_id=second_review.pk, user=writer)
    # ... and the review went back to the colleague who reviewed the round before (rounds carry over)
    assert second_review.assignee == office_led["colleague"]
    assert access.may_execute(office_led["colleague"], second_review) is True


def test_author_may_review_a_later_round_whose_report_someone_else_wrote(
    office_led: dict[str, Any], make_user: Any
) -> None:
    # Given the review returned the report to Văn phòng Sở and a VP colleague rewrote it
    pt, writer, colleague = office_led["period_task"], office_led["writer"], office_led["colleague"]
    rewriter = make_user("vp_cv", unit="VP")
    review = office_led["review"]
    services.step_claim(step_id=review.pk, user=colleague)
    services.step_submit(step_id=review.pk, user=colleague, data={"decision": "lead", "reason": "Thiếu"})
    lead2 = pt.steps.filter(kind="lead").last()
    assert lead2.round == 2
    # (the returned step went back to its author; the unit head hands it to a colleague)
    assert lead2.assignee == writer
    head = make_user("vp_tp", unit="VP", head=True)
    services.step_assign(step_id=lead2.pk, assignee=rewriter, actor=head)
    services.step_submit(step_id=lead2.pk, user=rewriter, data=LEAD_DATA)
    second_review = pt.steps.filter(kind="review").last()

    # Then the round-2 report is the rewriter's: the first author may review it, the rewriter not
    assert access.may_claim(writer, second_review) is True
    assert access.may_claim(rewriter, second_review) is False  # not an office reviewer anyway
    assert access.wrote_report_under_decision(rewriter, second_review) is True
    assert access.wrote_report_under_decision(writer, second_review) is False

"""Partners asked where needed: the lead unit chooses which partner units to ask when it
submits (the units the plan names one by one proposed, those only a collective phrase covers
not), the office may ask more at review, and the flow's partner split reads the choice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from plans.defaults import DEFAULT_UNITS
from plans.parsing import UnitDirectory
from tests.factories import CriterionFactory, plan_task
from tests.helpers import LEAD_REPORT, do, open_steps
from workflow import selectors, services
from workflow.models import TaskProcess


def test_the_lead_asks_only_the_partner_units_it_ticks(launch, personas, units):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    lead = pt.steps.get(kind="lead")
    do(lead, personas["staff"], **LEAD_REPORT, partners_asked=[units["ATNL"].pk])
    assert open_steps(pt) == [("partner", "ATNL")]
    lead.refresh_from_db()
    assert lead.partners_asked == [units["ATNL"].pk]
    assert AuditEvent.objects.get(action="submit").data["after"]["partners_asked"] == [units["ATNL"].pk]


def test_a_lead_that_asks_no_partner_goes_straight_to_review(launch, personas):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT, partners_asked=[])
    assert open_steps(pt) == [("review", None)]
    assert not pt.steps.filter(kind="partner").exists()


def test_units_only_covered_by_every_unit_are_not_proposed_and_not_asked_by_default(launch, personas, units):
    # Given a row naming QLTM and "Các phòng, đơn vị thuộc sở" (which also covers ATNL)
    pt = launch(["QLCN"], ["QLTM", "ATNL"], named=["QLTM"])
    lead = pt.steps.get(kind="lead")
    # Then the form proposes QLTM only, and offers ATNL unticked
    choice = selectors.partner_choice(lead)
    assert [u.short_name for u in choice.units] == ["QLTM", "ATNL"]
    assert choice.proposed == [units["QLTM"].pk]
    # and a submit that says nothing about partners asks the proposed ones
    do(lead, personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("partner", "QLTM")]


def test_the_lead_cannot_ask_a_unit_that_is_no_partner_of_the_task(launch, personas, units):
    pt = launch(["QLCN"], ["QLTM"])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    with pytest.raises(services.ValidationError) as error:
        services.step_submit(
            step_id=lead.pk, user=personas["staff"], data={**LEAD_REPORT, "partners_asked": [units["VP"].pk]}
        )
    assert "partners_asked" in error.value.message_dict
    lead.refresh_from_db()
    assert lead.state == "open" and not pt.steps.filter(kind="partner").exists()


def test_the_office_can_ask_more_partners_at_review_then_reviews_again(launch, personas, units):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT, partners_asked=[units["QLTM"].pk])
    do(pt.steps.get(kind="partner"), personas["other_staff"], result="Nhất trí")
    review = pt.steps.get(kind="review")
    do(review, personas["office_reviewer"], decision="partners", reason="", partners_asked=[units["ATNL"].pk])
    assert open_steps(pt) == [("partner", "ATNL")]
    pt.refresh_from_db()
    assert (pt.stage, pt.round) == ("partner", 1)
    assert AuditEvent.objects.filter(action="ask_partners", step=review).count() == 1
    do(pt.steps.get(kind="partner", unit=units["ATNL"]), personas["atnl_staff"], no_opinion=True)
    assert open_steps(pt) == [("review", None)]
    do(pt.steps.filter(kind="review").last(), personas["office_reviewer"], decision="approve", reason="")
    assert open_steps(pt) == [("sign_off", "QLCN")]


def test_asking_partners_at_review_needs_at_least_one_unit(launch, personas):
    pt = launch(["QLCN"], ["QLTM"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT, partners_asked=[])
    review = pt.steps.get(kind="review")
    services.step_claim(step_id=review.pk, user=personas["office_reviewer"])
    with pytest.raises(services.ValidationError) as error:
        services.step_submit(
            step_id=review.pk, user=personas["office_reviewer"], data={"decision": "partners", "reason": ""}
        )
    assert "partners_asked" in error.value.message_dict


def test_a_return_proposes_the_partners_asked_before_only_when_ticked(launch, personas, units):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT, partners_asked=[units["ATNL"].pk])
    do(pt.steps.get(kind="partner"), personas["atnl_staff"], result="Nhất trí")
    do(
        pt.steps.get(kind="review"),
        personas["office_reviewer"],
        decision="lead",
        reason="Bổ sung",
        ask_partners_again=True,
    )
    second = pt.steps.get(kind="lead", round=2)
    assert selectors.partner_choice(second).proposed == [units["ATNL"].pk]
    process = TaskProcess.objects.get(pk=pt.process_id)
    assert (process.partners_proposed, process.partners_asked) == ([units["ATNL"].pk], [])
    # the sign-off returning to the lead proposes none
    do(second, personas["staff"], **LEAD_REPORT)
    do(pt.steps.filter(kind="partner").last(), personas["atnl_staff"], result="Nhất trí")
    do(pt.steps.filter(kind="review").last(), personas["office_reviewer"], decision="approve", reason="")
    do(pt.steps.get(kind="sign_off"), personas["deputy"], decision="lead", reason="Làm lại")
    third = pt.steps.get(kind="lead", round=3)
    assert selectors.partner_choice(third).proposed == []
    do(third, personas["staff"], **LEAD_REPORT)
    assert open_steps(pt) == [("review", None)]


def test_the_lead_step_page_offers_the_partners_with_the_named_ones_ticked(client, launch, personas, units):
    pt = launch(["QLCN"], ["QLTM", "ATNL"], named=["QLTM"])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    client.force_login(personas["staff"])
    page = client.get(reverse("workflow:step", args=[lead.pk])).content.decode()
    assert f'name="report-partners_asked" value="{units["QLTM"].pk}"' in page
    qltm = page.split(f'value="{units["QLTM"].pk}"')[1].split(">")[0]
    atnl = page.split(f'value="{units["ATNL"].pk}"')[1].split(">")[0]
    assert "checked" in qltm and "checked" not in atnl
    # When the lead ticks ATNL too and submits, both are asked and the run's page says so
    response = client.post(
        reverse("workflow:step", args=[lead.pk]),
        {
            "action": "submit",
            "report-result": "Xong",
            "report-self_assessment": "done",
            "report-explanation": "Giải trình",
            "report-partners_asked": [str(units["QLTM"].pk), str(units["ATNL"].pk)],
        },
    )
    assert response.status_code == 302
    assert open_steps(pt) == [("partner", "QLTM"), ("partner", "ATNL")]
    client.force_login(personas["auditor"])
    dossier = client.get(reverse("workflow:period_task", args=[pt.pk])).content.decode()
    asked = dossier.split("data-partners-asked>")[1].split("</ul>")[0]
    assert units["QLTM"].name in asked and units["ATNL"].name in asked


def test_a_hostile_partner_list_is_refused_with_a_message(client, launch, personas, units):
    pt = launch(["QLCN"], ["QLTM"])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    client.force_login(personas["staff"])
    response = client.post(
        reverse("workflow:step", args=[lead.pk]),
        {
            "action": "submit",
            "report-result": "Xong",
            "report-self_assessment": "done",
            "report-explanation": "x",
            "report-partners_asked": [str(units["VP"].pk), "abc"],
        },
    )
    assert response.status_code == 400
    assert "Chỉ được xin ý kiến các cơ quan phối hợp của nhiệm vụ." in response.content.decode()
    lead.refresh_from_db()
    assert lead.state == "open"


def test_the_plan_text_tells_named_partners_from_those_of_every_unit():
    directory = UnitDirectory.from_seed(DEFAULT_UNITS)
    assert directory.resolve_named("Các phòng, đơn vị thuộc sở") == ()
    assert directory.resolve_named("Thanh tra Sở; Các phòng, đơn vị thuộc Sở") == ("Thanh tra Sở",)
    # while the partners themselves still cover every unit
    assert len(directory.resolve("Thanh tra Sở; Các phòng, đơn vị thuộc Sở")[0]) == len(DEFAULT_UNITS)


def test_the_partner_scope_migration_records_the_partners_each_row_names(units):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("plans.migrations.0005_partner_scope")
    task = plan_task(CriterionFactory(), lead=[units["QLCN"]], partners=[units["QLTM"], units["ATNL"]])
    task.partner_text = f"{units['QLTM'].name}; Các phòng, đơn vị thuộc sở"
    task.save(update_fields=["partner_text"])
    task.partner_units_named.clear()
    migration.fill_named(apps, None)
    assert list(task.partner_units_named.all()) == [units["QLTM"]]
    assert set(task.partner_units.all()) == {units["QLTM"], units["ATNL"]}  # the partners as they were


def test_the_plan_page_shows_who_was_asked_in_the_period(client, launch, personas, units):
    # Given a task with two partners, of which the lead asks only ATNL
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    do(pt.steps.get(kind="lead"), personas["staff"], **LEAD_REPORT, partners_asked=[units["ATNL"].pk])
    # When the office opens the plan page on that period
    client.force_login(personas["office_reviewer"])
    plan = pt.plan_task.plan
    html = client.get(reverse("plans:plan"), {"plan": plan.pk, "period": pt.period.pk}).content.decode()
    # Then the task's row names the unit asked, and only it
    assert f"Đã xin ý kiến: {units['ATNL'].short_name}</div>" in html
    assert f"Đã xin ý kiến: {units['QLTM'].short_name}" not in html

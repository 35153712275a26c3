"""Bulk decisions: the office and the leadership approve several runs at once from their list,
after a summary page; each run is its own audited decision, checked on its own; runs that fail
are reported and left as they were; a return is never taken in bulk."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import LEAD_REPORT
from workflow import services
from workflow.models import PeriodTask, Step

URL = reverse("workflow:bulk_approve")


def at_review(
    units: dict[str, Any], personas: dict[str, Any], n: int, lead: str = "QLCN"
) -> list[PeriodTask]:
    """``n`` runs led by ``lead`` (no partners), each reported and waiting for the office."""
    criterion = CriterionFactory()
    tasks = [plan_task(criterion, lead=[units[lead]], task=f"Nhiệm vụ {i}") for i in range(n)]
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=tasks)
    author = {"QLCN": personas["staff"], "VP": personas["office_reviewer"]}[lead]
    runs = list(PeriodTask.objects.filter(plan_task__in=tasks).order_by("pk"))
    for run in runs:
        step = run.steps.get(kind="lead")
        services.step_claim(step_id=step.pk, user=author)
        services.step_submit(step_id=step.pk, user=author, data=LEAD_REPORT)
    return runs


def review_of(run: PeriodTask) -> Step:
    return run.steps.get(kind="review")


def test_bulk_approval_of_20_runs_writes_20_audit_events_and_moves_exactly_those_runs(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given 22 runs waiting for the office's review
    runs = at_review(units, personas, 22)
    chosen, left = runs[:20], runs[20:]
    ids = [str(review_of(r).pk) for r in chosen]
    client.force_login(personas["office_reviewer"])
    before = AuditEvent.objects.count()

    # When the office ticks 20 of them on its list, sees the summary, and confirms
    summary = client.post(URL, {"steps": ids})
    assert summary.status_code == 200
    assert summary.content.decode().count('name="steps"') == 20
    assert AuditEvent.objects.count() == before  # the summary changes nothing
    done = client.post(URL, {"steps": ids, "confirm": "1"})

    # Then 20 audit events were written, one approval per run, by the office
    assert done.status_code == 200
    events = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert len(events) == 20
    assert {e.action for e in events} == {"approve"}
    assert sorted(e.period_task_id for e in events) == sorted(r.pk for r in chosen)
    assert {e.actor for e in events} == {personas["office_reviewer"]}
    # and exactly those runs moved on to sign-off, each reviewed by the office
    for run in runs:
        run.refresh_from_db()
    assert [r.stage for r in chosen] == ["sign_off"] * 20
    assert [r.stage for r in left] == ["review", "review"]
    assert all(
        (s.state, s.decision, s.submitted_by) == ("done", "approve", personas["office_reviewer"])
        for s in Step.objects.filter(period_task__in=chosen, kind="review")
    )
    assert "Đã đồng ý 20 bước" in done.content.decode()


def test_a_run_the_person_may_not_decide_is_reported_and_left_as_it_was(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given two runs at review, one of which the office reviewer reported on as its lead (VP)
    (mine,) = at_review(units, personas, 1, lead="VP")
    (other,) = at_review(units, personas, 1)
    client.force_login(personas["office_reviewer"])
    before = AuditEvent.objects.count()

    # When they approve both at once
    response = client.post(URL, {"steps": [review_of(mine).pk, review_of(other).pk], "confirm": "1"})

    # Then the other run is approved, and theirs is reported, untouched (separation of duties)
    assert response.status_code == 200
    page = response.content.decode()
    failed = page.split("data-bulk-failed>")[1].split("</ul>")[0]
    assert "Nhiệm vụ 0" in failed and "không thể nhận bước này" in failed
    untouched = review_of(mine)
    assert (untouched.state, untouched.assignee, untouched.decision) == ("open", None, "")
    assert review_of(other).state == "done"
    assert list(AuditEvent.objects.filter(seq__gt=before).values_list("action", "period_task")) == [
        ("approve", other.pk)
    ]


def test_the_leadership_approves_sign_offs_in_bulk(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    runs = at_review(units, personas, 3)
    for run in runs:
        services.steps_approve(step_ids=[review_of(run).pk], user=personas["office_reviewer"])
    sign_offs = [str(r.steps.get(kind="sign_off").pk) for r in runs]
    client.force_login(personas["deputy"])  # oversees QLCN, the lead unit
    response = client.post(URL, {"steps": sign_offs, "confirm": "1"})
    assert response.status_code == 200
    assert {r.stage for r in PeriodTask.objects.filter(pk__in=[r.pk for r in runs])} == {"done"}
    assert AuditEvent.objects.filter(action="sign_off", actor=personas["deputy"]).count() == 3


def test_steps_outside_the_persons_list_are_not_decided(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # A deputy overseeing ATNL cannot approve the office's reviews nor QLCN's sign-offs
    (run,) = at_review(units, personas, 1)
    client.force_login(personas["other_deputy"])
    before = AuditEvent.objects.count()
    response = client.post(URL, {"steps": [review_of(run).pk], "confirm": "1"})
    assert response.status_code == 200
    assert "không còn chờ bạn quyết định" in response.content.decode()
    assert review_of(run).state == "open"
    assert AuditEvent.objects.count() == before


def test_only_approvals_are_taken_in_bulk(units: dict[str, Any], personas: dict[str, Any]) -> None:
    (run,) = at_review(units, personas, 1)
    lead = run.steps.get(kind="lead")
    result = services.steps_approve(step_ids=[lead.pk], user=personas["office_reviewer"])
    assert result.approved == []
    assert result.failed == [(lead.pk, "Chỉ đồng ý hàng loạt các bước thẩm định, phê duyệt.")]


def test_nothing_chosen_goes_back_to_the_list_with_a_message(client: Any, personas: dict[str, Any]) -> None:
    client.force_login(personas["office_reviewer"])
    response = client.post(URL, {"steps": ["abc", ""]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("workflow:awaiting")
    assert "Chưa chọn bước nào để đồng ý." in response.content.decode()


@pytest.mark.parametrize("persona", ["staff", "unit_head", "auditor"])
def test_bulk_approval_is_denied_to_anyone_but_the_office_and_leadership(
    client: Any, units: dict[str, Any], personas: dict[str, Any], persona: str
) -> None:
    (run,) = at_review(units, personas, 1)
    client.force_login(personas[persona])
    assert client.get(URL, {"steps": [review_of(run).pk]}).status_code == 403
    assert client.post(URL, {"steps": [review_of(run).pk], "confirm": "1"}).status_code == 403
    assert review_of(run).state == "open"


def test_bulk_approval_asks_an_anonymous_visitor_to_log_in(client: Any) -> None:
    response = client.post(URL, {"steps": ["1"], "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_awaiting_list_posts_the_ticked_runs_to_the_summary(
    client: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (run,) = at_review(units, personas, 1)
    client.force_login(personas["office_reviewer"])
    page = client.get(reverse("workflow:awaiting")).content.decode()
    assert f'action="{URL}"' in page
    assert f'name="steps" value="{review_of(run).pk}"' in page

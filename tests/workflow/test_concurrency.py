"""Races on a real database: N people submitting the same step at once (PostgreSQL only:
SQLite serialises writers anyway and its in-memory test database is per-connection)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from workflow import services
from workflow.models import Step

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")


def _race(n: int, requests: list[tuple[Any, str, dict[str, str]]]) -> list[int]:
    """Send the requests from n threads released together; the HTTP status of each."""
    barrier = threading.Barrier(n)
    statuses: list[int] = [0] * n

    def worker(i: int) -> None:
        user, url, data = requests[i]
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=10)
            statuses[i] = client.post(url, data).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses


@pytest.mark.parametrize("n", [2, 5, 10])
def test_simultaneous_submits_of_one_step_create_exactly_one_successor(
    n, transactional_db, units, personas, launch
):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    url = reverse("workflow:step", args=[lead.pk])
    data = {
        "action": "submit",
        "report-result": "Đã làm",
        "report-self_assessment": "done",
        "report-explanation": "Giải trình",
        # both partners, ticked as the form proposes them
        "report-partners_asked": [str(units["QLTM"].pk), str(units["ATNL"].pk)],
    }

    statuses = _race(n, [(personas["staff"], url, data)] * n)

    assert sorted(statuses) == [302] + [409] * (n - 1)
    assert pt.steps.filter(kind="partner").count() == 2
    assert pt.process.task_set.filter(flow_task_type="HUMAN", status="NEW").count() == 2


@pytest.mark.parametrize("n", [2, 5, 10])
def test_simultaneous_claims_give_the_step_to_one_person(n, transactional_db, personas, make_user, launch):
    lead = launch(["QLCN"]).steps.get(kind="lead")
    people = [make_user(f"qlcn_race_{i}", unit="QLCN") for i in range(n)]
    url = reverse("workflow:step", args=[lead.pk])

    statuses = _race(n, [(p, url, {"action": "claim"}) for p in people])

    assert sorted(statuses) == [302] + [409] * (n - 1)
    lead.refresh_from_db()
    assert lead.assignee in people


def test_partners_finishing_together_open_one_review(transactional_db, units, personas, launch):
    pt = launch(["QLCN"], ["QLTM", "ATNL"])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead.pk,
        user=personas["staff"],
        data={"result": "x", "self_assessment": "done", "explanation": "y"},
    )
    partners = {s.unit.short_name: s for s in pt.steps.filter(kind="partner")}
    services.step_claim(step_id=partners["QLTM"].pk, user=personas["other_staff"])
    services.step_claim(step_id=partners["ATNL"].pk, user=personas["atnl_staff"])
    data = {"action": "submit", "report-result": "Nhất trí"}

    statuses = _race(
        2,
        [
            (personas["other_staff"], reverse("workflow:step", args=[partners["QLTM"].pk]), data),
            (personas["atnl_staff"], reverse("workflow:step", args=[partners["ATNL"].pk]), data),
        ],
    )

    assert statuses == [302, 302]
    assert pt.steps.filter(kind="review").count() == 1
    assert Step.objects.filter(period_task=pt, state="open").count() == 1

"""Ten people issue at once: ten distinct, consecutive numbers, no gap, no duplicate.

On PostgreSQL the register row's ``SELECT … FOR UPDATE`` queues the issuers while rendering and
signing run in parallel, outside the lock. (On SQLite the IMMEDIATE transactions serialise every
writer; its in-memory test database cannot be shared by threads, as in tests/workflow/test_concurrency.py.)
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from documents import services
from documents.models import IssuedDocument, Register

ISSUERS = 10


def issue_at_once(period: Any, signer: Any, actor: Any) -> tuple[list[int], list[BaseException]]:
    barrier = threading.Barrier(ISSUERS)
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=30)
            document = services.issue_period_report(period_id=period.pk, signer=signer, actor=actor)
            with lock:
                numbers.append(document.number)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=one) for _ in range(ISSUERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return numbers, errors


def check(numbers: list[int], errors: list[BaseException]) -> None:
    assert errors == []
    assert sorted(numbers) == list(range(1, ISSUERS + 1))
    assert Register.objects.get().last_number == ISSUERS
    documents = IssuedDocument.objects.all()
    assert {d.state for d in documents} == {IssuedDocument.State.ISSUED}
    assert len({d.sha256 for d in documents}) == ISSUERS  # each its own number, so its own bytes


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL row lock (select_for_update)")
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_issues_on_postgresql_get_ten_consecutive_numbers(
    leaders: dict[str, Any], period: Any, personas: dict[str, Any]
) -> None:
    check(*issue_at_once(period, leaders["director"], personas["office_reviewer"]))

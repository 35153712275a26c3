"""The append-only, hash-chained audit trail.

Each event stores the hash of the previous event and the SHA-256 of its own canonical
content (which includes that previous hash), so changing, deleting, inserting or
reordering any event breaks the chain at that point (``verify_chain``).
Appends are serialised: on PostgreSQL by a transaction-level advisory lock, on SQLite
by its IMMEDIATE transactions (one writer at a time).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from workflow.models import AuditEvent

GENESIS = "0" * 64
_ADVISORY_KEY = 7_240_017  # arbitrary, constant: "the audit chain" lock


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "actor_unit": event.actor_unit,
        "actor_role": event.actor_role,
        "action": event.action,
        "period_task": event.period_task_id,
        "step": event.step_id,
        "reason": event.reason,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def _actor_fields(actor: Any) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_name": "hệ thống", "actor_unit": "", "actor_role": ""}
    from plans.roles import roles_of

    roles = roles_of(actor)
    return {
        "actor": actor,
        "actor_name": actor.get_full_name() or actor.username,
        "actor_unit": roles.unit.name if roles.unit else "",
        "actor_role": roles.label,
    }


def audit_record(
    *,
    actor: Any,
    action: str,
    period_task: Model | None = None,
    step: Model | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; must run inside the transaction of the action it records."""
    assert transaction.get_connection().in_atomic_block, (
        "audit events are written in the action's transaction"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
    last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    event = AuditEvent(
        seq=(last["seq"] + 1) if last else 1,
        created_at=timezone.now(),
        action=action,
        period_task=period_task,
        step=step,
        reason=reason,
        data=json.loads(json.dumps(data or {}, ensure_ascii=False, default=str)),
        prev_hash=last["hash"] if last else GENESIS,
        **_actor_fields(actor),
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def verify_chain(batch: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; the first event that was changed, removed, inserted or moved."""
    expected_prev = GENESIS
    expected_seq = 1
    last_pk = 0
    while True:
        events = list(AuditEvent.objects.filter(seq__gt=last_pk).order_by("seq")[:batch])
        if not events:
            return None
        for event in events:
            if event.seq != expected_seq:
                return ChainBreak(expected_seq, "thiếu sự kiện (bị xóa) hoặc số thứ tự bị sửa")
            if event.prev_hash != expected_prev:
                return ChainBreak(event.seq, "liên kết với sự kiện trước bị sai (chèn, xóa hoặc đổi thứ tự)")
            if event_hash(event) != event.hash:
                return ChainBreak(event.seq, "nội dung sự kiện đã bị sửa")
            expected_prev = event.hash
            expected_seq += 1
            last_pk = event.seq

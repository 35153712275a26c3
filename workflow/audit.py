"""The append-only, keyed hash chain of the audit trail.

Each event stores the hash of the previous event and the HMAC-SHA256 of its own canonical
content (which includes its number and that previous hash), under a key that lives outside
the database (``settings.AUDIT_HMAC_KEY``). So changing, deleting, inserting or reordering
any event breaks the chain at that point (``verify_chain``), and an event appended by anyone
without the key (the database's owner, a backup, SQL typed by hand) does not verify.

Appends are serialised: on PostgreSQL by a transaction-level advisory lock, on SQLite by its
IMMEDIATE transactions (one writer at a time). On PostgreSQL a trigger refuses UPDATE and
DELETE (migration 0002), and in production the app's role may only SELECT and INSERT on the
table (``manage.py db_roles``), so the app cannot rewrite it either.

Each event names how it was hashed (``AuditEvent.algorithm``): ``sha256`` for events written
before the chain was keyed (their stored hashes stay as they are: the chain is append-only),
``hmac-sha256:<key id>`` since. Unkeyed events may only lead the chain: once one keyed event
is in, every later one must be keyed. The key id lets old keys be kept for verification
(``AUDIT_HMAC_OLD_KEYS``) while new events use the current one.

What the chain cannot show on its own: the newest events removed. Recording the head
(``manage.py verify_audit`` prints it, ``--export`` writes and mails it) and checking it later
with ``--anchor`` covers that up to the recorded point.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from workflow.models import AuditEvent

GENESIS = "0" * 64
UNKEYED: Final = "sha256"  # events written before the chain was keyed
KEYED_PREFIX: Final = "hmac-sha256:"
_ADVISORY_KEY = 7_240_017  # arbitrary, constant: "the audit chain" lock

# What each action is called wherever a person reads the trail.
ACTION_LABELS: Final[dict[str, str]] = {
    "launch": "Khởi tạo quy trình",
    "claim": "Nhận việc",
    "assign": "Giao việc",
    "reassign": "Giao lại việc",
    "save_draft": "Lưu nháp",
    "submit": "Gửi kết quả thực hiện",
    "partner_input": "Gửi ý kiến phối hợp",
    "ask_partners": "Xin ý kiến phối hợp",
    "return": "Trả lại",
    "approve": "Thẩm định đạt",
    "sign_off": "Phê duyệt",
    "evidence_added": "Đính kèm tài liệu kiểm chứng",
    "evidence_removed": "Gỡ tài liệu kiểm chứng",
    "calendar_day_added": "Nhập ngày nghỉ, ngày làm bù",
    "calendar_day_removed": "Xóa ngày nghỉ, ngày làm bù",
    "plan_imported": "Nhập kế hoạch",
    "membership_changed": "Thay đổi đơn vị, vai trò trong đơn vị",
    "role_changed": "Thay đổi vai trò",
    "mail_resent": "Gửi lại thư",
    "unit_created": "Thêm đơn vị",
    "unit_changed": "Sửa thông tin đơn vị",
    "person_created": "Tạo tài khoản",
    "person_changed": "Sửa thông tin người dùng",
    "person_deactivated": "Khóa tài khoản",
    "person_reactivated": "Mở lại tài khoản",
    "deadline_changed": "Đổi hạn nộp của kỳ báo cáo",
    "document_issued": "Ban hành văn bản (cấp số, ký số)",
    "document_number_cancelled": "Hủy số văn bản",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _canonical(event: Any) -> bytes:
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
    algorithm = getattr(event, "algorithm", UNKEYED)
    if algorithm != UNKEYED:
        body["alg"] = algorithm  # unkeyed events keep the body they were hashed with
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def key_id(key: str) -> str:
    """A short name of a key, stored with each event; tells nothing about the key itself."""
    return hmac.new(key.encode(), b"cchc-audit-key-id", hashlib.sha256).hexdigest()[:12]


def _keys() -> dict[str, bytes]:
    """Every key that verifies, by key id: the current one and AUDIT_HMAC_OLD_KEYS."""
    return _keys_by_id(settings.AUDIT_HMAC_KEY, tuple(getattr(settings, "AUDIT_HMAC_OLD_KEYS", ())))


@functools.lru_cache(maxsize=8)
def _keys_by_id(current: str, old: tuple[str, ...]) -> dict[str, bytes]:
    # Cached on the keys themselves: a verification asks once per event.
    return {key_id(key): key.encode() for key in (current, *old) if key}


def current_algorithm() -> str:
    """The marker new events carry: HMAC-SHA256 under the current key."""
    return f"{KEYED_PREFIX}{next(iter(_keys()))}"


class UnknownKey(LookupError):
    """An event names a key this installation does not have."""


def event_hash(event: Any) -> str:
    """The hash ``event`` must carry: HMAC-SHA256 under the key its marker names, or the plain
    SHA-256 of the events written before the chain was keyed."""
    algorithm = getattr(event, "algorithm", UNKEYED)
    if algorithm == UNKEYED:
        return hashlib.sha256(_canonical(event)).hexdigest()
    if not algorithm.startswith(KEYED_PREFIX):
        raise UnknownKey(algorithm)
    key = _keys().get(algorithm.removeprefix(KEYED_PREFIX))
    if key is None:
        raise UnknownKey(algorithm)
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


def _hash_matches(event: Any) -> bool:
    try:
        return hmac.compare_digest(event_hash(event), event.hash)
    except UnknownKey:
        return False


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
    """Append one event; must run inside the transaction of the action it records.

    The actor's name, unit and role are copied as they are now: later changes to the
    person do not rewrite what they were when they acted.
    """
    assert transaction.get_connection().in_atomic_block, (
        "audit events are written in the action's transaction"
    )
    actor_fields = _actor_fields(actor)  # read before the chain's lock: it is held until commit
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
        algorithm=current_algorithm(),
        **actor_fields,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first event where the chain does not hold, and what most likely happened there."""

    seq: int
    problem: str
    kind: str = (
        "changed"  # changed / deleted / inserted / reordered / broken_link / anchor / unkeyed / unknown_key
    )


@dataclass(frozen=True)
class ChainStatus:
    checked: int  # events walked before the break (all of them when intact)
    head_seq: int  # the last intact event's number (0: none)
    head_hash: str
    broken: ChainBreak | None
    unkeyed: int = 0  # events at the head of the chain written before it was keyed

    @property
    def intact(self) -> bool:
        return self.broken is None


def _hash_as_if(event: AuditEvent, seq: int) -> bool:
    """Does the event hash correctly as if it carried number ``seq``?"""
    original = event.seq
    event.seq = seq
    try:
        return _hash_matches(event)
    finally:
        event.seq = original


def _origin_seq(event: AuditEvent, position: int) -> int | None:
    """The number this event was hashed under, when it now sits at another one."""
    candidates = [position - 1, position + 1]
    if event.prev_hash == GENESIS:
        candidates.append(1)
    else:
        # Only reached at a break: one lookup (a scan, no index on hash) per verification.
        before = AuditEvent.objects.filter(hash=event.prev_hash).values_list("seq", flat=True).first()
        if before is not None:
            candidates.append(before + 1)
    for seq in candidates:
        if seq >= 1 and _hash_as_if(event, seq):
            return seq
    return None


def _diagnose(
    event: AuditEvent, position: int, prev_hash: str, prev_prev_hash: str | None
) -> ChainBreak | None:
    """None if ``event`` is the intact successor; else the break, named as precisely as the rows allow."""
    own_ok = _hash_matches(event)
    link_ok = event.prev_hash == prev_hash
    if own_ok and link_ok:
        return None
    if link_ok:
        return ChainBreak(
            position, "nội dung không khớp mã băm: sự kiện đã bị sửa (hoặc bị giả mạo)", "changed"
        )
    skips_previous = prev_prev_hash is not None and event.prev_hash == prev_prev_hash
    if own_ok:
        if skips_previous:
            return ChainBreak(
                position - 1,
                "sự kiện không thuộc chuỗi: bị chèn vào (sự kiện sau nối thẳng với sự kiện trước nó)",
                "inserted",
            )
        return ChainBreak(
            position,
            f"không nối tiếp sự kiện #{position - 1}: một trong hai đã bị sửa và tính lại mã băm, hoặc bị giả mạo",
            "broken_link",
        )
    origin = _origin_seq(event, position)
    if origin is None:
        return ChainBreak(
            position, "nội dung và liên kết đều sai: sự kiện đã bị sửa hoặc bị giả mạo", "changed"
        )
    if origin < position:
        if skips_previous:
            return ChainBreak(
                position - 1,
                "sự kiện không thuộc chuỗi: bị chèn vào, các sự kiện sau bị đánh số lại",
                "inserted",
            )
        return ChainBreak(position, f"sự kiện vốn mang số #{origin}: thứ tự đã bị thay đổi", "reordered")
    if AuditEvent.objects.filter(hash=event.prev_hash).exists():
        return ChainBreak(
            position, f"thứ tự bị đảo: sự kiện ở vị trí này vốn là sự kiện #{origin}", "reordered"
        )
    return ChainBreak(position, "sự kiện đã bị xóa, các sự kiện sau bị đánh số lại", "deleted")


def verify_chain_status(
    batch: int = 2000,
    anchor: tuple[int, str] | None = None,
    anchors: list[tuple[int, str]] | None = None,
) -> ChainStatus:
    """Walk the whole chain in order, ``batch`` events per query (keyset on seq).

    ``anchor`` (or several, ``anchors``) is a (seq, hash) pair recorded earlier, e.g. printed
    or exported by ``verify_audit``: the event with that number must still carry that hash,
    so a chain shorter than the anchor (or empty) fails.
    """
    pinned = dict(anchors or [])
    if anchor is not None:
        pinned[anchor[0]] = anchor[1]
    expected_seq = 1
    prev_hash, prev_prev_hash = GENESIS, None
    last_seq = 0
    unkeyed = 0
    keyed_seen = False
    unkeyed_max = getattr(settings, "AUDIT_UNKEYED_MAX_SEQ", None)
    keys = _keys()

    def status(broken: ChainBreak | None) -> ChainStatus:
        return ChainStatus(
            checked=expected_seq - 1, head_seq=last_seq, head_hash=prev_hash, broken=broken, unkeyed=unkeyed
        )

    while True:
        events = list(AuditEvent.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not events:
            break
        for event in events:
            if event.seq != expected_seq:
                missing = (
                    f"sự kiện #{expected_seq}"
                    if event.seq == expected_seq + 1
                    else f"các sự kiện #{expected_seq}–#{event.seq - 1}"
                )
                return status(ChainBreak(expected_seq, f"{missing} đã bị xóa", "deleted"))
            broken = _key_problem(event, keyed_seen, unkeyed_max, keys)
            if broken is not None:
                return status(broken)
            if event.algorithm == UNKEYED:
                unkeyed += 1
            else:
                keyed_seen = True
            broken = _diagnose(event, expected_seq, prev_hash, prev_prev_hash)
            if broken is not None:
                return status(broken)
            if event.seq in pinned and event.hash != pinned[event.seq]:
                return status(
                    ChainBreak(
                        event.seq,
                        "mã băm khác với mốc đã lưu: chuỗi đã bị sửa ở đây hoặc trước đó rồi tính lại mã băm",
                        "anchor",
                    )
                )
            prev_prev_hash, prev_hash = prev_hash, event.hash
            last_seq = event.seq
            expected_seq += 1
        if len(events) < batch:
            break
    if pinned and max(pinned) > last_seq:
        left = f"nhật ký chỉ còn đến #{last_seq}" if last_seq else "nhật ký trống"
        return status(ChainBreak(max(pinned), f"sự kiện đã lưu làm mốc không còn: {left}", "anchor"))
    return status(None)


def _key_problem(
    event: AuditEvent, keyed_seen: bool, unkeyed_max: int | None, keys: dict[str, bytes]
) -> ChainBreak | None:
    """An event whose marker the chain does not allow here: unkeyed after a keyed one (or past
    ``AUDIT_UNKEYED_MAX_SEQ``), or keyed with a key this installation does not have."""
    if event.algorithm == UNKEYED:
        if keyed_seen or (unkeyed_max is not None and event.seq > unkeyed_max):
            return ChainBreak(
                event.seq,
                "sự kiện không được ký bằng khóa HMAC trong khi nhật ký đã dùng khóa: "
                "được ghi thêm bởi người không có khóa (giả mạo)",
                "unkeyed",
            )
        return None
    if event.algorithm.removeprefix(KEYED_PREFIX) not in keys or not event.algorithm.startswith(KEYED_PREFIX):
        return ChainBreak(
            event.seq,
            "sự kiện được ký bằng một khóa không có trong AUDIT_HMAC_KEY / AUDIT_HMAC_OLD_KEYS: "
            "giả mạo, hoặc thiếu khóa cũ trong cấu hình",
            "unknown_key",
        )
    return None


def verify_chain(batch: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; the first event that was changed, removed, inserted or moved."""
    return verify_chain_status(batch=batch).broken

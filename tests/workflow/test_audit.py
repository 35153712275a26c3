"""The audit trail: one event per action, versions kept, and every kind of tampering caught."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as settings_module
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import (
    GENESIS,
    _canonical,
    audit_record,
    current_algorithm,
    event_hash,
    key_id,
    verify_chain,
    verify_chain_status,
)
from plans import organisation, roles
from plans.models import Membership, PlanTask
from plans.parsing import parse_upload
from plans.services import plan_import, unit_directory
from tests.helpers import PDF, SEED_TXT
from tests.jobs import run_queued_jobs
from workflow import services
from workflow.evidence import store
from workflow.models import OutgoingMail, PeriodTask, Step

LEAD_REPORT = {
    "result": "Đã triển khai",
    "self_assessment": "done",
    "explanation": "Bản giấy đã gửi Văn phòng",
}
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


def new_actions(call: Callable[[], Any]) -> list[str]:
    """The actions recorded while ``call`` ran, in order."""
    last = AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0
    call()
    return list(AuditEvent.objects.filter(seq__gt=last).order_by("seq").values_list("action", flat=True))


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def claim_and_submit(step: Step, user: Any, **data: Any) -> list[str]:
    services.step_claim(step_id=step.pk, user=user)
    return new_actions(lambda: services.step_submit(step_id=step.pk, user=user, data=data))


# --- one event per action -------------------------------------------------------------------


def test_every_workflow_action_records_exactly_one_event(
    launch: Callable[..., PeriodTask],
    personas: dict[str, Any],
    make_user: Any,
    units: Any,
    evidence_root: Path,
) -> None:
    staff, head, reviewer = personas["staff"], personas["unit_head"], personas["office_reviewer"]
    colleague = make_user("qlcn_cv2", unit="QLCN")
    pt_holder: list[PeriodTask] = []

    # launch
    assert new_actions(lambda: pt_holder.append(launch(["QLCN"], ["QLTM"]))) == ["launch"]
    pt = pt_holder[0]
    launched = last_event("launch")
    assert (launched.actor, launched.period_task, launched.actor_unit) == (reviewer, pt, units["VP"].name)
    lead = pt.steps.get(kind="lead")
    # assign, reassign
    assert new_actions(lambda: services.step_assign(step_id=lead.pk, assignee=colleague, actor=head)) == [
        "assign"
    ]
    assert new_actions(lambda: services.step_assign(step_id=lead.pk, assignee=staff, actor=head)) == [
        "reassign"
    ]
    assert last_event("reassign").data == {"from": "qlcn_cv2", "to": "qlcn_cv"}
    # save_draft, with the report before and after
    assert new_actions(
        lambda: services.step_save_draft(step_id=lead.pk, user=staff, data={"result": "Nháp 1"})
    ) == ["save_draft"]
    draft = last_event("save_draft")
    assert (draft.data["before"]["result"], draft.data["after"]["result"]) == ("", "Nháp 1")
    # evidence_added, evidence_removed, with the file's SHA-256
    kept = store(io.BytesIO(PDF), name="bao-cao.pdf")
    dropped = store(io.BytesIO(PDF + b"%x"), name="nham.pdf")
    assert new_actions(lambda: services.evidence_attach(step_id=lead.pk, user=staff, stored=kept)) == [
        "evidence_added"
    ]
    assert last_event("evidence_added").data == {
        "name": "bao-cao.pdf",
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "size": len(PDF),
    }
    services.evidence_attach(step_id=lead.pk, user=staff, stored=dropped)
    wrong = lead.evidence.get(original_name="nham.pdf")
    assert new_actions(lambda: services.evidence_remove(evidence_id=wrong.pk, user=staff)) == [
        "evidence_removed"
    ]
    # submit: the snapshot and the evidence still attached
    assert new_actions(lambda: services.step_submit(step_id=lead.pk, user=staff, data=LEAD_REPORT)) == [
        "submit"
    ]
    submitted = last_event("submit")
    assert submitted.data["before"]["result"] == "Nháp 1"
    # (with the partner units the lead asked: those the plan names, proposed by default)
    partners = list(lead.period_task.plan_task.partner_units_named.values_list("pk", flat=True))
    assert submitted.data["after"] == {**lead.snapshot(), **LEAD_REPORT, "partners_asked": partners}
    assert submitted.data["evidence"] == [
        {"original_name": "bao-cao.pdf", "sha256": hashlib.sha256(PDF).hexdigest()}
    ]
    # claim, partner_input
    partner = pt.steps.get(kind="partner")
    assert new_actions(lambda: services.step_claim(step_id=partner.pk, user=personas["other_staff"])) == [
        "claim"
    ]
    assert new_actions(
        lambda: services.step_submit(
            step_id=partner.pk, user=personas["other_staff"], data={"result": "Nhất trí"}
        )
    ) == ["partner_input"]
    # return (with its reason), the returned step assigned back to its author, then the rework
    review = pt.steps.get(kind="review")
    assert claim_and_submit(review, reviewer, decision="lead", reason="Thiếu số liệu") == [
        "return",
        "assign",
    ]
    assert last_event("return").reason == "Thiếu số liệu"
    assert (last_event("assign").actor, last_event("assign").data["to"]) == (reviewer, staff.username)
    assert claim_and_submit(pt.steps.filter(kind="lead").last(), staff, **LEAD_REPORT) == ["submit"]
    # approve, sign_off
    assert claim_and_submit(
        pt.steps.filter(kind="review").last(), reviewer, decision="approve", reason=""
    ) == ["approve"]
    assert claim_and_submit(pt.steps.get(kind="sign_off"), personas["director"], decision="approve") == [
        "sign_off"
    ]
    # every event of the task hangs on it, and the chain holds
    assert AuditEvent.objects.filter(period_task=pt).count() == 18  # the rework needs no claim
    assert verify_chain() is None


def test_plan_import_records_one_event(units: dict[str, Any], personas: dict[str, Any]) -> None:
    parsed = parse_upload(SEED_TXT.name, SEED_TXT.read_bytes(), unit_directory())
    reviewer = personas["office_reviewer"]
    assert new_actions(
        lambda: plan_import(parsed=parsed, source_name=SEED_TXT.name, source_sha256="a" * 64, actor=reviewer)
    ) == ["plan_imported"]
    event = last_event("plan_imported")
    assert (event.actor, event.data["added"], event.data["sha256"]) == (
        reviewer,
        PlanTask.objects.count(),
        "a" * 64,
    )


def test_membership_and_role_changes_are_recorded_once_each(
    units: dict[str, Any], personas: dict[str, Any], make_user: Any
) -> None:
    admin = personas["office_reviewer"]
    person = make_user("moi")

    assert new_actions(
        lambda: organisation.membership_set(user=person, unit=units["QLCN"], role="staff", actor=admin)
    ) == ["membership_changed"]
    event = last_event("membership_changed")
    assert (event.actor, event.actor_unit) == (admin, units["VP"].name)
    assert event.data == {
        "user": "moi",
        "before": None,
        "after": {"unit": units["QLCN"].name, "role": "staff"},
    }
    # the same again changes nothing and records nothing
    assert (
        new_actions(
            lambda: organisation.membership_set(user=person, unit=units["QLCN"], role="staff", actor=admin)
        )
        == []
    )
    assert new_actions(
        lambda: organisation.membership_set(
            user=person, unit=units["QLTM"], role=Membership.Role.HEAD, actor=admin
        )
    ) == ["membership_changed"]
    assert last_event("membership_changed").data["before"] == {"unit": units["QLCN"].name, "role": "staff"}

    assert new_actions(
        lambda: organisation.global_role_add(user=person, role=roles.AUDITOR, actor=admin)
    ) == ["role_changed"]
    assert last_event("role_changed").data == {"user": "moi", "added": roles.AUDITOR}
    assert (
        new_actions(lambda: organisation.global_role_add(user=person, role=roles.AUDITOR, actor=admin)) == []
    )

    assert new_actions(
        lambda: organisation.deputy_set_units(user=person, units=[units["QLTM"], units["ATNL"]], actor=admin)
    ) == ["role_changed"]
    assert last_event("role_changed").data == {
        "user": "moi",
        "oversees_before": [],
        "oversees_after": [units["QLTM"].name, units["ATNL"].name],
    }
    assert (
        new_actions(
            lambda: organisation.deputy_set_units(
                user=person, units=[units["ATNL"], units["QLTM"]], actor=admin
            )
        )
        == []
    )
    # called without an actor (seeding, commands): the system is the actor
    assert new_actions(lambda: organisation.deputy_set_units(user=person, units=[])) == ["role_changed"]
    assert (last_event("role_changed").actor, last_event("role_changed").actor_name) == (None, "hệ thống")


def test_events_keep_the_actors_unit_and_role_of_that_moment(
    launch: Callable[..., PeriodTask], personas: dict[str, Any], units: dict[str, Any]
) -> None:
    staff = personas["staff"]
    pt = launch(["QLCN"])
    services.step_claim(step_id=pt.steps.get(kind="lead").pk, user=staff)
    # when the person later moves to another unit as its head
    organisation.membership_set(user=staff, unit=units["QLTM"], role="head")
    # then the claim still says who they were when they claimed
    claim = last_event("claim")
    assert (claim.actor_unit, claim.actor_role) == (
        units["QLCN"].name,
        f"{roles.STAFF} – {units['QLCN'].name}",
    )
    # and what they do now is recorded under the new unit and role
    other = launch(["QLTM"])
    services.step_claim(step_id=other.steps.get(kind="lead").pk, user=staff)
    assert (last_event("claim").actor_unit, last_event("claim").actor_role) == (
        units["QLTM"].name,
        f"{roles.UNIT_HEAD} – {units['QLTM'].name}",
    )


def test_every_submitted_version_stays_retrievable_after_a_return(
    launch: Callable[..., PeriodTask], personas: dict[str, Any]
) -> None:
    staff, reviewer = personas["staff"], personas["office_reviewer"]
    pt = launch(["QLCN"])
    claim_and_submit(pt.steps.get(kind="lead"), staff, **{**LEAD_REPORT, "result": "Bản thứ nhất"})
    claim_and_submit(pt.steps.get(kind="review"), reviewer, decision="lead", reason="Thiếu số liệu")
    second = pt.steps.filter(kind="lead").last()
    claim_and_submit(second, staff, **{**LEAD_REPORT, "result": "Bản thứ hai, đã bổ sung số liệu"})

    first, second = pt.steps.filter(kind="lead").order_by("pk")
    assert (first.round, first.result, first.state) == (1, "Bản thứ nhất", "done")
    assert (second.round, second.result) == (2, "Bản thứ hai, đã bổ sung số liệu")
    submits = AuditEvent.objects.filter(period_task=pt, action="submit").order_by("seq")
    assert [(e.step_id, e.data["after"]["result"]) for e in submits] == [
        (first.pk, "Bản thứ nhất"),
        (second.pk, "Bản thứ hai, đã bổ sung số liệu"),
    ]
    # the rework started from the first version: the trail shows what it changed from
    assert submits[1].data["before"]["result"] == "Bản thứ nhất"


# --- tampering ------------------------------------------------------------------------------


@pytest.fixture
def chain(db: Any) -> list[AuditEvent]:
    """Eight events recorded the proper way."""
    return [
        audit_record(actor=None, action="launch", data={"n": n, "text": f"sự kiện {n}"}) for n in range(1, 9)
    ]


def unguarded() -> Any:
    """A cursor that bypasses the append-only trigger, as someone with database access would."""
    cursor = connection.cursor()
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL session_replication_role = replica")
    return cursor


def shift_up_from(seq: int) -> None:
    """Make room at ``seq`` (the unique constraint forbids a one-step shift)."""
    unguarded()
    AuditEvent.objects.filter(seq__gte=seq).update(seq=F("seq") + 1_000_000)
    AuditEvent.objects.filter(seq__gte=1_000_000).update(seq=F("seq") - 999_999)


def test_intact_chain_verifies_in_batches(chain: list[AuditEvent], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(3):  # 3 + 3 + 2 events
        status = verify_chain_status(batch=3)
    assert (status.intact, status.checked, status.head_seq, status.head_hash) == (True, 8, 8, chain[-1].hash)
    assert chain[0].prev_hash == GENESIS and chain[1].prev_hash == chain[0].hash


def test_changed_content_is_caught_at_that_event(chain: list[AuditEvent]) -> None:
    unguarded()
    AuditEvent.objects.filter(seq=5).update(reason="sửa lén")
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (5, "changed")


def test_changed_json_through_raw_sql_is_caught(chain: list[AuditEvent]) -> None:
    unguarded().execute("UPDATE workflow_auditevent SET actor_name = %s WHERE seq = %s", ["người khác", 2])
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (2, "changed")


def test_deleted_event_is_caught(chain: list[AuditEvent]) -> None:
    unguarded().execute("DELETE FROM workflow_auditevent WHERE seq = %s", [4])
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (4, "deleted")


def test_deleted_event_with_the_rest_renumbered_is_caught(chain: list[AuditEvent]) -> None:
    unguarded().execute("DELETE FROM workflow_auditevent WHERE seq = %s", [4])
    # in two steps: PostgreSQL checks the unique seq row by row, in the table's physical order
    AuditEvent.objects.filter(seq__gt=4).update(seq=F("seq") + 1_000_000)
    AuditEvent.objects.filter(seq__gt=1_000_000).update(seq=F("seq") - 1_000_001)
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (4, "deleted")


def test_inserted_forged_event_is_caught_even_with_a_valid_hash(chain: list[AuditEvent]) -> None:
    # A forger makes room at #4 and writes an event that links to #3 and hashes correctly.
    shift_up_from(4)
    forged = AuditEvent(
        seq=4,
        created_at=chain[3].created_at,
        action="sign_off",
        actor_name="giả mạo",
        prev_hash=chain[2].hash,
        algorithm=current_algorithm(),  # even a forger who holds the key
    )
    forged.hash = event_hash(forged)
    forged.save(force_insert=True)
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (4, "inserted")


def test_inserted_event_with_a_made_up_hash_is_caught(chain: list[AuditEvent]) -> None:
    AuditEvent.objects.create(
        seq=9, created_at=chain[-1].created_at, action="approve", prev_hash=chain[-1].hash, hash="f" * 64
    )
    broken = verify_chain(batch=3)
    assert broken.seq == 9
    assert "giả mạo" in broken.problem


def test_two_swapped_events_are_caught(chain: list[AuditEvent]) -> None:
    unguarded()
    AuditEvent.objects.filter(seq=6).update(seq=100)
    AuditEvent.objects.filter(seq=7).update(seq=6)
    AuditEvent.objects.filter(seq=100).update(seq=7)
    broken = verify_chain(batch=3)
    assert (broken.seq, broken.kind) == (6, "reordered")


def test_rewritten_tail_passes_the_chain_but_not_a_recorded_anchor(chain: list[AuditEvent]) -> None:
    # Someone changes #6 and recomputes every hash after it: the chain alone cannot tell ...
    unguarded()
    prev = chain[4].hash
    for event in AuditEvent.objects.filter(seq__gte=6).order_by("seq"):
        if event.seq == 6:
            event.reason = "sửa rồi tính lại"
        event.prev_hash = prev
        event.hash = event_hash(event)
        AuditEvent.objects.filter(pk=event.pk).update(reason=event.reason, prev_hash=prev, hash=event.hash)
        prev = event.hash
    assert verify_chain() is None
    # ... but the head recorded earlier (printed by verify_audit) can.
    status = verify_chain_status(anchor=(8, chain[-1].hash))
    assert (status.broken.seq, status.broken.kind) == (8, "anchor")


def test_removed_newest_events_are_caught_by_the_anchor(chain: list[AuditEvent]) -> None:
    unguarded().execute("DELETE FROM workflow_auditevent WHERE seq > %s", [6])
    assert verify_chain() is None
    broken = verify_chain_status(anchor=(8, chain[-1].hash)).broken
    assert (broken.seq, broken.kind) == (8, "anchor")


# --- the command --------------------------------------------------------------------------


def run_verify(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_verify_audit_reports_an_intact_trail(chain: list[AuditEvent]) -> None:
    code, out, _ = run_verify("--batch", "3")
    assert code == 0
    assert out.splitlines() == ["Nhật ký toàn vẹn: 8 sự kiện.", f"Sự kiện cuối: #8, mã băm {chain[-1].hash}"]
    assert run_verify("--anchor", f"8:{chain[-1].hash}")[0] == 0


def test_verify_audit_on_an_empty_trail(db: Any) -> None:
    assert run_verify() == (0, "Nhật ký toàn vẹn: 0 sự kiện.\n", "")


def test_verify_audit_names_the_tampered_event_and_exits_non_zero(chain: list[AuditEvent]) -> None:
    unguarded()
    AuditEvent.objects.filter(seq=3).update(reason="sửa lén")
    code, out, err = run_verify()
    assert (code, out) == (1, "")
    assert err.splitlines()[0].startswith(
        "Nhật ký bị can thiệp tại sự kiện #3 (Khởi tạo quy trình, hệ thống, "
    )
    assert "đã bị sửa" in err
    assert "Các sự kiện #1–#2 trước đó còn nguyên vẹn." in err


@pytest.mark.parametrize("bad", ["8", "8:xyz", "abc:" + "0" * 64])
def test_verify_audit_refuses_a_malformed_anchor(chain: list[AuditEvent], bad: str) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="SỐ:MÃ_BĂM"):
        call_command("verify_audit", "--anchor", bad)


# --- the database refuses changes (PostgreSQL) ----------------------------------------------


@on_postgres
def test_postgres_refuses_update_and_delete_of_events(chain: list[AuditEvent]) -> None:
    with pytest.raises(DatabaseError, match="chỉ được ghi thêm"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).update(reason="sửa")
    with pytest.raises(DatabaseError, match="chỉ được ghi thêm"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()
    with (
        pytest.raises(DatabaseError, match="chỉ được ghi thêm"),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        c.execute("UPDATE workflow_auditevent SET seq = seq + 100")
    # appending still works, and nothing changed
    audit_record(actor=None, action="launch")
    assert verify_chain_status().checked == 9
    assert AuditEvent.objects.get(seq=2).reason == ""


# --- the keyed chain --------------------------------------------------------------------------


def unkeyed_event(seq: int, prev_hash: str, **fields: Any) -> AuditEvent:
    """An event as written before the chain was keyed: plain SHA-256, marker "sha256"."""
    event = AuditEvent(
        seq=seq,
        created_at=timezone.now(),
        action=fields.pop("action", "launch"),
        actor_name=fields.pop("actor_name", "hệ thống"),
        prev_hash=prev_hash,
        algorithm="sha256",
        **fields,
    )
    event.hash = hashlib.sha256(_canonical(event)).hexdigest()
    event.save(force_insert=True)
    return event


def test_new_events_carry_an_hmac_under_the_key_from_the_settings(settings: Any, db: Any) -> None:
    # Given a key in the settings (the environment's AUDIT_HMAC_KEY)
    settings.AUDIT_HMAC_KEY = "khoa-thu-nghiem-" + "a" * 48

    # When an event is recorded
    event = audit_record(actor=None, action="launch", data={"n": 1})

    # Then its hash is HMAC-SHA256 of its canonical content under that key, and it says so
    assert event.algorithm == f"hmac-sha256:{key_id(settings.AUDIT_HMAC_KEY)}"
    expected = hmac.new(settings.AUDIT_HMAC_KEY.encode(), _canonical(event), hashlib.sha256).hexdigest()
    assert event.hash == expected
    assert event.hash != hashlib.sha256(_canonical(event)).hexdigest()
    assert AuditEvent.objects.get(seq=1).algorithm == event.algorithm


def test_forged_sign_off_appended_with_an_unkeyed_hash_fails_verify_audit_naming_it(
    chain: list[AuditEvent],
) -> None:
    # Given someone with write access to the table but not the key appends a "Phê duyệt"
    # event that links to the head and carries the right plain SHA-256
    unkeyed_event(9, chain[-1].hash, action="sign_off", actor_name="Giám đốc")

    # When the trail is checked
    code, out, err = run_verify()

    # Then it fails at that event, named
    assert (code, out) == (1, "")
    first = err.splitlines()[0]
    assert first.startswith("Nhật ký bị can thiệp tại sự kiện #9 (Phê duyệt, Giám đốc, ")
    assert "không được ký bằng khóa HMAC" in first
    assert "Các sự kiện #1–#8 trước đó còn nguyên vẹn." in err


def test_forged_sign_off_appended_by_the_apps_own_code_with_another_key_fails(
    settings: Any, chain: list[AuditEvent]
) -> None:
    # Given the app's own code run with another key (a copy of the code, not of the key)
    real_key = settings.AUDIT_HMAC_KEY
    settings.AUDIT_HMAC_KEY = "khoa-khac-" + "b" * 54
    audit_record(actor=None, action="sign_off", reason="")
    settings.AUDIT_HMAC_KEY = real_key

    # When the trail is checked with the real key
    code, _, err = run_verify()

    # Then event #9 is refused: its key is not the installation's
    assert code == 1
    assert err.startswith("Nhật ký bị can thiệp tại sự kiện #9 (Phê duyệt, hệ thống, ")
    assert "khóa không có trong AUDIT_HMAC_KEY" in err


def test_forged_event_claiming_the_real_key_but_hashed_with_another_fails(chain: list[AuditEvent]) -> None:
    # Given an appended event that names the real key but was hashed with a guess
    forged = AuditEvent(
        seq=9,
        created_at=timezone.now(),
        action="sign_off",
        prev_hash=chain[-1].hash,
        algorithm=current_algorithm(),
    )
    forged.hash = hmac.new(b"doan-khoa", _canonical(forged), hashlib.sha256).hexdigest()
    forged.save(force_insert=True)

    # Then the chain breaks there
    broken = verify_chain()
    assert (broken.seq, broken.kind) == (9, "changed")


def test_events_written_before_the_key_keep_their_hashes_and_the_chain_continues_keyed(db: Any) -> None:
    # Given three events written before the chain was keyed
    first = unkeyed_event(1, GENESIS)
    second = unkeyed_event(2, first.hash)
    third = unkeyed_event(3, second.hash)
    stored = list(AuditEvent.objects.order_by("seq").values_list("hash", flat=True))

    # When the app appends after the upgrade
    fourth = audit_record(actor=None, action="approve")

    # Then the old events are untouched, the new one is keyed and linked, and all verify
    assert (
        list(AuditEvent.objects.filter(seq__lte=3).order_by("seq").values_list("hash", flat=True)) == stored
    )
    assert (fourth.prev_hash, fourth.algorithm) == (third.hash, current_algorithm())
    status = verify_chain_status()
    assert (status.intact, status.checked, status.unkeyed) == (True, 4, 3)
    code, out, _ = run_verify()
    assert code == 0
    assert "#1–#3: ghi trước khi nhật ký dùng khóa HMAC (mã băm không khóa)." in out


def test_an_unkeyed_event_after_the_first_keyed_one_breaks_the_chain(db: Any) -> None:
    # Given an unkeyed event, a keyed one, then another unkeyed one (a downgrade)
    first = unkeyed_event(1, GENESIS)
    keyed = audit_record(actor=None, action="claim")
    unkeyed_event(3, keyed.hash)
    assert first.algorithm == "sha256"

    # Then the third is named: nothing unkeyed may follow a keyed event
    broken = verify_chain()
    assert (broken.seq, broken.kind) == (3, "unkeyed")


def test_unkeyed_events_past_the_configured_limit_break_the_chain(settings: Any, db: Any) -> None:
    # Given the installation pinned that only #1–#2 predate the key
    settings.AUDIT_UNKEYED_MAX_SEQ = 2
    first = unkeyed_event(1, GENESIS)
    second = unkeyed_event(2, first.hash)
    unkeyed_event(3, second.hash)

    # Then a third unkeyed event (e.g. a whole chain rewritten without the key) is refused
    broken = verify_chain()
    assert (broken.seq, broken.kind) == (3, "unkeyed")


def test_rotated_key_verifies_old_events_while_the_old_key_is_kept(settings: Any, db: Any) -> None:
    # Given events signed with a first key
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_OLD_KEYS = "cu-" + "c" * 61, []
    audit_record(actor=None, action="launch")
    audit_record(actor=None, action="claim")

    # When the key is rotated, the old one kept for verification, and events go on
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_OLD_KEYS = "moi-" + "d" * 60, ["cu-" + "c" * 61]
    newer = audit_record(actor=None, action="submit")

    # Then the new event uses the new key and the whole chain verifies
    assert newer.algorithm == f"hmac-sha256:{key_id('moi-' + 'd' * 60)}"
    assert verify_chain() is None
    # and without the old key, the first event it signed is reported
    settings.AUDIT_HMAC_OLD_KEYS = []
    broken = verify_chain()
    assert (broken.seq, broken.kind) == (1, "unknown_key")


# --- anchors, the daily export and mail ----------------------------------------------------------


def test_verify_audit_with_an_anchor_fails_on_an_emptied_trail(chain: list[AuditEvent]) -> None:
    # Given the head was recorded, then every event removed (as a TRUNCATE would)
    head = f"8:{chain[-1].hash}"
    unguarded().execute("DELETE FROM workflow_auditevent")

    # When the trail is checked against the recorded head
    code, out, err = run_verify("--anchor", head)

    # Then it fails: the anchored event is gone and the trail is empty
    assert (code, out) == (1, "")
    assert err == ("Nhật ký bị can thiệp tại sự kiện #8: sự kiện đã lưu làm mốc không còn: nhật ký trống.\n")


def test_verify_audit_with_an_anchor_fails_on_a_shorter_trail(chain: list[AuditEvent]) -> None:
    unguarded().execute("DELETE FROM workflow_auditevent WHERE seq > %s", [5])
    code, _, err = run_verify("--anchor", f"8:{chain[-1].hash}")
    assert code == 1
    assert "sự kiện đã lưu làm mốc không còn: nhật ký chỉ còn đến #5" in err


def test_daily_check_exports_the_head_and_mails_it_to_the_auditors(
    chain: list[AuditEvent], personas: dict[str, Any], tmp_path: Path, mailoutbox: list[Any]
) -> None:
    # Given an intact trail and a head folder outside the database
    heads = tmp_path / "audit-heads"
    head = AuditEvent.objects.order_by("-seq").first()

    # When the daily check runs
    code, out, _ = run_verify("--export", str(heads), "--mail")
    run_queued_jobs()  # the mail goes out from the durable queue (workflow/mail.py)

    # Then the head is written as SEQ:HASH (the latest and a dated copy) ...
    assert code == 0
    line = f"{head.seq}:{head.hash}\n"
    assert (heads / "audit-head.txt").read_text() == line
    dated = [p for p in heads.iterdir() if p.name.startswith("audit-head-")]
    assert len(dated) == 1 and dated[0].read_text() == line
    assert f"Đã ghi mốc vào {heads / 'audit-head.txt'}." in out
    # ... and mailed to the auditors only, after the check
    (mail,) = mailoutbox
    assert mail.to == [personas["auditor"].email]
    assert mail.subject.startswith("[CCHC] Kiểm tra nhật ký ngày ") and mail.subject.endswith(": toàn vẹn")
    assert f"verify_audit --anchor {head.seq}:{head.hash}" in mail.body
    assert "Đã gửi kết quả cho 1 người kiểm tra, thẩm định." in out


def test_daily_check_catches_a_truncated_trail_with_the_head_it_exported(
    chain: list[AuditEvent], personas: dict[str, Any], tmp_path: Path, mailoutbox: list[Any]
) -> None:
    # Given yesterday's check exported the head
    heads = tmp_path / "audit-heads"
    head = AuditEvent.objects.order_by("-seq").first()
    assert run_verify("--export", str(heads))[0] == 0
    # When every event is removed and today's check runs
    unguarded().execute("DELETE FROM workflow_auditevent")
    code, out, err = run_verify("--export", str(heads), "--mail")
    run_queued_jobs()

    # Then it fails, keeps the exported head, and tells the auditors
    assert code == 1
    assert "nhật ký trống" in err
    assert (heads / "audit-head.txt").read_text() == f"{head.seq}:{head.hash}\n"
    (mail,) = mailoutbox
    assert mail.subject.endswith(": BỊ CAN THIỆP")
    assert "nhật ký trống" in mail.body


def test_export_folder_inside_the_database_folder_is_refused(
    chain: list[AuditEvent], tmp_path: Path, monkeypatch: Any
) -> None:
    # Given the database keeps its files in a folder (SQLite: the file's; PostgreSQL: data_directory)
    if connection.vendor == "sqlite":
        monkeypatch.setitem(settings_module.DATABASES["default"], "NAME", str(tmp_path / "db" / "db.sqlite3"))
        db_dir = tmp_path / "db"
    else:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            db_dir = Path(cursor.fetchone()[0])

    # When the head is to be exported inside it
    with pytest.raises(CommandError, match="nằm trong thư mục của cơ sở dữ liệu"):
        call_command("verify_audit", "--export", str(db_dir / "heads"))

    # Then nothing was written there
    assert not (db_dir / "heads").exists()


def test_export_without_a_folder_is_refused(chain: list[AuditEvent], settings: Any) -> None:
    settings.AUDIT_HEAD_DIR = ""
    with pytest.raises(CommandError, match="--export cần một thư mục"):
        call_command("verify_audit", "--export")


# --- the app's own PostgreSQL role cannot rewrite the trail ---------------------------------------


@pytest.fixture
def pg_roles(transactional_db: Any) -> Any:
    """An owner role and an app role set up by ``manage.py db_roles --setup --apply`` on the test
    database (committed, hence transactional_db); both dropped, ownership given back, after."""
    suffix = secrets.token_hex(3)
    owner, app = f"cchc_audit_owner_{suffix}", f"cchc_audit_app_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (superuser,) = cursor.fetchone()
    call_command("db_roles", "--owner", owner, "--app", app, "--setup", "--apply", stdout=io.StringIO())
    yield owner, app
    with connection.cursor() as cursor:
        cursor.execute(f'REASSIGN OWNED BY "{owner}" TO "{superuser}"')
        for role in (app, owner):
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


def connect_as(role: str) -> Any:
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=role,
        password=db.get("PASSWORD") or None,
        autocommit=True,
    )


@pytest.mark.postgres
@on_postgres
def test_the_apps_role_may_only_read_and_append_the_audit_table(pg_roles: Any) -> None:
    import psycopg

    from workflow.checks import database_role_problems

    # Given a trail written by the app, and the roles the production notes create
    owner, app = pg_roles
    with transaction.atomic():
        events = [audit_record(actor=None, action="launch", data={"n": n}) for n in range(3)]
    refused = {
        "UPDATE": "UPDATE workflow_auditevent SET reason = 'sửa' WHERE seq = 2",
        "DELETE": "DELETE FROM workflow_auditevent WHERE seq = 2",
        "TRUNCATE": "TRUNCATE workflow_auditevent",
        "DISABLE TRIGGER": "ALTER TABLE workflow_auditevent DISABLE TRIGGER workflow_auditevent_append_only",
        "DISABLE TRIGGER ALL": "ALTER TABLE workflow_auditevent DISABLE TRIGGER ALL",
        "DROP TRIGGER": "DROP TRIGGER workflow_auditevent_append_only ON workflow_auditevent",
        "replica mode": "SET session_replication_role = replica",
    }

    # When the app's role tries each way of rewriting it, directly with psycopg
    with connect_as(app) as conn:
        outcomes = {}
        for name, statement in refused.items():
            try:
                conn.execute(statement)
                outcomes[name] = "done"
            except psycopg.errors.InsufficientPrivilege:
                outcomes[name] = "refused"
        # Then every one is refused for lack of privilege ...
        assert outcomes == dict.fromkeys(refused, "refused")
        # ... while reading, appending and the app's ordinary writes elsewhere work
        assert conn.execute("SELECT count(*) FROM workflow_auditevent").fetchone() == (3,)
        conn.execute("UPDATE workflow_step SET round = round WHERE false")
        conn.execute("DELETE FROM django_session WHERE false")
        conn.execute(
            "INSERT INTO workflow_auditevent (seq, created_at, actor_name, actor_unit, actor_role, action, "
            "reason, data, prev_hash, hash) VALUES (4, now(), 'giả mạo', '', '', 'sign_off', '', '{}', %s, %s)",
            [events[-1].hash, "e" * 64],
        )
        # and the deploy check has nothing to say about this role
        with conn.cursor() as cursor:
            assert database_role_problems(cursor) == []

    # Then the trail is as the app wrote it, and the appended event (no key) is named
    assert list(AuditEvent.objects.filter(seq__lte=3).values_list("hash", flat=True)) == [
        e.hash for e in events
    ]
    broken = verify_chain()
    assert (broken.seq, broken.kind) == (4, "unkeyed")
    # and the owner could still do what the app cannot: that is why the app must not be it
    with connect_as(owner) as conn, conn.cursor() as cursor:
        assert [w.id for w in database_role_problems(cursor)] == ["cchc.W002"]


@pytest.mark.postgres
@on_postgres
def test_check_deploy_warns_when_the_app_runs_as_a_superuser(db: Any) -> None:
    from workflow.checks import check_audit_database_role

    # Given the test database's connection (a superuser, like the README's old role)
    # Then the deploy check warns, in Vietnamese and English
    (warning,) = check_audit_database_role()
    assert warning.id == "cchc.W001"
    assert "siêu quản trị" in warning.msg and "superuser" in warning.msg


def test_check_deploy_says_nothing_about_roles_on_sqlite(db: Any) -> None:
    from workflow.checks import check_audit_database_role

    if connection.vendor == "sqlite":
        assert check_audit_database_role() == []


def test_check_deploy_warns_when_the_audit_key_is_not_from_the_environment(settings: Any) -> None:
    from workflow.checks import check_audit_hmac_key

    # Given production settings whose audit key was generated into var/
    settings.DEBUG, settings.AUDIT_HMAC_KEY_SOURCE = False, "file"
    # Then the deploy check says so; with the key from the environment it is quiet
    assert [w.id for w in check_audit_hmac_key()] == ["cchc.W005"]
    settings.AUDIT_HMAC_KEY_SOURCE = "env"
    assert check_audit_hmac_key() == []


def test_daily_check_does_not_wait_for_a_mail_server_that_is_down(
    chain: list[AuditEvent], personas: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    # Given an SMTP server that refuses connections
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    # When the daily check runs
    code, out, _ = run_verify("--export", str(tmp_path / "heads"), "--mail")

    # Then the check stands (head exported, exit 0) and the auditors' mail waits in the queue
    assert code == 0
    assert (tmp_path / "heads" / "audit-head.txt").exists()
    (mail,) = OutgoingMail.objects.all()
    assert mail.recipient == personas["auditor"].email and mail.sent_at is None
    # ... and the delivery attempt fails without losing it (retried later, then shown to the office)
    run_queued_jobs()
    mail.refresh_from_db()
    assert mail.sent_at is None and mail.attempts == 1

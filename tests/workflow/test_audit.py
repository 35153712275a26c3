"""The audit trail: one event per action, versions kept, and every kind of tampering caught."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max

from plans import organisation, roles
from plans.models import Membership, PlanTask
from plans.parsing import parse_plan_file
from plans.services import plan_import, unit_directory
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.audit import GENESIS, audit_record, event_hash, verify_chain, verify_chain_status
from workflow.evidence import store
from workflow.models import AuditEvent, PeriodTask, Step

SEED = Path(__file__).resolve().parents[2] / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
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


@pytest.fixture
def evidence_root(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return settings.EVIDENCE_ROOT


@pytest.fixture
def launch(units: dict[str, Any], personas: dict[str, Any]) -> Callable[..., PeriodTask]:
    def _launch(lead: list[str], partners: list[str] = ()) -> PeriodTask:  # type: ignore[assignment]
        criterion = CriterionFactory()
        task = plan_task(criterion, lead=[units[u] for u in lead], partners=[units[u] for u in partners])
        period = periods(criterion.section.appendix.plan)["Q1"]
        services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
        return PeriodTask.objects.get(plan_task=task)

    return _launch


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
    assert submitted.data["after"] == {**lead.snapshot(), **LEAD_REPORT}
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
    parsed = parse_plan_file(SEED.name, SEED.read_bytes(), unit_directory())
    reviewer = personas["office_reviewer"]
    assert new_actions(
        lambda: plan_import(parsed=parsed, source_name=SEED.name, source_sha256="a" * 64, actor=reviewer)
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
    AuditEvent.objects.filter(seq__gt=4).update(seq=F("seq") - 1)
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

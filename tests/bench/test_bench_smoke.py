"""manage.py bench on a tiny data set (PostgreSQL only): it completes and writes every row;
the rows it generates are the ones the services write. No timing is asserted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from workflow.bench import generator as gen

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="bench needs PostgreSQL")


def test_bench_refuses_sqlite() -> None:
    from unittest import mock

    with mock.patch.object(connection, "vendor", "sqlite"), pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench", processes=10, small=0, json="", markdown="")


@needs_postgres
def test_bench_refuses_the_maintenance_database(settings: Any) -> None:
    from unittest import mock

    with (
        mock.patch.dict(connection.settings_dict, {"NAME": "postgres"}),
        pytest.raises(CommandError, match="cchc_bench"),
    ):
        call_command("bench", processes=10, small=0, json="", markdown="")


@needs_postgres
def test_bench_runs_and_writes_every_row(transactional_db: Any, tmp_path: Any) -> None:
    from workflow.management.commands.bench import ROWS

    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    call_command(
        "bench",
        processes=200,
        small=100,
        runs=1,
        heavy_runs=1,
        launch_tasks=3,
        throughput_seconds=2,
        clients=2,
        json=str(out_json),
        markdown=str(out_md),
        no_explain=True,
        drop_small=True,
    )
    report = json.loads(out_json.read_text())
    assert [row["key"] for row in report["rows"]] == [key for key, _, _ in ROWS]
    for row in report["rows"]:
        assert row["result"] in {"PASS", "MISS", "—", "chưa có"}, row
        if row["result"] != "chưa có":
            assert row["large"]["n"] >= 1 and row["large"]["median_ms"] is not None, row
            assert not row["large"]["error"], row
    assert set(report["sizes"]) == {"small", "large"}
    assert report["sizes"]["small"]["database"] != report["sizes"]["large"]["database"]
    assert report["sizes"]["large"]["rows"]["processes"] >= 200
    throughput = report["throughput"]
    assert throughput["errors"] == 0, throughput["error_samples"]
    assert throughput["duplicated_successors"] == 0
    assert throughput["stuck_processes"] == 0
    assert throughput["audit_chain_ok"]
    assert "cpu" in report["machine"] and report["machine"]["postgresql"]
    text = out_md.read_text()
    assert "<!-- bench:results:start -->" in text and "Việc của tôi" in text
    # Writing again keeps what is outside the markers (the hand-written analysis).
    out_md.write_text(text.replace("(Written by hand", "KEPT (Written by hand"))
    from workflow.management.commands.bench import write_markdown

    write_markdown(out_md, report)
    assert "KEPT (Written by hand" in out_md.read_text()


# --- the generated rows are the services' rows ---------------------------------------------

LEAD = {"result": "Đã thực hiện", "self_assessment": "done", "explanation": "Hồ sơ giấy"}


def _someone(step: Any, generator: gen.Generator) -> Any:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if step.kind in ("lead", "partner"):
        return User.objects.get(pk=generator.members[step.unit_id][0])
    if step.kind == "review":
        return User.objects.get(pk=generator.reviewers[0])
    return User.objects.get(pk=generator.director)


def _drive(
    period_task: Any, generator: gen.Generator, decisions: list[dict[str, Any]], stop: int | None = None
) -> None:
    """Complete open steps in creation order through the services; review/sign-off decisions
    are taken from ``decisions`` in order (approve when it runs out); stop after ``stop`` steps."""
    from workflow import selectors, services
    from workflow.models import Step

    done = 0
    while stop is None or done < stop:
        step = Step.objects.filter(period_task=period_task, state="open").order_by("pk").first()
        if step is None:
            return
        user = _someone(step, generator)
        services.step_claim(step_id=step.pk, user=user)
        if step.kind == "lead":
            # the generator's leads ask every partner of the task in the first round, and what the
            # return proposes after it (TaskProcess.lead_asks)
            data = LEAD
            if step.round == 1:
                asked = [u.pk for u in selectors.partner_units(period_task.plan_task)]
                data = {**LEAD, "partners_asked": asked}
        elif step.kind == "partner":
            data = {"result": "Nhất trí"}
        elif decisions and decisions[0]["kind"] == step.kind:
            data = {k: v for k, v in decisions.pop(0).items() if k != "kind"}
        else:
            data = {"decision": "approve", "reason": ""}
        services.step_submit(step_id=step.pk, user=user, data=data)
        done += 1


def _same_path_by_services(period_task: Any, generator: gen.Generator) -> Any:
    """Launch the same plan task in another period and drive it the way the generated one went."""
    from workflow import services
    from workflow.models import PeriodTask, Step

    free = (
        type(period_task.period)
        .objects.filter(plan=period_task.period.plan)
        .exclude(period_tasks__plan_task=period_task.plan_task)
        .first()
    )
    office = _someone(Step(kind="review"), generator)
    services.period_launch(period=free, actor=office, plan_tasks=[period_task.plan_task])
    mine = PeriodTask.objects.get(plan_task=period_task.plan_task, period=free)
    decisions = [
        {
            "kind": s.kind,
            "decision": s.decision,
            "reason": s.reason,
            "ask_partners_again": s.ask_partners_again,
        }
        if s.kind == "review"
        else {"kind": s.kind, "decision": s.decision, "reason": s.reason}
        for s in period_task.steps.filter(kind__in=["review", "sign_off"], state="done").order_by("pk")
        if s.decision != "approve"
    ]
    _drive(mine, generator, decisions, stop=period_task.steps.filter(state="done").count())
    return mine


def _comparable(shape: dict[str, Any]) -> dict[str, Any]:
    # Who signed off does not change the rows' shape; which unit does not either.
    return shape


@needs_postgres
@pytest.mark.parametrize(
    "pick",
    [
        "done_straight",
        "done_after_review_return",
        "done_after_sign_off_return",
        "open_at_partners",
        "open_at_review",
    ],
)
def test_generated_processes_have_the_shape_the_services_give(transactional_db: Any, pick: str) -> None:
    from django.db.models import Count, Q
    from django.test.utils import override_settings

    from workflow.models import PeriodTask

    generator = gen.Generator(total=400, seed=11)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        generator.generate_until(400)
        assert gen.integrity_problems() == {}
        runs = PeriodTask.objects.annotate(
            partners=Count("steps", filter=Q(steps__kind="partner")),
            leads=Count("steps", filter=Q(steps__kind="lead")),
            returns=Count("steps", filter=~Q(steps__decision__in=["", "approve"])),
            open_steps=Count("steps", filter=Q(steps__state="open")),
            claimed_open=Count("steps", filter=Q(steps__state="open", steps__assignee__isnull=False)),
        ).filter(claimed_open=0)
        candidates = {
            "done_straight": runs.filter(stage="done", round=1, partners__gte=2, leads=1),
            "done_after_review_return": runs.filter(
                stage="done", round=2, steps__kind="review", steps__decision="lead", leads=2
            ),
            "done_after_sign_off_return": runs.filter(
                stage="done", round=2, steps__kind="sign_off", steps__decision="office"
            ),
            "open_at_partners": runs.filter(
                stage="partner",
                round=1,
                partners__gte=2,
                open_steps__lt=Count("steps", filter=Q(steps__kind="partner")),
            ),
            "open_at_review": runs.filter(stage="review", round=1),
        }[pick]
        generated = candidates.order_by("pk").first()
        if generated is None:
            pytest.skip(f"no generated run of the kind {pick} with seed 11")
        by_services = _same_path_by_services(generated, generator)
        assert _comparable(gen.process_shape(by_services.process_id)) == _comparable(
            gen.process_shape(generated.process_id)
        )


@needs_postgres
def test_generated_audit_chain_verifies_and_grows(transactional_db: Any) -> None:
    from audit.models import AuditEvent
    from audit.services import verify_chain

    generator = gen.Generator(total=200, seed=5)
    generator.generate_until(120)
    assert verify_chain() is None
    first = AuditEvent.objects.count()
    generator.generate_until(200)
    assert AuditEvent.objects.count() > first
    assert verify_chain() is None
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, AuditEvent.objects.count() + 1)
    )

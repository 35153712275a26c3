"""The seed plan run through a reporting period, for the documents' tests.

Building it (import, launch, a dozen steps) and rendering the PDFs takes seconds, so the
document modules build it once per module inside a transaction that is rolled back at
the end (``module_db``), and keep only plain values (bytes, texts) for their tests.
"""

from __future__ import annotations

import contextlib
import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from pypdf import PdfReader

from plans import organisation, roles
from plans.defaults import DEFAULT_UNITS
from plans.models import Membership, Plan, PlanTask, ReportingPeriod
from plans.parsing import parse_upload
from plans.services import plan_import, unit_directory
from tests.helpers import SEED_DOCX, at
from workflow import selectors, services
from workflow.evidence import StoredFile
from workflow.models import PeriodTask, Step

TZ = datetime.timezone(datetime.timedelta(hours=7))
SCRIPT = "<script>alert('x')</script>"
# The seed tasks the scenario runs in Quý I (keys of plan_import).
DONE_ON_TIME = "1/I/-/1/1"  # Văn phòng Sở leads, six partners
DONE_LATE = "1/III/-/1/1"  # Văn phòng Sở
OVERDUE_STARTED = "3/I/3/3.4/1"  # Phòng An toàn - Năng lượng
OVERDUE_UNTOUCHED = "4/-/4/4.1/1"  # Thanh tra Sở
REPORT_DAY = datetime.date(2024, 3, 12)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Documents are cached in the process-wide LocMem cache: every test starts without them."""
    cache.clear()
    yield
    cache.clear()


@contextlib.contextmanager
def module_db(django_db_blocker: Any) -> Iterator[None]:
    """Database access for a module-scoped fixture, rolled back when it ends.

    pytest-django creates the test database only if some collected test asks for one:
    a module using this must carry ``pytestmark = pytest.mark.django_db``. The check
    below refuses to run against any other database.
    """
    with django_db_blocker.unblock():
        # By now pytest-django has renamed the connection to its test database: "test_…",
        # an explicit TEST NAME, or SQLite in memory. Anything else is a real database.
        name = str(connection.settings_dict["NAME"])
        explicit = (connection.settings_dict.get("TEST") or {}).get("NAME")
        assert name.startswith("test_") or name == explicit or "memory" in name, "not the test database"
        with transaction.atomic():
            yield
            transaction.set_rollback(True)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    """Whitespace folded: the PDF breaks lines where the layout does, not where the text did."""
    return " ".join(text.split())


def department() -> dict[str, Any]:
    """Units, role groups and one person per unit and role (no password hashing: unusable passwords)."""
    User = get_user_model()
    organisation.roles_ensure()
    units = {u.short_name: u for u in organisation.units_seed(seeds=DEFAULT_UNITS)}
    people: dict[str, Any] = {}
    for short, unit in units.items():
        people[short] = User.objects.create_user(
            username=f"{short.lower()}_cv", first_name=f"Chuyên viên {short}"
        )
        organisation.membership_set(user=people[short], unit=unit, role=Membership.Role.STAFF)
    for key, role in (
        ("office", roles.OFFICE_REVIEWER),
        ("director", roles.DIRECTOR),
        ("auditor", roles.AUDITOR),
    ):
        people[key] = User.objects.create_user(username=key, first_name=key.capitalize())
        organisation.global_role_add(user=people[key], role=role)
    organisation.membership_set(user=people["office"], unit=units["VP"], role=Membership.Role.STAFF)
    people["units"] = units
    return people


def import_seed() -> Plan:
    parsed = parse_upload(SEED_DOCX.name, SEED_DOCX.read_bytes(), unit_directory())
    report = plan_import(parsed=parsed, source_name=SEED_DOCX.name)
    assert report.plan is not None
    return report.plan


def act(step: Step, user: Any, **data: Any) -> None:
    services.step_claim(step_id=step.pk, user=user)
    services.step_submit(step_id=step.pk, user=user, data=data)


def open_step(run: PeriodTask, kind: str, unit: Any = None) -> Step:
    steps = run.steps.filter(kind=kind, state=Step.State.OPEN)
    return steps.get(unit=unit) if unit is not None else steps.get()


def run_to_review(run: PeriodTask, people: dict[str, Any], *, result: str, evidence: bool) -> None:
    """The lead reports (with a file or an explanation) asking every partner, who all answer."""
    lead = open_step(run, "lead")
    services.step_claim(step_id=lead.pk, user=people[lead.unit.short_name])
    if evidence:
        services.evidence_attach(
            step_id=lead.pk,
            user=people[lead.unit.short_name],
            stored=StoredFile(
                original_name="Báo cáo kết quả tháng 2.pdf",
                stored_name=f"ev{lead.pk:030d}",
                content_type="application/pdf",
                size=1234,
                sha256="ab" * 32,
            ),
        )
    services.step_submit(
        step_id=lead.pk,
        user=people[lead.unit.short_name],
        data={
            "result": result,
            "self_assessment": "done",
            "explanation": "" if evidence else "Chưa có tệp, xin giải trình",
            # every partner unit asked, also those only "Các phòng, đơn vị thuộc sở" covers
            "partners_asked": [u.pk for u in selectors.partner_units(run.plan_task)],
        },
    )
    for partner in run.steps.filter(kind="partner", state=Step.State.OPEN).select_related("unit"):
        act(partner, people[partner.unit.short_name], no_opinion=True)


@dataclass
class Scenario:
    plan: Plan
    period: ReportingPeriod
    people: dict[str, Any]
    runs: dict[str, PeriodTask] = field(default_factory=dict)


def run_quarter(plan: Plan, people: dict[str, Any]) -> Scenario:
    """Quý I/2024 (internal deadline 10/03): one task done on time (after a return), one done
    late, one started and overdue, one launched and untouched; the other 73 never launched."""
    period = ReportingPeriod.objects.get(plan=plan, code="Q1")
    tasks = {
        t.key: t
        for t in PlanTask.objects.filter(
            plan=plan, key__in=[DONE_ON_TIME, DONE_LATE, OVERDUE_STARTED, OVERDUE_UNTOUCHED]
        )
    }
    scenario = Scenario(plan=plan, period=period, people=people)
    with at(datetime.date(2024, 2, 20)):
        services.period_launch(period=period, actor=people["office"], plan_tasks=list(tasks.values()))
    scenario.runs = {
        key: PeriodTask.objects.get(period=period, plan_task=task) for key, task in tasks.items()
    }

    on_time = scenario.runs[DONE_ON_TIME]
    with at(datetime.date(2024, 2, 26)):
        run_to_review(
            on_time, people, result=f"Đã ban hành kế hoạch; {SCRIPT} được hiển thị như chữ", evidence=True
        )
        act(
            open_step(on_time, "review"),
            people["office"],
            decision="lead",
            reason="Thiếu số liệu quý I",
            ask_partners_again=False,
        )
    with at(datetime.date(2024, 3, 1)):
        act(
            open_step(on_time, "lead", people["units"]["VP"]),
            people["VP"],
            result="Đã bổ sung số liệu: 12/12 nhiệm vụ đúng tiến độ",
            self_assessment="done",
            explanation="Tệp kiểm chứng đã gửi ở lần trước",
        )
        act(open_step(on_time, "review"), people["office"], decision="approve", reason="")
    with at(datetime.date(2024, 3, 5)):
        act(open_step(on_time, "sign_off"), people["director"], decision="approve", reason="")

    late = scenario.runs[DONE_LATE]
    with at(datetime.date(2024, 3, 4)):
        run_to_review(
            late,
            people,
            result="Đã công khai đầy đủ thủ tục hành chính trên Cổng dịch vụ công",
            evidence=False,
        )
        act(open_step(late, "review"), people["office"], decision="approve", reason="")
    with at(datetime.date(2024, 3, 11)):
        act(open_step(late, "sign_off"), people["director"], decision="approve", reason="")

    started = scenario.runs[OVERDUE_STARTED]
    with at(datetime.date(2024, 3, 6)):
        lead = open_step(started, "lead")
        services.step_claim(step_id=lead.pk, user=people["ATNL"])
        services.step_save_draft(step_id=lead.pk, user=people["ATNL"], data={"result": "Đang làm"})
    for run in scenario.runs.values():
        run.refresh_from_db()
    return scenario

"""Helpers and constants shared by several test packages (fixtures live in the conftest files)."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from plans.models import Appendix, Criterion, CriterionGroup, Plan, PlanTask, ReportingPeriod, Section
from workflow import services
from workflow.models import PeriodTask, Step

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# The seed plan as received, committed with the app (plans/seed/).
SEED = Path(__file__).resolve().parents[1] / "plans" / "seed"
SEED_TXT = SEED / "ke-hoach-cchc-2024-phu-luc.txt"
SEED_DOCX = SEED / "ke-hoach-cchc-2024-phu-luc.docx"

# The keys of the personas fixture (tests/conftest.py): one person per role.
PERSONAS = (
    "staff",  # QLCN
    "unit_head",  # QLCN's head
    "other_staff",  # QLTM
    "atnl_staff",  # ATNL
    "office_reviewer",
    "director",
    "deputy",  # oversees QLCN
    "other_deputy",  # oversees ATNL
    "auditor",
)

# The tables a plan import writes to.
PLAN_TABLES: list[type[Model]] = [
    Plan,
    Appendix,
    Section,
    CriterionGroup,
    Criterion,
    PlanTask,
    ReportingPeriod,
    AuditEvent,
]

# The plan upload's three pages.
UPLOAD = reverse("plans:upload")
PREVIEW = reverse("plans:upload_preview")
CONFIRM = reverse("plans:upload_confirm")

# A minimal PDF, enough for the evidence checks.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

# What a lead unit reports, in the two forms the tests use.
LEAD_REPORT = {"result": "Đã triển khai", "self_assessment": "done", "explanation": "Giải trình"}
LEAD_DONE = {"result": "Đã ban hành kế hoạch", "self_assessment": "done", "explanation": "Không có tệp"}


def at(day: datetime.date, hour: int = 9) -> Any:
    """Time travel to ``hour`` o'clock of ``day`` in Vietnam, the clock stopped."""
    return time_machine.travel(datetime.datetime(day.year, day.month, day.day, hour, tzinfo=TZ), tick=False)


def client_for(user: Any) -> Client:
    """A fresh client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def launch(period: ReportingPeriod, personas: dict[str, Any], tasks: list[PlanTask]) -> list[PeriodTask]:
    """The office launches ``tasks`` in ``period``: the runs started."""
    return services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=tasks).started


def do(step: Step, user: Any, **data: Any) -> None:
    """``user`` claims ``step`` and submits it with ``data``."""
    services.step_claim(step_id=step.pk, user=user)
    services.step_submit(step_id=step.pk, user=user, data=data)


def open_steps(pt: PeriodTask) -> list[tuple[str, str | None]]:
    """The run's open steps as (kind, unit), in order."""
    return [
        (s.kind, s.unit.short_name if s.unit else None) for s in pt.steps.filter(state="open").order_by("pk")
    ]


def uploads(var_dir: Path) -> list[str]:
    """The names of the files kept under var/uploads."""
    directory = var_dir / "uploads"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def png_bytes(seed: int) -> bytes:
    """A tiny PNG whose colour (and so whose bytes) depends on ``seed``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (seed % 256, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class Inbox:
    """aiosmtpd handler: keeps every message as received."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"

"""A province-sized data set, written fast and shaped exactly as the services write it.

The services take ~30 ms per step, far too slow for 100 000 processes, so this module
writes the rows itself with PostgreSQL COPY. What it writes mirrors, row for row, what
``services.period_launch`` / ``step_claim`` / ``step_assign`` / ``step_save_draft`` /
``step_submit`` and viewflow's engine write for the same history (checked against a real
run, see ``tests/bench/test_bench_smoke.py``):

- one ``TaskProcess`` (viewflow ``Process`` row, status NEW until the end node, DONE with
  ``finished`` after it, ``data`` holding the gateways' answers) and one ``PeriodTask``;
- viewflow ``Task`` rows for every node passed: start, lead_split, one lead per lead unit,
  lead_join, partners_needed, [partner_split, one partner per partner unit, partner_join],
  review, review_result, sign_off, sign_off_result, end; with the engine's statuses
  (gateways have no ``started``; a join waiting for branches is STARTED), tokens
  (``start``, ``start/<split pk>_<n>`` on branches), ``previous`` links, owner
  permissions (``plans.work_on_unit`` on the unit, ``workflow.review_taskprocess``,
  ``plans.sign_off_unit`` on the single lead unit or on nothing), owners once claimed;
- a ``Step`` per human task (unit, round, due date from the period deadline and
  ``STEP_DUE_OFFSETS``, assignee, report fields, submitted_by/at), rounds after a return
  starting from the unit's previous text;
- the audit trail: launch, claim or assign, save_draft, submit / partner_input / approve /
  return / sign_off events with the services' data, a valid hash chain (``event_hash``,
  consecutive ``seq``) continued from whatever the database already holds;
- a "new step" notification per step (to one person, read once the step is done).

Simplifications, on purpose: no evidence files (lead reports carry an explanation
instead, as the services require without evidence), no reminders, no outcome
notifications, one notification per step instead of one per member of the unit.

The plans: the seed plan (77 tasks) imported once with ``plans.services.plan_import``,
then cloned by bulk insert, one plan per "department-year" (20 a year), with lead and
partner units spread over 20 units, so that 100 000 runs never break
unique(plan_task, period). Partner lists are cut to 0–3 units so that 100 000 processes
give about a million viewflow task rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import GENESIS, current_algorithm, event_hash
from plans import defaults, organisation, roles
from plans.models import (
    Appendix,
    Criterion,
    CriterionGroup,
    Membership,
    Plan,
    PlanTask,
    ReportingPeriod,
    Section,
    Unit,
)
from workflow.models import Notification, PeriodTask, Step, TaskProcess

UTC = dt.UTC
SEED_PLAN = Path(settings.BASE_DIR) / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"
PERIOD_CODES = ("Q1", "H1", "Q3", "Y")
DEPARTMENTS_PER_YEAR = 20
UNIT_COUNT = 20
USER_COUNT = 400
BENCH_PASSWORD = "cchc-bench-2024"  # noqa: S105 - documented, bench databases only

# Units beyond the seven of the seed: a department of 20 units.
EXTRA_UNITS: list[defaults.UnitSeed] = [
    {"name": name, "short_name": short, "kind": kind, "aliases": []}
    for name, short, kind in [
        ("Phòng Kinh tế đối ngoại", "KTDN", defaults.DIVISION),
        ("Phòng Năng lượng tái tạo", "NLTT", defaults.DIVISION),
        ("Phòng Hóa chất", "HC", defaults.DIVISION),
        ("Phòng Xuất nhập khẩu", "XNK", defaults.DIVISION),
        ("Phòng Thương mại điện tử", "TMDT", defaults.DIVISION),
        ("Phòng Pháp chế", "PC", defaults.DIVISION),
        ("Phòng Tổ chức cán bộ", "TCCB", defaults.DIVISION),
        ("Phòng Công nghiệp hỗ trợ", "CNHT", defaults.DIVISION),
        ("Phòng Kỹ thuật an toàn môi trường", "KTAT", defaults.DIVISION),
        ("Phòng Cơ khí - Luyện kim", "CKLK", defaults.DIVISION),
        ("Phòng Quản lý điện", "QLD", defaults.DIVISION),
        ("Trung tâm Tư vấn phát triển công nghiệp", "TTTV", defaults.CENTRE),
        ("Trung tâm Xúc tiến đầu tư", "TTXT", defaults.CENTRE),
    ]
]

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Thanh", "Ngọc", "Quang", "Thùy", "Kim", "Xuân"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hoa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Trung",
    "Tuấn",
    "Vân",
    "Việt",
    "Yến",
    "Hiếu",
    "Lộc",
    "Nhung",
    "Oanh",
    "Tú",
    "Thắng",
]

LEAD_RESULTS = [
    "Đã triển khai {n} văn bản hướng dẫn; tổ chức {m} cuộc kiểm tra tại cơ sở, kết quả đạt yêu cầu.",
    "Hoàn thành rà soát {n} thủ tục hành chính, đề xuất đơn giản hóa {m} thủ tục.",
    "Đã cập nhật {n} hồ sơ lên Cổng dịch vụ công; tỷ lệ hồ sơ trực tuyến đạt {m}%.",
    "Tổ chức {m} lớp tập huấn cho {n} lượt cán bộ, công chức của Sở.",
    "Ban hành kế hoạch thực hiện; đã báo cáo UBND tỉnh {m} lần, tiến độ đạt {n}%.",
]
EXPLANATIONS = [
    "Tài liệu kiểm chứng lưu tại hồ sơ giấy của đơn vị, số lưu {n}/{m}.",
    "Văn bản đã đăng tải trên Cổng thông tin điện tử của Sở (mục Văn bản chỉ đạo).",
    "Đính kèm bản giấy theo Công văn số {n}/SCT-VP ngày {m}.",
]
PARTNER_OPINIONS = [
    "Nhất trí với kết quả của đơn vị chủ trì.",
    "Đề nghị bổ sung số liệu quý trước để so sánh.",
    "Thống nhất; đề nghị nêu rõ tỷ lệ hoàn thành.",
]
RETURN_REASONS = [
    "Thiếu số liệu kiểm chứng, đề nghị bổ sung.",
    "Tự đánh giá chưa phù hợp với kết quả thực hiện.",
    "Đề nghị làm rõ tiến độ so với kế hoạch.",
]

# Step kinds and their labels, as Step.get_kind_display() gives them.
KIND_LABELS = {k.value: str(k.label) for k in Step.Kind}


# --- small helpers ----------------------------------------------------------------------


class Progress:
    """A plain progress bar on stderr: "\\r[#####.....] 45% 45 000/100 000 quy trình · 12 s"."""

    def __init__(self, total: int, label: str, stream: Any = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.done = 0
        self._last = 0.0

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not force and now - self._last < 0.25 and done < self.total:
            return
        self._last = now
        share = min(done / self.total, 1.0)
        filled = int(round(share * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        text = f"\r[{bar}] {share * 100:3.0f}% {done:,}/{self.total:,} {self.label} · {now - self.started:,.0f} s"
        self.stream.write(text.replace(",", " ") + (f" {extra}" if extra else "") + "   ")
        self.stream.flush()

    def finish(self, extra: str = "") -> None:
        self.update(self.done, extra, force=True)
        self.stream.write("\n")
        self.stream.flush()


class _Ids:
    """Primary keys handed out in Python (the sequences are moved past them afterwards)."""

    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self) -> int:
        value = self.next
        self.next += 1
        return value


def _max_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - table names are ours
        return cursor.fetchone()[0]


def _reset_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
            f'GREATEST((SELECT COALESCE(MAX(id), 0) FROM "{table}"), 1))'
        )


def _copy(table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows into a table (psycopg 3); returns how many."""
    count = 0
    with connection.cursor() as cursor:
        sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def _deferred_checks_off() -> None:
    """Skip the per-row foreign-key triggers for this transaction (the rows are consistent by
    construction; ``integrity_problems()`` checks afterwards). Needs a superuser; without
    one the checks simply run."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _json(value: Any) -> str:
    if not value:
        return "{}"
    if len(value) == 1 and "unit_id" in value:
        return f'{{"unit_id": {value["unit_id"]}}}'
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str  # roles.display_name(), as the audit trail copies it
    unit_name: str
    role_label: str


@dataclass
class TaskInfo:
    id: int
    text: str
    leads: list[int]  # ordered as selectors.lead_unit_ids orders them
    partners: list[int]  # selectors.partner_unit_ids (leads excluded)

    @property
    def signoff_unit(self) -> int | None:
        return self.leads[0] if len(self.leads) == 1 else None


@dataclass
class PeriodInfo:
    id: int
    code: str
    deadline: dt.date
    label: str


@dataclass
class PlanInfo:
    id: int
    year: int
    tasks: list[TaskInfo]
    periods: dict[str, PeriodInfo]


EVENT_COLUMNS = (
    "id",
    "seq",
    "created_at",
    "actor_id",
    "actor_name",
    "actor_unit",
    "actor_role",
    "action",
    "period_task_id",
    "step_id",
    "reason",
    "data",
    "prev_hash",
    "hash",
    "algorithm",
)


class _Event:
    """What ``audit.services._canonical`` reads from an event, without a model instance."""

    __slots__ = EVENT_COLUMNS

    # Set by ``Generator._flush`` when the event takes its place in the chain.
    id: int
    seq: int
    prev_hash: str
    hash: str
    algorithm: str

    def __init__(self, created_at: dt.datetime, actor: Person | None, action: str, **kw: Any) -> None:
        self.created_at = created_at
        self.actor_id = actor.id if actor else None
        self.actor_name = actor.name if actor else "hệ thống"
        self.actor_unit = actor.unit_name if actor else ""
        self.actor_role = actor.role_label if actor else ""
        self.action = action
        self.period_task_id = kw.get("period_task_id")
        self.step_id = kw.get("step_id")
        self.reason = kw.get("reason", "")
        self.data = kw.get("data") or {}


# --- the flow's shape ---------------------------------------------------------------------


def _flow_refs() -> dict[str, str]:
    from viewflow.workflow.fields import get_flow_ref, get_task_ref

    from workflow.flows import ReportFlow

    refs = {"flow": get_flow_ref(ReportFlow)}
    for name in (
        "start",
        "lead_split",
        "lead",
        "lead_join",
        "partners_needed",
        "partner_split",
        "partner",
        "partner_join",
        "review",
        "review_result",
        "sign_off",
        "sign_off_result",
        "end",
    ):
        refs[name] = get_task_ref(getattr(ReportFlow, name))
    return refs


FIRST_TOKEN = "start"  # noqa: S105 - viewflow's token outside any split, not a secret

NODE_TYPES = {
    "start": "START",
    "lead_split": "PARALLEL_GATEWAY",
    "partner_split": "PARALLEL_GATEWAY",
    "lead": "HUMAN",
    "partner": "HUMAN",
    "review": "HUMAN",
    "sign_off": "HUMAN",
    "lead_join": "JOIN",
    "partner_join": "JOIN",
    "partners_needed": "EXCLUSIVE_GATEWAY",
    "review_result": "SWITCH",
    "sign_off_result": "SWITCH",
    "end": "END",
}

PROCESS_COLUMNS = ("id", "flow_class", "status", "created", "finished", "data")
TASK_COLUMNS = (
    "id",
    "process_id",
    "flow_task",
    "flow_task_type",
    "status",
    "created",
    "started",
    "finished",
    "token",
    "owner_id",
    "owner_permission",
    "owner_permission_content_type_id",
    "owner_permission_obj_pk",
    "assigned",
    "data",
)
PREVIOUS_COLUMNS = ("from_task_id", "to_task_id")
PERIODTASK_COLUMNS = (
    "id",
    "plan_task_id",
    "period_id",
    "process_id",
    "stage",
    "round",
    "launched_by_id",
    "launched_at",
    "started_at",
    "completed_at",
)
STEP_COLUMNS = (
    "id",
    "task_id",
    "period_task_id",
    "kind",
    "unit_id",
    "round",
    "state",
    "assignee_id",
    "due_date",
    "created_at",
    "result",
    "self_assessment",
    "explanation",
    "no_opinion",
    "decision",
    "reason",
    "ask_partners_again",
    "draft_saved_at",
    "submitted_by_id",
    "submitted_at",
)
NOTIFICATION_COLUMNS = ("id", "user_id", "step_id", "message", "url", "created_at", "read_at")

SNAPSHOT_FIELDS = (
    "result",
    "self_assessment",
    "explanation",
    "no_opinion",
    "decision",
    "reason",
    "ask_partners_again",
)


class _PeriodTaskRow(TypedDict):
    """A ``workflow_periodtask`` row as ``_simulate`` builds it (PERIODTASK_COLUMNS)."""

    id: int
    plan_task_id: int
    period_id: int
    process_id: int
    stage: str
    round: int
    launched_by_id: int | None
    launched_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


@dataclass
class _Human:
    kind: str
    task: dict[str, Any]
    step: dict[str, Any]
    notification: dict[str, Any]


@dataclass
class _Fate:
    done: bool
    returns: list[tuple[str, Any]]  # ("review", ask_partners_again) / ("sign_off", "office"|"lead")
    stop_kind: str | None = None
    stop_after: int = 0  # steps of stop_kind completed in the last round before it stops


@dataclass
class Counts:
    processes: int = 0
    tasks: int = 0
    previous: int = 0
    steps: int = 0
    events: int = 0
    notifications: int = 0
    plans: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- the generator ----------------------------------------------------------------------


class Generator:
    """Generates ``total`` processes as a stream, oldest reporting period first, ending with
    the current period; ``generate_until(n)`` writes the stream's first n (call it again
    with a larger n to grow the same data set)."""

    def __init__(
        self,
        *,
        total: int,
        seed: int = 20_241_127,
        departments: int = DEPARTMENTS_PER_YEAR,
        open_share: float = 0.4,
        progress: Callable[[int, str], Progress] | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.total = total
        self.seed = seed
        self.departments = departments
        self.open_share = open_share
        self.now = (now or timezone.now()).astimezone(UTC)
        self.make_progress = progress or (lambda total, label: Progress(total, label))
        self.generated = 0
        self.counts = Counts()
        self._cursor = (0, 0, 0)  # batch, department, task
        self._plans: dict[tuple[int, int], PlanInfo] = {}
        self._rng = random.Random(seed)  # noqa: S311
        self._base_ready = False

    # --- base: units, people, the template plan -------------------------------------------

    def ensure_base(self) -> None:
        """Roles, 20 units, 400 people, the seed plan; refuses a database that has plans or people."""
        if self._base_ready:
            return
        User = get_user_model()
        if Plan.objects.exists() or User.objects.exists() or PeriodTask.objects.exists():
            raise RuntimeError(
                "Cơ sở dữ liệu đã có dữ liệu (kế hoạch, người dùng hoặc quy trình): bench chỉ sinh dữ liệu vào "
                "một cơ sở dữ liệu trống."
            )
        organisation.roles_ensure()
        organisation.units_seed(seeds=defaults.DEFAULT_UNITS)
        self._import_template()
        organisation.units_seed(seeds=[*defaults.DEFAULT_UNITS, *EXTRA_UNITS])
        self.units = list(Unit.objects.order_by("order", "pk"))
        assert len(self.units) == UNIT_COUNT, len(self.units)
        self.unit_by_id = {u.pk: u for u in self.units}
        self.unit_rank = {u.pk: (u.order, u.pk) for u in self.units}
        self.unit_ct = ContentType.objects.get_for_model(Unit).pk
        self._create_people()
        self.refs = _flow_refs()
        self.step_url = reverse("workflow:step", args=[987_654_321]).replace("987654321", "{}")
        self._base_ready = True

    def _batches(self) -> list[tuple[int, str]]:
        """The (year, period code) of each batch, oldest first, the last one being the current period."""
        per_batch = self.departments * self.template_task_count
        needed = max(1, math.ceil(self.total / per_batch))
        today = self.now.date()
        found: list[tuple[int, str]] = []
        year = today.year + 1
        while len(found) < needed:
            for code in reversed(PERIOD_CODES):
                if self._window(year, code)[0].date() < today and len(found) < needed:
                    found.append((year, code))
            year -= 1
        return list(reversed(found))

    @staticmethod
    def _deadline(year: int, code: str) -> dt.date:
        month, day = settings.PERIOD_DEADLINES[code]
        return dt.date(year, month, day)

    def _window(self, year: int, code: str) -> tuple[dt.datetime, dt.datetime]:
        """When a period's events happen: from 45 days before its deadline to 20 days after."""
        deadline = self._deadline(year, code)
        start = dt.datetime.combine(deadline - dt.timedelta(days=45), dt.time(1, 0), tzinfo=UTC)
        end = dt.datetime.combine(deadline + dt.timedelta(days=20), dt.time(10, 0), tzinfo=UTC)
        return start, min(end, self.now - dt.timedelta(minutes=5))

    def _import_template(self) -> None:
        from plans.parsing import parse_upload
        from plans.services import plan_import, unit_directory

        data = SEED_PLAN.read_bytes()
        parsed = parse_upload(SEED_PLAN.name, data, unit_directory())
        self.template_task_count = len(parsed.tasks)
        # The stream's first year, known once the task count is: the template is its first plan.
        self.batches = self._batches()
        self.first_year = self.batches[0][0]
        report = plan_import(
            parsed=parsed,
            year=self.first_year,
            source_name=SEED_PLAN.name,
            source_sha256=hashlib.sha256(data).hexdigest(),
        )
        assert report.plan is not None  # a real import (not a dry run) has its plan
        self.template_plan_id = report.plan.pk

    def _create_people(self) -> None:
        """400 people: a director, 4 deputies (5 units each), 3 auditors, 6 office reviewers
        (members of Văn phòng Sở) and a head plus staff in every unit."""
        User = get_user_model()
        rng = random.Random(self.seed + 1)  # noqa: S311
        password = make_password(BENCH_PASSWORD)
        groups = {g.name: g for g in Group.objects.all()}
        specs: list[dict[str, Any]] = [{"username": "giamdoc", "global": [roles.DIRECTOR]}]
        specs += [{"username": f"phogiamdoc{i}", "global": [roles.DEPUTY_DIRECTOR]} for i in range(1, 5)]
        specs += [{"username": f"kiemtra{i}", "global": [roles.AUDITOR]} for i in range(1, 4)]
        office = next(u for u in self.units if u.short_name == "VP")
        specs += [
            {"username": f"vanphong{i}", "unit": office, "head": False, "global": [roles.OFFICE_REVIEWER]}
            for i in range(1, 7)
        ]
        remaining = USER_COUNT - len(specs)
        per_unit = [
            remaining // UNIT_COUNT + (1 if i < remaining % UNIT_COUNT else 0) for i in range(UNIT_COUNT)
        ]
        unit: Unit | None  # below, a spec's unit: the global roles (director, deputies, auditors) have none
        for unit, size in zip(self.units, per_unit, strict=True):
            slug = unit.short_name.lower()
            specs.append({"username": f"{slug}.tp", "unit": unit, "head": True, "global": []})
            specs += [
                {"username": f"{slug}.cv{i:02d}", "unit": unit, "head": False, "global": []}
                for i in range(1, size)
            ]
        users = []
        for spec in specs:
            users.append(
                User(
                    username=spec["username"],
                    first_name=rng.choice(GIVEN),
                    last_name=f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)}",
                    email=f"{spec['username']}@sct.local",
                    password=password,
                )
            )
        User.objects.bulk_create(users, batch_size=500)
        by_name = {u.username: u for u in User.objects.filter(username__in=[s["username"] for s in specs])}
        memberships, links = [], []
        through = User.groups.through
        events: list[_Event] = []
        when = self._window(*self.batches[0])[0] - dt.timedelta(days=30)
        for spec in specs:
            user = by_name[spec["username"]]
            spec["user"] = user
            for role in spec["global"]:
                links.append(through(user_id=user.pk, group_id=groups[role].pk))
                events.append(_Event(when, None, "role_changed", data={"user": user.username, "added": role}))
            unit = spec.get("unit")
            if unit is not None:
                role = Membership.Role.HEAD if spec["head"] else Membership.Role.STAFF
                memberships.append(Membership(user=user, unit=unit, role=role))
                links.append(through(user_id=user.pk, group_id=groups[unit.member_group_name].pk))
                links.append(
                    through(
                        user_id=user.pk, group_id=groups[roles.UNIT_HEAD if spec["head"] else roles.STAFF].pk
                    )
                )
                if spec["head"]:
                    links.append(through(user_id=user.pk, group_id=groups[unit.head_group_name].pk))
                events.append(
                    _Event(
                        when,
                        None,
                        "membership_changed",
                        data={
                            "user": user.username,
                            "before": None,
                            "after": {"unit": unit.name, "role": role},
                        },
                    )
                )
        Membership.objects.bulk_create(memberships)
        through.objects.bulk_create(links, batch_size=1000)
        # Deputies oversee five units each (guardian object permissions, as deputy_set_units grants).
        from guardian.models import UserObjectPermission

        sign_off = Permission.objects.get(content_type__app_label="plans", codename="sign_off_unit")
        deputies = [s["user"] for s in specs if roles.DEPUTY_DIRECTOR in s["global"]]
        grants = []
        self.deputy_for_unit: dict[int, int] = {}
        for index, unit in enumerate(self.units):
            deputy = deputies[index % len(deputies)]
            self.deputy_for_unit[unit.pk] = deputy.pk
            grants.append(
                UserObjectPermission(
                    user=deputy, permission=sign_off, content_type_id=self.unit_ct, object_pk=str(unit.pk)
                )
            )
        UserObjectPermission.objects.bulk_create(grants)
        for deputy in deputies:
            names = [u.name for u in self.units if self.deputy_for_unit[u.pk] == deputy.pk]
            events.append(
                _Event(
                    when,
                    None,
                    "role_changed",
                    data={"user": deputy.username, "oversees_before": [], "oversees_after": names},
                )
            )

        # Who is who, as the audit trail copies it (plans.roles.Roles.label).
        self.people: dict[int, Person] = {}
        self.members: dict[int, list[int]] = {u.pk: [] for u in self.units}
        self.heads: dict[int, int] = {}
        for spec in specs:
            user = spec["user"]
            unit = spec.get("unit")
            label = roles.Roles(
                groups=frozenset(spec["global"] + ([] if unit is None else [unit.member_group_name])),
                unit=unit,
                is_head=bool(spec.get("head")),
            ).label
            self.people[user.pk] = Person(
                user.pk,
                user.username,
                roles.display_name(user),
                unit.name if unit else "",
                label,
            )
            if unit is not None and not spec["global"]:
                (
                    self.heads.__setitem__(unit.pk, user.pk)
                    if spec["head"]
                    else self.members[unit.pk].append(user.pk)
                )
        self.director = next(s["user"].pk for s in specs if roles.DIRECTOR in s["global"])
        self.reviewers = [s["user"].pk for s in specs if roles.OFFICE_REVIEWER in s["global"]]
        self.members[office.pk] += self.reviewers  # reviewers also work on the office's own tasks
        self._base_events = events

    # --- plans --------------------------------------------------------------------------------

    def _template(self) -> dict[str, Any]:
        if hasattr(self, "_template_cache"):
            return self._template_cache
        plan = Plan.objects.get(pk=self.template_plan_id)
        tasks = list(PlanTask.objects.filter(plan=plan).prefetch_related("lead_units", "partner_units"))
        self._template_cache: dict[str, Any] = {
            "plan": plan,
            "appendices": list(Appendix.objects.filter(plan=plan).order_by("number")),
            "sections": list(Section.objects.filter(appendix__plan=plan).order_by("pk")),
            "groups": list(CriterionGroup.objects.filter(section__appendix__plan=plan).order_by("pk")),
            "criteria": list(Criterion.objects.filter(section__appendix__plan=plan).order_by("pk")),
            "tasks": sorted(tasks, key=lambda t: t.position),
        }
        return self._template_cache

    def _task_info(self, task_id: int, text: str, leads: Iterable[int], partners: Iterable[int]) -> TaskInfo:
        leads = sorted(set(leads), key=self.unit_rank.__getitem__)
        partners = sorted(set(partners) - set(leads), key=self.unit_rank.__getitem__)
        return TaskInfo(task_id, text, leads, partners)

    def _periods_info(self, plan_id: int, year: int) -> dict[str, PeriodInfo]:
        return {
            p.code: PeriodInfo(p.pk, p.code, p.deadline, f"{p.get_code_display()}/{year}")
            for p in ReportingPeriod.objects.filter(plan_id=plan_id)
        }

    def _plan(self, year: int, department: int, events: list[_Event]) -> PlanInfo:
        key = (year, department)
        if key not in self._plans:
            # A year's plans are made together: one bulk insert per table for the whole year.
            wanted = [d for d in range(self.departments) if (year, d) not in self._plans]
            if year == self.first_year and 0 in wanted:
                template = self._template()
                self._plans[(year, 0)] = PlanInfo(
                    template["plan"].pk,
                    year,
                    [
                        self._task_info(
                            t.pk,
                            t.task,
                            [u.pk for u in t.lead_units.all()],
                            [u.pk for u in t.partner_units.all()],
                        )
                        for t in template["tasks"]
                    ],
                    self._periods_info(template["plan"].pk, year),
                )
                wanted.remove(0)
            if wanted:
                self._plans.update(self._clone(year, wanted, events))
        return self._plans[key]

    def _clone(
        self, year: int, departments: list[int], events: list[_Event]
    ) -> dict[tuple[int, int], PlanInfo]:
        """Copies of the seed plan for some department-years, their units spread over the 20 units."""
        from plans.periods import CUTOFFS

        t = self._template()
        src = t["plan"]
        unit_ids = [u.pk for u in self.units]
        plans = {
            d: Plan(
                title=f"Kế hoạch cải cách hành chính năm {year} – hồ sơ {d + 1:02d}",
                year=year,
                number=f"{d + 1}/KH-SCT",
                superior_body=src.superior_body,
                issuing_body=src.issuing_body,
                place=src.place,
                document_symbol=src.document_symbol,
                source_name=src.source_name,
                source_sha256=src.source_sha256,
                imported_at=dt.datetime(year, 1, 10, 2, 0, tzinfo=UTC) + dt.timedelta(minutes=d),
            )
            for d in departments
        }
        Plan.objects.bulk_create(plans.values())
        appendices = {
            (d, a.pk): Appendix(
                plan=plans[d], number=a.number, index=a.index, title=a.title, columns=a.columns
            )
            for d in departments
            for a in t["appendices"]
        }
        Appendix.objects.bulk_create(appendices.values())
        sections = {
            (d, s.pk): Section(
                appendix=appendices[d, s.appendix_id], code=s.code, title=s.title, order=s.order
            )
            for d in departments
            for s in t["sections"]
        }
        Section.objects.bulk_create(sections.values())
        groups = {
            (d, g.pk): CriterionGroup(
                section=sections[d, g.section_id], code=g.code, title=g.title, order=g.order
            )
            for d in departments
            for g in t["groups"]
        }
        CriterionGroup.objects.bulk_create(groups.values())
        criteria = {
            (d, c.pk): Criterion(
                section=sections[d, c.section_id],
                group=groups.get((d, c.group_id)),
                ordinal=c.ordinal,
                code=c.code,
                name=c.name,
                order=c.order,
            )
            for d in departments
            for c in t["criteria"]
        }
        Criterion.objects.bulk_create(criteria.values())

        def names(ids: list[int]) -> str:
            return "; ".join(self.unit_by_id[i].name for i in ids)

        new_tasks: dict[int, list[tuple[PlanTask, list[int], list[int]]]] = {d: [] for d in departments}
        for d in departments:
            rng = random.Random(f"{self.seed}:{year}:{d}")  # noqa: S311
            for src_task in t["tasks"]:
                several_leads = len(src_task.lead_units.all()) > 1
                leads = unit_ids if several_leads else [rng.choice(unit_ids)]
                partners: list[int] = []
                if src_task.partner_units.all():
                    others = [u for u in unit_ids if u not in leads]
                    partners = rng.sample(others, rng.choice([0, 1, 1, 2, 2, 3]))
                task = PlanTask(
                    plan=plans[d],
                    criterion=criteria[d, src_task.criterion_id],
                    key=src_task.key,
                    order=src_task.order,
                    target=src_task.target,
                    task=src_task.task,
                    lead_text=names(leads),
                    partner_text=names(partners),
                    timeline_text=src_task.timeline_text,
                    timeline_kind=src_task.timeline_kind,
                    due_date=src_task.due_date,
                    inherited=src_task.inherited,
                    search_text=src_task.search_text,
                    position=src_task.position,
                )
                new_tasks[d].append((task, leads, partners))
        PlanTask.objects.bulk_create(
            [task for rows in new_tasks.values() for task, _, _ in rows], batch_size=2000
        )
        lead_through = PlanTask.lead_units.through
        partner_through = PlanTask.partner_units.through
        lead_through.objects.bulk_create(
            [
                lead_through(plantask_id=task.pk, unit_id=u)
                for rows in new_tasks.values()
                for task, leads, _ in rows
                for u in leads
            ],
            batch_size=5000,
        )
        named_through = PlanTask.partner_units_named.through  # the text names each one
        partner_through.objects.bulk_create(
            [
                partner_through(plantask_id=task.pk, unit_id=u)
                for rows in new_tasks.values()
                for task, _, partners in rows
                for u in partners
            ],
            batch_size=5000,
        )
        named_through.objects.bulk_create(
            [
                named_through(plantask_id=task.pk, unit_id=u)
                for rows in new_tasks.values()
                for task, _, partners in rows
                for u in partners
            ],
            batch_size=5000,
        )
        periods = {
            (d, code): ReportingPeriod(
                plan=plans[d],
                code=code,
                deadline=self._deadline(year, code),
                cutoff=dt.date(year, *CUTOFFS[code]),
                include_year_tasks=code == "Y",
            )
            for d in departments
            for code in PERIOD_CODES
        }
        ReportingPeriod.objects.bulk_create(periods.values())
        self.counts.plans += len(departments)
        result = {}
        n_structure = len(t["appendices"]) + len(t["sections"]) + len(t["groups"]) + len(t["criteria"])
        for d in departments:
            plan = plans[d]
            rows = new_tasks[d]
            assert plan.imported_at is not None  # set on every clone above
            events.append(
                _Event(
                    plan.imported_at,
                    None,
                    "plan_imported",
                    data={
                        "plan": plan.pk,
                        "year": year,
                        "source_name": src.source_name,
                        "sha256": src.source_sha256,
                        "appendices": len(t["appendices"]),
                        "tasks": len(rows),
                        "inherited_cells": sum(len(task.inherited) for task, _, _ in rows),
                        "added": len(rows),
                        "changed": 0,
                        "removed": 0,
                        "structure_changes": n_structure,
                    },
                )
            )
            result[year, d] = PlanInfo(
                plan.pk,
                year,
                [self._task_info(task.pk, task.task, leads, partners) for task, leads, partners in rows],
                {
                    code: PeriodInfo(
                        periods[d, code].pk,
                        code,
                        periods[d, code].deadline,
                        f"{ReportingPeriod.Code(code).label}/{year}",
                    )
                    for code in PERIOD_CODES
                },
            )
        return result

    # --- processes ------------------------------------------------------------------------------

    def generate_until(self, target: int) -> Counts:
        """Write the stream's processes up to ``target`` in all; returns what this call wrote."""
        self.ensure_base()
        target = min(target, self.total)
        before = Counts(**vars(self.counts))
        self._ids = {
            "process": _Ids(_max_id("viewflow_process") + 1),
            "task": _Ids(_max_id("viewflow_task") + 1),
            "period_task": _Ids(_max_id("workflow_periodtask") + 1),
            "step": _Ids(_max_id("workflow_step") + 1),
            "event": _Ids(_max_id("workflow_auditevent") + 1),
            "notification": _Ids(_max_id("workflow_notification") + 1),
        }
        last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        self._chain = (last["seq"], last["hash"]) if last else (0, GENESIS)
        progress = self.make_progress(target - self.generated, "quy trình")
        start_count = self.generated
        events: list[_Event] = list(getattr(self, "_base_events", []))
        self._base_events = []
        self._reset_rows()
        batch_index, department, task_index = self._cursor
        while self.generated < target and batch_index < len(self.batches):
            year, code = self.batches[batch_index]
            window = self._window(year, code)
            rng = random.Random(f"{self.seed}:{year}:{code}:{department}:{task_index}")  # noqa: S311
            plan = self._plan(year, department, events)
            period = plan.periods[code]
            while task_index < len(plan.tasks) and self.generated < target:
                self._simulate(plan.tasks[task_index], period, window, rng, events)
                self.generated += 1
                task_index += 1
            if task_index >= len(plan.tasks):
                task_index = 0
                department += 1
                if department >= self.departments:
                    department = 0
                    batch_index += 1
                    self._flush(events)
                    events = []
            progress.update(self.generated - start_count)
        self._cursor = (batch_index, department, task_index)
        self._flush(events)
        for table in (
            "viewflow_process",
            "viewflow_task",
            "workflow_periodtask",
            "workflow_step",
            "workflow_auditevent",
            "workflow_notification",
        ):
            _reset_sequence(table)
        progress.finish()
        written = Counts(**vars(self.counts))
        for name in written.__dataclass_fields__:
            setattr(written, name, getattr(self.counts, name) - getattr(before, name))
        return written

    def analyze(self) -> None:
        """VACUUM ANALYZE what was written, as autovacuum would have done on a live database."""
        with connection.cursor() as cursor:
            for table in (
                "viewflow_process",
                "viewflow_task",
                "viewflow_task_previous",
                "workflow_periodtask",
                "workflow_step",
                "workflow_auditevent",
                "workflow_notification",
                "plans_plantask",
                "plans_plantask_lead_units",
                "plans_plantask_partner_units",
                "plans_reportingperiod",
                "plans_plan",
            ):
                cursor.execute(f'VACUUM (ANALYZE) "{table}"')

    def _reset_rows(self) -> None:
        self._rows: dict[str, list[Any]] = {
            "process": [],
            "task": [],
            "previous": [],
            "period_task": [],
            "step": [],
            "notification": [],
        }

    def _flush(self, events: list[_Event]) -> None:
        rows = self._rows
        events.sort(key=lambda e: e.created_at)
        seq, prev = self._chain
        new_ids = self._ids["event"]
        for event in events:
            seq += 1
            event.seq = seq
            event.prev_hash = prev
            event.id = new_ids()
            event.algorithm = current_algorithm()
            event.hash = prev = event_hash(event)
        self._chain = (seq, prev)
        with transaction.atomic():
            _deferred_checks_off()
            c = self.counts
            c.processes += _copy(
                "viewflow_process",
                PROCESS_COLUMNS,
                (
                    (p["id"], self.refs["flow"], p["status"], p["created"], p["finished"], _json(p["data"]))
                    for p in rows["process"]
                ),
            )
            c.tasks += _copy(
                "viewflow_task",
                TASK_COLUMNS,
                (
                    (
                        t["id"],
                        t["process_id"],
                        self.refs[t["node"]],
                        NODE_TYPES[t["node"]],
                        t["status"],
                        t["created"],
                        t["started"],
                        t["finished"],
                        t["token"],
                        t["owner_id"],
                        t["perm"],
                        t["perm_ct"],
                        t["perm_obj"],
                        t["assigned"],
                        _json(t["data"]),
                    )
                    for t in rows["task"]
                ),
            )
            c.previous += _copy("viewflow_task_previous", PREVIOUS_COLUMNS, rows["previous"])
            _copy(
                "workflow_periodtask",
                PERIODTASK_COLUMNS,
                (tuple(pt[k] for k in PERIODTASK_COLUMNS) for pt in rows["period_task"]),
            )
            c.steps += _copy(
                "workflow_step", STEP_COLUMNS, (tuple(s[k] for k in STEP_COLUMNS) for s in rows["step"])
            )
            c.events += _copy(
                "workflow_auditevent",
                EVENT_COLUMNS,
                (
                    (
                        e.id,
                        e.seq,
                        e.created_at,
                        e.actor_id,
                        e.actor_name,
                        e.actor_unit,
                        e.actor_role,
                        e.action,
                        e.period_task_id,
                        e.step_id,
                        e.reason,
                        _json(e.data),
                        e.prev_hash,
                        e.hash,
                        e.algorithm,
                    )
                    for e in events
                ),
            )
            c.notifications += _copy(
                "workflow_notification",
                NOTIFICATION_COLUMNS,
                (tuple(n[k] for k in NOTIFICATION_COLUMNS) for n in rows["notification"]),
            )
        self._reset_rows()

    # --- one process ------------------------------------------------------------------------------

    def _fate(self, rng: random.Random, info: TaskInfo) -> _Fate:
        done = rng.random() >= self.open_share
        returns: list[tuple[str, Any]] = []
        x = rng.random()
        if x < 0.08:
            returns.append(("review", rng.random() < 0.5))
        elif x < 0.11:
            returns.append(("sign_off", "office"))
        elif x < 0.14:
            returns.append(("sign_off", "lead"))
        if done:
            return _Fate(True, returns)
        kind = rng.choices(["lead", "partner", "review", "sign_off"], weights=[45, 20, 20, 15])[0]
        if kind == "partner" and not info.partners:
            kind = "lead"
        if kind == "partner":
            # The last round must ask the partners again, or it would never reach them.
            returns = [("review", True)] if returns else []
        stop_after = 0
        if kind == "lead" and len(info.leads) > 1:
            stop_after = rng.randrange(len(info.leads))
        elif kind == "partner":
            stop_after = rng.randrange(len(info.partners))
        return _Fate(False, returns, kind, stop_after)

    def _actor_for(self, rng: random.Random, kind: str, unit_id: int | None) -> tuple[int, int | None]:
        """(who does the step, the unit head who assigned it or None if they claimed it)."""
        if kind in ("lead", "partner"):
            assert unit_id is not None  # a lead or partner step is always a unit's
            members = self.members[unit_id]
            head = self.heads[unit_id]
            if rng.random() < 0.12:
                return head, None
            return rng.choice(members), (head if rng.random() < 0.2 else None)
        if kind == "review":
            return rng.choice(self.reviewers), None
        if unit_id is not None and rng.random() < 0.8:
            return self.deputy_for_unit[unit_id], None
        return self.director, None

    def _simulate(
        self,
        info: TaskInfo,
        period: PeriodInfo,
        window: tuple[dt.datetime, dt.datetime],
        rng: random.Random,
        events: list[_Event],
    ) -> None:
        ids = self._ids
        rows = self._rows
        refs_unit_ct = self.unit_ct
        start, cap = window
        span = max((cap - start).total_seconds(), 3600.0)
        pace = span / 40 * rng.choice([1, 1, 1, 1.5, 2.5, 4])
        clock = [start + dt.timedelta(seconds=rng.uniform(0, 0.15) * span)]

        def tick(seconds: float = 0.0) -> dt.datetime:
            value = clock[0] + dt.timedelta(seconds=seconds + 0.000_001 + 0.000_9 * rng.random())
            clock[0] = value if value < cap else cap
            return clock[0]

        def think() -> dt.datetime:
            return tick((0.05 + 0.95 * rng.random()) * pace)

        fate = self._fate(rng, info)
        process_id = ids["process"]()
        period_task_id = ids["period_task"]()
        data: dict[str, Any] = {}  # TaskProcess's jsonstore fields, as the services write them
        now = clock[0]
        process = {"id": process_id, "status": "NEW", "created": now, "finished": None, "data": data}
        rows["process"].append(process)
        launcher = rng.choice(self.reviewers) if rng.random() < 0.9 else None
        pt: _PeriodTaskRow = {
            "id": period_task_id,
            "plan_task_id": info.id,
            "period_id": period.id,
            "process_id": process_id,
            "stage": "lead",
            "round": 1,
            "launched_by_id": launcher,
            "launched_at": now,
            "started_at": None,
            "completed_at": None,
        }
        rows["period_task"].append(pt)

        def task(
            node: str, status: str, token: str = FIRST_TOKEN, prev: Iterable[int] = (), **kw: Any
        ) -> dict[str, Any]:
            at = tick(0.001)
            row = {
                "id": ids["task"](),
                "process_id": process_id,
                "node": node,
                "status": status,
                "created": at,
                "started": at
                if status in ("DONE", "STARTED") and NODE_TYPES[node] not in _NO_START
                else None,
                "finished": at if status == "DONE" else None,
                "token": token,
                "owner_id": None,
                "perm": None,
                "perm_ct": None,
                "perm_obj": None,
                "assigned": None,
                "data": {},
            }
            row.update(kw)
            rows["task"].append(row)
            for p in prev:
                rows["previous"].append((row["id"], p))
            return row

        queue: deque[_Human] = deque()
        last_lead_text: dict[int, tuple[str, str, str]] = {}
        joins: dict[str, dict[str, Any]] = {}
        expected: dict[str, int] = {}
        arrived: dict[str, int] = {}
        done_in_round: dict[str, int] = {}
        returns = list(fate.returns)

        def human(kind: str, prev: int, token: str = FIRST_TOKEN, unit_id: int | None = None) -> None:
            if kind in ("lead", "partner"):
                perm, perm_ct, perm_obj, tdata = (
                    "plans.work_on_unit",
                    refs_unit_ct,
                    str(unit_id),
                    {"unit_id": unit_id},
                )
                step_unit = unit_id
            elif kind == "review":
                perm, perm_ct, perm_obj, tdata, step_unit = (
                    "workflow.review_taskprocess",
                    None,
                    None,
                    {},
                    None,
                )
            else:
                step_unit = info.signoff_unit
                perm, tdata = "plans.sign_off_unit", {}
                perm_ct, perm_obj = (refs_unit_ct, str(step_unit)) if step_unit else (None, None)
            row = task(kind, "NEW", token, [prev], perm=perm, perm_ct=perm_ct, perm_obj=perm_obj, data=tdata)
            at = row["created"]
            step = {
                "id": ids["step"](),
                "task_id": row["id"],
                "period_task_id": period_task_id,
                "kind": kind,
                "unit_id": step_unit,
                "round": pt["round"],
                "state": "open",
                "assignee_id": None,
                "due_date": period.deadline + dt.timedelta(days=settings.STEP_DUE_OFFSETS[kind]),
                "created_at": at,
                "result": "",
                "self_assessment": "",
                "explanation": "",
                "no_opinion": False,
                "decision": "",
                "reason": "",
                "ask_partners_again": False,
                "draft_saved_at": None,
                "submitted_by_id": None,
                "submitted_at": None,
            }
            if kind == "lead" and pt["round"] > 1 and unit_id in last_lead_text:
                step["result"], step["self_assessment"], step["explanation"] = last_lead_text[unit_id]
            rows["step"].append(step)
            pt["stage"] = kind
            unit_text = f" ({self.unit_by_id[step_unit].name})" if step_unit else ""
            if kind in ("lead", "partner"):
                assert step_unit is not None  # a lead or partner step is always a unit's
                recipient = rng.choice(self.members[step_unit])
            elif kind == "review":
                recipient = rng.choice(self.reviewers)
            else:
                recipient = self.deputy_for_unit[step_unit] if step_unit else self.director
            note = {
                "id": ids["notification"](),
                "user_id": recipient,
                "step_id": step["id"],
                "message": f"Việc mới – {KIND_LABELS[kind]}{unit_text}: {info.text[:150]} – kỳ {period.label}"[
                    :500
                ],
                "url": self.step_url.format(step["id"]),
                "created_at": at,
                "read_at": None,
            }
            rows["notification"].append(note)
            queue.append(_Human(kind, row, step, note))

        def split(kind: str, prev: int) -> None:
            node = f"{kind}_split"
            units = info.leads if kind == "lead" else info.partners
            gateway = task(node, "DONE", "start", [prev])
            expected[kind] = len(units)
            arrived[kind] = 0
            joins.pop(kind, None)
            done_in_round[kind] = 0
            for n, unit_id in enumerate(units, start=1):
                human(kind, gateway["id"], f"start/{gateway['id']}_{n}", unit_id)

        def snapshot(step: dict[str, Any]) -> dict[str, Any]:
            return {name: step[name] for name in SNAPSHOT_FIELDS}

        def claim(h: _Human, actor: int, head: int | None) -> None:
            at = think()
            h.task.update(status="ASSIGNED", owner_id=actor, assigned=at)
            h.step["assignee_id"] = actor
            if head is None:
                events.append(
                    _Event(
                        at, self.people[actor], "claim", period_task_id=period_task_id, step_id=h.step["id"]
                    )
                )
            else:
                events.append(
                    _Event(
                        at,
                        self.people[head],
                        "assign",
                        period_task_id=period_task_id,
                        step_id=h.step["id"],
                        data={"from": None, "to": self.people[actor].username},
                    )
                )
                rows["notification"].append(
                    {
                        "id": ids["notification"](),
                        "user_id": actor,
                        "step_id": h.step["id"],
                        "message": f"Bạn được giao: {KIND_LABELS[h.kind]} – {info.text[:150]}",
                        "url": self.step_url.format(h.step["id"]),
                        "created_at": at,
                        "read_at": at + dt.timedelta(hours=2),
                    }
                )

        def lead_fields() -> dict[str, Any]:
            return {
                "result": rng.choice(LEAD_RESULTS).format(n=rng.randrange(2, 60), m=rng.randrange(1, 99)),
                "self_assessment": rng.choices(["done", "in_progress", "not_done"], weights=[70, 25, 5])[0],
                "explanation": rng.choice(EXPLANATIONS).format(
                    n=rng.randrange(10, 999), m=f"{rng.randrange(1, 28)}/{period.deadline.month}"
                ),
            }

        def draft(h: _Human, actor: int) -> None:
            at = think()
            before = snapshot(h.step)
            h.step.update(lead_fields())
            h.step["draft_saved_at"] = at
            if pt["started_at"] is None:
                pt["started_at"] = at
            events.append(
                _Event(
                    at,
                    self.people[actor],
                    "save_draft",
                    period_task_id=period_task_id,
                    step_id=h.step["id"],
                    data={"before": before, "after": snapshot(h.step)},
                )
            )

        def complete(h: _Human) -> None:
            step = h.step
            actor, head = self._actor_for(rng, h.kind, step["unit_id"])
            claim(h, actor, head)
            if h.kind == "lead" and rng.random() < 0.3:
                draft(h, actor)
            at = think()
            before = snapshot(step)
            reason = ""
            if h.kind == "lead":
                fields = lead_fields()
                if step["round"] > 1:
                    fields["result"] = "Bổ sung: " + fields["result"]
                step.update(fields)
                action = "submit"
                if info.partners:  # TaskProcess.lead_asks, with what the form proposes
                    proposed = data.get("partners_proposed") if step["round"] > 1 else None
                    asked = set(info.partners if proposed is None else proposed)
                    if data.get("partners_round") == step["round"]:
                        asked |= set(data.get("partners_asked", []))
                    data["partners_asked"] = [u for u in info.partners if u in asked]
                    data["partners_round"] = step["round"]
                last_lead_text[step["unit_id"]] = (
                    step["result"],
                    step["self_assessment"],
                    step["explanation"],
                )
            elif h.kind == "partner":
                if rng.random() < 0.4:
                    step.update(no_opinion=True, result="")
                else:
                    step.update(result=rng.choice(PARTNER_OPINIONS))
                action = "partner_input"
            elif h.kind == "review":
                if returns and returns[0][0] == "review":
                    _, ask = returns.pop(0)
                    reason = rng.choice(RETURN_REASONS)
                    step.update(decision="lead", reason=reason, ask_partners_again=ask)
                    data["review_approved"] = False
                    data["partners_proposed"] = list(data.get("partners_asked", [])) if ask else []
                    data["partners_asked"] = []
                    pt["round"] += 1
                    action = "return"
                else:
                    step.update(decision="approve", reason="", ask_partners_again=False)
                    data["review_approved"] = True
                    action = "approve"
            else:
                if returns and returns[0][0] == "sign_off":
                    _, where = returns.pop(0)
                    reason = rng.choice(RETURN_REASONS)
                    step.update(decision=where, reason=reason)
                    data["signoff_decision"] = where
                    if where == "lead":
                        data["partners_proposed"] = []
                    data["partners_asked"] = []
                    pt["round"] += 1
                    action = "return"
                else:
                    step.update(decision="approve", reason="")
                    data["signoff_decision"] = "approve"
                    data["partners_asked"] = []
                    pt["stage"] = "done"
                    pt["completed_at"] = at
                    action = "sign_off"
            step.update(state="done", submitted_by_id=actor, submitted_at=at)
            if pt["started_at"] is None:
                pt["started_at"] = at
            events.append(
                _Event(
                    at,
                    self.people[actor],
                    action,
                    period_task_id=period_task_id,
                    step_id=step["id"],
                    reason=reason,
                    data={"before": before, "after": snapshot(step), "evidence": []},
                )
            )
            h.task.update(status="DONE", started=at, finished=at)
            h.notification["read_at"] = min(at, h.notification["created_at"] + dt.timedelta(hours=1))
            done_in_round[h.kind] = done_in_round.get(h.kind, 0) + 1
            self._advance(h, task, human, split, joins, expected, arrived, data, process, info)

        initial = task("start", "DONE")
        events.append(
            _Event(
                initial["created"],
                self.people[launcher] if launcher else None,
                "launch",
                period_task_id=period_task_id,
                data={"plan_task": info.id, "period": period.code, "task": info.text[:200]},
            )
        )
        split("lead", initial["id"])
        while queue:
            h = queue[0]
            if (
                not fate.done
                and not returns
                and h.kind == fate.stop_kind
                and done_in_round.get(h.kind, 0) >= fate.stop_after
            ):
                break
            queue.popleft()
            complete(h)
        # Whatever is still open: some claimed (a few with a draft), the rest waiting in the queue.
        for h in queue:
            if rng.random() < 0.55:
                actor, head = self._actor_for(rng, h.kind, h.step["unit_id"])
                claim(h, actor, head)
                if h.kind == "lead" and rng.random() < 0.3:
                    draft(h, actor)

    def _advance(self, h, task, human, split, joins, expected, arrived, data, process, info) -> None:  # noqa: ANN001
        """The engine after a human task is done: joins, gateways and the next human tasks."""
        done = h.task
        if h.kind in ("lead", "partner"):
            node = f"{h.kind}_join"
            join = joins.get(h.kind)
            if join is None:
                join = task(node, "STARTED", "start", [done["id"]])
                joins[h.kind] = join
            else:
                self._rows["previous"].append((join["id"], done["id"]))
            arrived[h.kind] += 1
            if arrived[h.kind] < expected[h.kind]:
                return
            join["status"] = "DONE"
            join["finished"] = max(join["created"], done["finished"])
            if h.kind == "lead":
                gateway = task("partners_needed", "DONE", "start", [join["id"]])
                if data.get("partners_asked"):
                    split("partner", gateway["id"])
                else:
                    human("review", gateway["id"])
            else:
                human("review", join["id"])
            return
        if h.kind == "review":
            gateway = task("review_result", "DONE", "start", [done["id"]])
            if data.get("review_approved"):
                human("sign_off", gateway["id"])
            else:
                split("lead", gateway["id"])
            return
        switch = task("sign_off_result", "DONE", "start", [done["id"]])
        decision = data.get("signoff_decision")
        if decision == "approve":
            end = task("end", "DONE", "start", [switch["id"]])
            process["status"] = "DONE"
            process["finished"] = end["finished"]
        elif decision == "office":
            human("review", switch["id"])
        else:
            split("lead", switch["id"])


# Node types viewflow finishes without ever "starting" them (no ``started`` timestamp).
_NO_START = {"PARALLEL_GATEWAY", "EXCLUSIVE_GATEWAY", "SWITCH"}


def database_rows() -> dict[str, int]:
    """How big the data set is, as the tables see it."""
    from viewflow.workflow.models import Task

    return {
        "processes": TaskProcess.objects.count(),
        "tasks": Task.objects.count(),
        "steps": Step.objects.count(),
        "open_steps": Step.objects.filter(state=Step.State.OPEN).count(),
        "events": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "plans": Plan.objects.count(),
        "units": Unit.objects.count(),
        "users": get_user_model().objects.count(),
    }


INTEGRITY_CHECKS = {
    "task without process": "SELECT count(*) FROM viewflow_task t "
    "WHERE NOT EXISTS (SELECT 1 FROM viewflow_process p WHERE p.id = t.process_id)",
    "previous link to a missing task": "SELECT count(*) FROM viewflow_task_previous l "
    "WHERE NOT EXISTS (SELECT 1 FROM viewflow_task t WHERE t.id = l.from_task_id) "
    "OR NOT EXISTS (SELECT 1 FROM viewflow_task t WHERE t.id = l.to_task_id)",
    "period task without process": "SELECT count(*) FROM workflow_periodtask x "
    "WHERE NOT EXISTS (SELECT 1 FROM viewflow_process p WHERE p.id = x.process_id)",
    "step without task or period task": "SELECT count(*) FROM workflow_step s "
    "WHERE NOT EXISTS (SELECT 1 FROM viewflow_task t WHERE t.id = s.task_id) "
    "OR NOT EXISTS (SELECT 1 FROM workflow_periodtask x WHERE x.id = s.period_task_id)",
    "event pointing nowhere": "SELECT count(*) FROM workflow_auditevent e "
    "WHERE (e.step_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workflow_step s WHERE s.id = e.step_id)) "
    "OR (e.period_task_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM workflow_periodtask x WHERE x.id = e.period_task_id))",
    "notification without step": "SELECT count(*) FROM workflow_notification n "
    "WHERE n.step_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workflow_step s WHERE s.id = n.step_id)",
    "step whose task is another process's": "SELECT count(*) FROM workflow_step s "
    "JOIN viewflow_task t ON t.id = s.task_id JOIN workflow_periodtask x ON x.id = s.period_task_id "
    "WHERE t.process_id <> x.process_id",
}


def integrity_problems() -> dict[str, int]:
    """Rows that a foreign key (or the step/task/process triangle) would have refused: all must be 0."""
    found = {}
    with connection.cursor() as cursor:
        for name, sql in INTEGRITY_CHECKS.items():
            cursor.execute(sql)
            count = cursor.fetchone()[0]
            if count:
                found[name] = count
    return found


def process_shape(process_id: int) -> dict[str, Any]:
    """A process's rows with every id replaced by its position: two processes that went the
    same way through the flow have equal shapes whoever wrote them (the services or this module)."""
    from viewflow.workflow.models import Process, Task

    tasks = list(Task.objects.filter(process_id=process_id).order_by("created", "pk"))
    index = {t.pk: i for i, t in enumerate(tasks)}
    steps = {s.task_id: s for s in Step.objects.filter(task__process_id=process_id)}

    def token(value: str) -> str:
        parts = str(value).split("/")
        return "/".join(
            [parts[0], *(f"{index.get(int(p.split('_')[0]), '?')}_{p.split('_')[1]}" for p in parts[1:])]
        )

    rows = []
    for t in tasks:
        step = steps.get(t.pk)
        rows.append(
            (
                str(t.flow_task).rsplit(".", 1)[-1] if t.flow_task else None,
                t.flow_task_type,
                t.status,
                token(t.token),
                t.started is not None,
                t.finished is not None,
                t.assigned is not None,
                t.owner_id is not None,
                t.owner_permission,
                t.owner_permission_content_type_id is not None,
                t.owner_permission_obj_pk is not None,
                sorted(t.data),
                sorted(index[p.pk] for p in t.previous.all()),
                None
                if step is None
                else (
                    step.kind,
                    step.state,
                    step.round,
                    step.unit_id is not None,
                    step.assignee_id is not None,
                    step.submitted_at is not None,
                    step.decision,
                ),
            )
        )
    process = Process.objects.get(pk=process_id)
    period_task = PeriodTask.objects.get(process_id=process_id)
    return {
        "process": (process.status, process.finished is not None, sorted(process.data.items())),
        "period_task": (period_task.stage, period_task.round, period_task.completed_at is not None),
        "tasks": rows,
    }


def fresh_plan(generator: Generator, tag: int) -> Plan:
    """One more copy of the seed plan with its four periods and no run yet (for launch timings)."""
    generator.ensure_base()
    year = generator.now.year
    department = 1000 + tag
    info = generator._clone(year, [department], [])[year, department]
    return Plan.objects.get(pk=info.id)

"""Measurements on a generated data set, as realistic users with Django's test client.

Every row: one warm-up, then ``runs`` timed runs (median and p95 in ms, nearest-rank p95),
queries counted with ``CaptureQueriesContext``; the slowest SELECT of the last run is kept
so that the report can EXPLAIN ANALYZE it. Pages of other engineers that do not exist yet
(their URL name does not reverse) are rows marked missing ("chưa có").
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse

from audit.models import AuditEvent
from plans import roles
from plans.models import Membership, Plan, ReportingPeriod
from workflow.models import PeriodTask, Step

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.backends.base.base import BaseDatabaseWrapper

    from workflow.bench.generator import Generator
else:
    User = get_user_model()

BENCH_URLCONF = "config.bench_urls"


def bench_settings() -> override_settings:
    """What every measurement runs under: the project's settings, plus viewflow's pages mounted,
    no mail sent, static files without a collected manifest. (viewflow's SiteMiddleware, which
    its pages need, is already in MIDDLEWARE: viewflow's AppConfig appends it.)"""
    return override_settings(
        ROOT_URLCONF=BENCH_URLCONF,
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
    )


# --- one row's numbers ---------------------------------------------------------------------


@dataclass
class Measurement:
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    slowest_sql: str = ""
    slowest_sql_ms: float = 0.0
    note: str = ""
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times_ms) if self.times_ms else None

    @property
    def p95(self) -> float | None:
        if not self.times_ms:
            return None
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def median_queries(self) -> int | None:
        return int(statistics.median(self.queries)) if self.queries else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.times_ms),
            "median_ms": _round(self.median),
            "p95_ms": _round(self.p95),
            "min_ms": _round(min(self.times_ms)) if self.times_ms else None,
            "max_ms": _round(max(self.times_ms)) if self.times_ms else None,
            "queries": self.median_queries,
            "queries_max": max(self.queries) if self.queries else None,
            "statuses": sorted(set(self.statuses)),
            "slowest_sql_ms": _round(self.slowest_sql_ms),
            "slowest_sql": self.slowest_sql[:4000],
            "note": self.note,
            "error": self.error,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _slowest_select(captured: CaptureQueriesContext) -> tuple[str, float]:
    best, best_ms = "", 0.0
    for query in captured.captured_queries:
        sql = query["sql"]
        ms = float(query["time"]) * 1000
        if sql.lstrip().upper().startswith("SELECT") and ms >= best_ms:
            best, best_ms = sql, ms
    return best, best_ms


def timed(fn: Callable[[], Any], measurement: Measurement, *, expect: tuple[int, ...] = (200,)) -> Any:
    """Run ``fn`` once, timed and with its queries counted."""
    # CaptureQueriesContext counts by the log's length, which stops growing at 9000 entries.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = fn()
        elapsed = (time.perf_counter() - started) * 1000
    measurement.times_ms.append(elapsed)
    measurement.queries.append(len(captured.captured_queries))
    status = getattr(result, "status_code", None)
    if status is not None:
        measurement.statuses.append(status)
        if status not in expect and not measurement.error:
            measurement.error = f"HTTP {status}"
    sql, ms = _slowest_select(captured)
    measurement.slowest_sql, measurement.slowest_sql_ms = sql, ms
    return result


def explain(sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured SELECT (it is re-run; SELECTs change nothing)."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return ""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- who and what is measured ------------------------------------------------------------


@dataclass
class Subjects:
    """The realistic users and objects of one data set (chosen by the same rule at every size)."""

    staff: User
    queue_user: User
    office: User
    deputy: User
    director: User
    step: Step | None
    history_period_task: PeriodTask | None
    dashboard_period: ReportingPeriod | None
    plan: Plan
    counts: dict[str, int]

    @classmethod
    def find(cls) -> Subjects:
        global_groups = [roles.DIRECTOR, roles.DEPUTY_DIRECTOR, roles.AUDITOR, roles.OFFICE_REVIEWER]
        plain = Membership.objects.filter(role=Membership.Role.STAFF).exclude(
            user__groups__name__in=global_groups
        )
        plain_ids = list(plain.values_list("user_id", flat=True))
        # My tasks: the staff member holding the most open steps.
        busiest = (
            Step.objects.filter(state=Step.State.OPEN, assignee_id__in=plain_ids)
            .values("assignee_id")
            .annotate(n=Count("pk"))
            .order_by("-n", "assignee_id")
            .first()
        )
        staff = User.objects.get(pk=busiest["assignee_id"]) if busiest else User.objects.get(pk=plain_ids[0])
        # Unit queue: a staff member of the unit with the most open lead/partner steps.
        unit_row = (
            Step.objects.filter(state=Step.State.OPEN, kind__in=["lead", "partner"])
            .values("unit_id")
            .annotate(n=Count("pk"))
            .order_by("-n", "unit_id")
            .first()
        )
        queue_member = (
            plain.filter(unit_id=unit_row["unit_id"]).order_by("user_id").first() if unit_row else None
        )
        queue_user = queue_member.user if queue_member else staff
        office = User.objects.filter(groups__name=roles.OFFICE_REVIEWER).order_by("pk").first()
        deputies = list(User.objects.filter(groups__name=roles.DEPUTY_DIRECTOR).order_by("pk"))
        deputy = deputies[0] if deputies else None
        director = User.objects.filter(groups__name=roles.DIRECTOR).order_by("pk").first()
        step = Step.objects.filter(assignee=staff, state=Step.State.OPEN).order_by("due_date", "pk").first()
        # Task history: a run that was returned once, with partners (a long history).
        history = (
            PeriodTask.objects.filter(round__gte=2, stage="done")
            .annotate(n=Count("steps"))
            .filter(n__gte=8)
            .order_by("-pk")
            .first()
        ) or PeriodTask.objects.order_by("-pk").first()
        latest = PeriodTask.objects.order_by("-process_id").values("period_id").first()
        period = (
            ReportingPeriod.objects.select_related("plan").get(pk=latest["period_id"]) if latest else None
        )
        plan = period.plan if period else Plan.objects.order_by("-year", "-pk").first()
        # Every data set the bench measures has them (the generator makes them first).
        assert office is not None and deputy is not None and director is not None and plan is not None
        queue_unit_id = unit_row["unit_id"] if unit_row else None
        open_unit_steps = Step.objects.filter(state="open", kind__in=["lead", "partner"])
        return cls(
            staff=staff,
            queue_user=queue_user,
            office=office,
            deputy=deputy,
            director=director,
            step=step,
            history_period_task=history,
            dashboard_period=period,
            plan=plan,
            counts={
                "staff_open_steps": Step.objects.filter(assignee=staff, state="open").count(),
                "queue_open_steps": (
                    open_unit_steps.filter(unit_id=queue_unit_id)
                    if queue_unit_id is not None
                    else open_unit_steps.filter(unit_id__isnull=True)  # what unit_id=None filtered
                ).count(),
                "open_review_steps": Step.objects.filter(kind="review", state="open").count(),
                "open_sign_off_steps": Step.objects.filter(kind="sign_off", state="open").count(),
            },
        )


def reverse_first(candidates: list[tuple[str, list[Any]]], query: str = "") -> str | None:
    """The first URL name of ``candidates`` that exists (other engineers' pages may not yet)."""
    for name, args in candidates:
        try:
            return reverse(name, args=args) + query
        except NoReverseMatch:
            continue
    return None


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    who: str  # attribute of Subjects
    url: Callable[[Subjects], str | None]
    peer: str | None = None  # the viewflow page it is compared with
    viewflow: bool = False


def _history_url(s: Subjects) -> str | None:
    pt = s.history_period_task
    if pt is None:
        return None
    return reverse_first(
        [
            ("history:task", [pt.pk]),
            ("history:period_task", [pt.pk]),
            ("history:detail", [pt.pk]),
            ("history:history", [pt.pk]),
        ]
    )


def _audit_search_url(s: Subjects) -> str | None:
    """An auditor's search: one unit's returns over a year (dd/mm/yyyy, as the form takes it)."""
    period = s.dashboard_period
    unit = getattr(getattr(s.queue_user, "membership", None), "unit_id", None)
    query = ""
    if period is not None:
        year = period.plan.year
        query = f"?action=return&unit={unit or ''}&date_from=01/01/{year - 1}&date_to=31/12/{year}"
    return reverse_first([("history:search", []), ("history:audit", []), ("history:audit_search", [])], query)


def _audit_latest_url(s: Subjects) -> str | None:
    return reverse_first([("history:search", []), ("history:audit", []), ("history:audit_search", [])])


OUR_PAGES: list[Page] = [
    Page("my_tasks", "Việc của tôi (my tasks)", "staff", lambda s: reverse("workflow:my_steps"), "vf_inbox"),
    Page(
        "unit_queue",
        "Việc của đơn vị (unit queue)",
        "queue_user",
        lambda s: reverse("workflow:unit_queue"),
        "vf_queue",
    ),
    Page(
        "awaiting_office",
        "Chờ thẩm định – Văn phòng (awaiting, office)",
        "office",
        lambda s: reverse("workflow:awaiting"),
        "vf_process_list",
    ),
    Page(
        "awaiting_deputy",
        "Chờ phê duyệt – Phó GĐ (awaiting, deputy)",
        "deputy",
        lambda s: reverse("workflow:awaiting"),
        "vf_process_list",
    ),
    Page(
        "step_page",
        "Trang một bước (step page)",
        "staff",
        lambda s: reverse("workflow:step", args=[s.step.pk]) if s.step else None,
    ),
    Page(
        "plan_page",
        "Trang kế hoạch (plan page)",
        "office",
        lambda s: f"{reverse('plans:plan')}?plan={s.plan.pk}",
    ),
    Page(
        "dashboard",
        "Tổng quan (dashboard)",
        "director",
        lambda s: reverse_first(
            [("dashboard:index", [])], f"?period={s.dashboard_period.pk}" if s.dashboard_period else ""
        ),
        "vf_dashboard",
    ),
    Page("task_history", "Lịch sử nhiệm vụ (task history)", "office", _history_url, "vf_process_list"),
    Page("audit_search", "Tra cứu nhật ký – lọc (audit search, filtered)", "office", _audit_search_url),
    Page("audit_latest", "Tra cứu nhật ký – mới nhất (audit search, newest)", "office", _audit_latest_url),
]

VIEWFLOW_PAGES: list[Page] = [
    Page("vf_inbox", "viewflow: inbox", "staff", lambda s: reverse("report:inbox"), viewflow=True),
    Page("vf_queue", "viewflow: queue", "queue_user", lambda s: reverse("report:queue"), viewflow=True),
    Page(
        "vf_process_list",
        "viewflow: process list",
        "office",
        lambda s: reverse("report:process_list"),
        viewflow=True,
    ),
    Page(
        "vf_dashboard",
        "viewflow: dashboard (kanban)",
        "office",
        lambda s: reverse("report:index"),
        viewflow=True,
    ),
]


# --- the measurer -----------------------------------------------------------------------------


@dataclass
class Size:
    """One data set: its own database connection, generator, realistic users and their clients."""

    name: str
    conn: BaseDatabaseWrapper  # ``use()`` makes it the default connection of this thread
    generator: Generator
    subjects: Subjects | None = None  # set by the command (``Subjects.find()``) before measuring
    clients: dict[int, Client] = field(default_factory=dict)

    @property
    def found(self) -> Subjects:
        """``subjects``, which every measurement needs found first."""
        assert self.subjects is not None, "Subjects.find() before measuring"
        return self.subjects

    def client(self, user: User) -> Client:
        if user.pk not in self.clients:
            client = Client()
            client.force_login(user)
            self.clients[user.pk] = client
        return self.clients[user.pk]


def use(conn: BaseDatabaseWrapper) -> None:
    """Make ``conn`` the default connection of this thread (the ORM, the views, ``connection``)."""
    connections["default"] = conn


Job = Callable[[Size, int], "dict[str, Callable[[], Any]] | None"]


class Measurer:
    """Measures every row on every size in turn, run by run (small, large, small, large, …), so
    that a change of load on the shared machine falls on both sizes alike."""

    def __init__(
        self, sizes: list[Size], *, runs: int = 20, heavy_runs: int = 5, launch_tasks: int = 77
    ) -> None:
        self.sizes = sizes
        self.runs = runs
        self.heavy_runs = heavy_runs
        self.launch_tasks = launch_tasks

    def interleave(
        self, keys: list[str], job: Job, *, runs: int | None = None, expect: tuple[int, ...] = (200,)
    ) -> dict[str, dict[str, Measurement]]:
        """``job(size, i)`` prepares run ``i`` (untimed; i = -1 is the warm-up) and returns the
        callables to time, by row key, or None when the size has nothing more to run."""
        runs = self.runs if runs is None else runs
        out = {size.name: {key: Measurement() for key in keys} for size in self.sizes}
        failed: set[str] = set()
        for index in range(-1, runs):
            for size in self.sizes:
                if size.name in failed:
                    continue
                use(size.conn)
                try:
                    calls = job(size, index)
                    if calls is None:
                        continue
                    for key, call in calls.items():
                        target = Measurement() if index < 0 else out[size.name][key]
                        timed(call, target, expect=expect)
                        if target.error and not out[size.name][key].error:
                            out[size.name][key].error = target.error
                except Exception as exc:  # a row that crashes is a row with an error, not a crashed bench
                    for key in keys:
                        out[size.name][key].error = f"{type(exc).__name__}: {exc}"[:300]
                    failed.add(size.name)
        return out

    # pages

    def page(self, page: Page) -> dict[str, Measurement | None]:
        urls: dict[str, str | None] = {}
        for size in self.sizes:
            use(size.conn)
            urls[size.name] = page.url(size.found)
        present = [size for size in self.sizes if urls[size.name] is not None]
        result: dict[str, Measurement | None] = {size.name: None for size in self.sizes}
        if not present:
            return result
        clients = {}
        for size in present:
            use(size.conn)
            clients[size.name] = size.client(getattr(size.found, page.who))

        def job(size: Size, index: int) -> dict[str, Callable[[], Any]] | None:
            url, client = urls[size.name], clients.get(size.name)
            if url is None or client is None:
                return None
            return {"page": lambda: client.get(url)}

        measured = self.interleave(["page"], job)
        for size in present:
            m = measured[size.name]["page"]
            m.note = urls[size.name] or ""
            result[size.name] = m
        return result

    # actions

    def submits(self, kind: str) -> dict[str, Measurement]:
        """POST the step form's submit on fresh open steps (each run another step), as their assignee."""
        data = {
            "lead": {
                "action": "submit",
                "report-result": "Đã hoàn thành các nội dung theo kế hoạch.",
                "report-self_assessment": "done",
                "report-explanation": "Tài liệu kiểm chứng lưu tại hồ sơ của đơn vị.",
            },
            "review": {"action": "submit", "report-decision": "approve", "report-reason": ""},
        }[kind]
        steps: dict[str, list[Step]] = {}
        for size in self.sizes:
            use(size.conn)
            steps[size.name] = _open_assigned_steps(kind, self.runs + 1)
        clients = {size.name: Client() for size in self.sizes}

        def job(size: Size, index: int) -> dict[str, Callable[[], Any]] | None:
            mine = steps[size.name]
            if index + 1 >= len(mine):
                return None
            step = mine[index + 1]
            client = clients[size.name]
            assert step.assignee is not None  # _open_assigned_steps: each has one
            client.force_login(step.assignee)
            url = reverse("workflow:step", args=[step.pk])
            # As a person does: the step page is open (untimed) when the form is sent.
            client.get(url)
            return {"post": lambda: client.post(url, data)}

        measured = self.interleave(["post"], job, expect=(302,))
        out = {}
        for size in self.sizes:
            m = measured[size.name]["post"]
            m.note = f"{len(m.times_ms)} bước {kind} khác nhau"
            if len(steps[size.name]) < 2 and not m.error:
                m.error = f"không đủ bước {kind} đang mở để đo"
            out[size.name] = m
        return out

    def launch(self, clone: Callable[[Size, int], Any]) -> dict[str, Measurement]:
        """services.period_launch for all (77) tasks of a fresh plan (cloned untimed), per run."""
        from workflow import services

        def job(size: Size, index: int) -> dict[str, Callable[[], Any]]:
            plan = clone(size, index)
            period = ReportingPeriod.objects.get(plan=plan, code="Y")
            tasks = list(plan.tasks.order_by("position")[: self.launch_tasks])
            office = size.found.office
            return {"launch": lambda: services.period_launch(period=period, actor=office, plan_tasks=tasks)}

        measured = self.interleave(["launch"], job, runs=self.heavy_runs)
        for by_key in measured.values():
            by_key["launch"].note = f"{self.launch_tasks} nhiệm vụ, kỳ Năm, qua services.period_launch"
        return {name: by_key["launch"] for name, by_key in measured.items()}

    def plan_import(self, kind: str) -> dict[str, Measurement]:
        """Parse the seed plan (.txt or .docx) and import it as a new plan (deleted after, untimed)."""
        from hashlib import sha256

        from plans.parsing import parse_upload
        from plans.services import plan_import, unit_directory
        from workflow.bench.generator import SEED_PLAN

        path = SEED_PLAN if kind == "txt" else SEED_PLAN.with_suffix(".docx")
        data = path.read_bytes()
        digest = sha256(data).hexdigest()
        made: list[tuple[Size, int]] = []

        def job(size: Size, index: int) -> dict[str, Callable[[], Any]]:
            for earlier, pk in made:  # the previous run's plan goes (untimed), so the plans stay as generated
                if earlier is size:
                    Plan.objects.filter(pk=pk).delete()
            made[:] = [(s, pk) for s, pk in made if s is not size]
            year = 1901 + index

            def run() -> Any:
                parsed = parse_upload(path.name, data, unit_directory())
                report = plan_import(
                    parsed=parsed,
                    year=year,
                    source_name=path.name,
                    source_sha256=digest,
                    actor=size.found.office,
                )
                assert report.plan is not None  # a real import (not a dry run) has its plan
                made.append((size, report.plan.pk))
                return report

            return {"import": run}

        measured = self.interleave(["import"], job)
        for size, pk in made:
            use(size.conn)
            Plan.objects.filter(pk=pk).delete()
        for by_key in measured.values():
            by_key["import"].note = f"{path.name}: đọc tệp + plan_import vào kế hoạch mới"
        return {name: by_key["import"] for name, by_key in measured.items()}

    def pdf(
        self, urls_for: Callable[[Size], list[str] | None]
    ) -> dict[str, tuple[Measurement, Measurement] | None]:
        """First render of each URL (a different object each run), then the same URL again (cached)."""
        urls: dict[str, list[str] | None] = {}
        for size in self.sizes:
            use(size.conn)
            urls[size.name] = urls_for(size)
        if all(u is None for u in urls.values()):
            return {size.name: None for size in self.sizes}

        def job(size: Size, index: int) -> dict[str, Callable[[], Any]] | None:
            mine = urls[size.name]
            if not mine or index + 1 >= len(mine):
                return None
            client = size.client(size.found.office)
            url = mine[index + 1]
            _forget_cached_documents()  # a first render is one even if another size rendered the same content
            return {"first": lambda: client.get(url), "cached": lambda: client.get(url)}

        measured = self.interleave(["first", "cached"], job)
        out: dict[str, tuple[Measurement, Measurement] | None] = {}
        for size in self.sizes:
            first, cached = measured[size.name]["first"], measured[size.name]["cached"]
            first.note = cached.note = f"{len(first.times_ms)} đối tượng khác nhau"
            out[size.name] = (first, cached) if urls[size.name] is not None else None
        return out


def _forget_cached_documents() -> None:
    """Empty the documents' cache when it is this process's memory (LocMemCache, the default)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    if isinstance(cache, LocMemCache):
        cache.clear()


def _open_assigned_steps(kind: str, count: int) -> list[Step]:
    """``count`` open steps of ``kind`` with an assignee, in distinct processes (claimed untimed if needed)."""
    from workflow import services

    steps = list(
        Step.objects.filter(kind=kind, state=Step.State.OPEN, assignee__isnull=False)
        .select_related("assignee")
        .order_by("?")[: count * 3]
    )
    seen: set[int] = set()
    chosen: list[Step] = []
    for step in steps:
        if step.period_task_id not in seen and len(chosen) < count:
            seen.add(step.period_task_id)
            chosen.append(step)
    if len(chosen) < count:
        for step in Step.objects.filter(
            kind=kind, state=Step.State.OPEN, assignee__isnull=True
        ).select_related("unit")[: count * 3]:
            if len(chosen) >= count:
                break
            if step.period_task_id in seen:
                continue
            seen.add(step.period_task_id)
            services.step_claim(step_id=step.pk, user=_qualified_user(step))
            chosen.append(Step.objects.select_related("assignee").get(pk=step.pk))
    return chosen


def _qualified_user(step: Step) -> User | None:
    """Someone who may claim the step: a member of its unit, the office, or the director."""
    if step.kind in (Step.Kind.LEAD, Step.Kind.PARTNER):
        assert step.unit_id is not None  # a lead or partner step is always a unit's
        membership = (
            Membership.objects.filter(unit_id=step.unit_id, role=Membership.Role.STAFF)
            .select_related("user")
            .order_by("user_id")
            .first()
        )
        assert membership is not None  # every unit of a generated data set has staff
        return membership.user
    if step.kind == Step.Kind.REVIEW:
        return User.objects.filter(groups__name=roles.OFFICE_REVIEWER).order_by("pk").first()
    return User.objects.filter(groups__name=roles.DIRECTOR).order_by("pk").first()


# --- throughput ---------------------------------------------------------------------------------


@dataclass
class ThroughputResult:
    clients: int
    seconds: float
    steps: int = 0
    claims: int = 0
    conflicts: int = 0  # the loser of a race on one step: a clear 409, expected
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    duplicated_successors: int = 0
    stuck_processes: int = 0
    processes_touched: int = 0
    audit_chain_ok: bool = True
    audit_events_checked: int = 0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "steps_per_second": round(self.steps_per_second, 1)}


DUPLICATES_SQL = """
SELECT count(DISTINCT process_id) FROM (
    SELECT t.process_id
    FROM viewflow_task t
    WHERE t.process_id = ANY(%s) AND t.status IN ('NEW', 'ASSIGNED', 'STARTED')
      AND t.flow_task_type IN ('HUMAN', 'JOIN')
    GROUP BY t.process_id, t.flow_task, COALESCE(t.data->>'unit_id', '')
    HAVING count(*) > 1
    UNION ALL
    SELECT x.process_id
    FROM workflow_step s JOIN workflow_periodtask x ON x.id = s.period_task_id
    WHERE x.process_id = ANY(%s) AND s.state = 'open'
    GROUP BY x.process_id, s.kind, s.unit_id
    HAVING count(*) > 1
) d
"""

STUCK_SQL = """
SELECT count(*) FROM viewflow_process p
WHERE p.id = ANY(%s) AND p.status = 'NEW'
  AND NOT EXISTS (
      SELECT 1 FROM viewflow_task t
      WHERE t.process_id = p.id AND t.flow_task_type = 'HUMAN' AND t.status IN ('NEW', 'ASSIGNED', 'STARTED')
  )
"""


def throughput(
    *, seconds: float, clients: int, seed: int = 7, log: Callable[[str], None] = print
) -> ThroughputResult:
    """``clients`` client processes (each its own connection, as a server's worker processes
    would be) claim and submit open steps through the services for ``seconds``.

    Processes, not threads: threads of one Python process share one interpreter lock, so on
    this machine they measured the lock, not the application (8 threads did what one did).
    The clients take step ids from one shared queue (a multiprocessing manager's): sibling
    steps of a process (partners, several leads) sit next to each other, so they are finished
    at the same moment by different clients (the join race), and a few steps are queued twice
    in a row (the double-submit race); the steps a submit opens are queued again, once."""
    import multiprocessing

    rng = random.Random(seed)  # noqa: S311
    result = ThroughputResult(clients=clients, seconds=seconds)
    open_pts = list(
        Step.objects.filter(state=Step.State.OPEN)
        .values_list("period_task_id", flat=True)
        .distinct()
        .order_by()[:200_000]
    )
    rng.shuffle(open_pts)
    chosen = open_pts[: clients * 250]
    first = []
    for row in (
        Step.objects.filter(state=Step.State.OPEN, period_task_id__in=chosen)
        .order_by("period_task_id", "pk")
        .values_list("pk", flat=True)
    ):
        first.append(row)
        if rng.random() < 0.03:
            first.append(row)  # the same step twice in a row: two people submit it at once
    first_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    context = multiprocessing.get_context("fork")
    # Forked children must not share the parent's database sockets: each opens its own.
    connections.close_all()
    with context.Manager() as manager:
        queue = manager.Queue()
        for pk in first:
            queue.put(pk)
        queued = manager.dict(dict.fromkeys(first, True))
        lock = manager.Lock()
        outcomes = manager.list()
        start_at = time.monotonic() + 0.5  # every client starts together, after the forks
        deadline = start_at + seconds
        children = [
            context.Process(
                target=_client,
                args=(number, seed, start_at, deadline, queue, queued, lock, outcomes),
                name=f"bench-{number}",
            )
            for number in range(clients)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join()
        ended = time.monotonic()
        touched: set[int] = set()
        for outcome in list(outcomes):
            result.steps += outcome["steps"]
            result.claims += outcome["claims"]
            result.conflicts += outcome["conflicts"]
            result.errors += outcome["errors"]
            result.error_samples.extend(outcome["error_samples"][: 5 - len(result.error_samples)])
            touched.update(outcome["touched"])
            ended = max(ended, outcome["ended"])
        missing = clients - len(outcomes)
        if missing:
            result.errors += missing
            result.error_samples.append(f"{missing} tiến trình khách dừng bất thường")
    result.seconds = ended - start_at
    process_ids = list(PeriodTask.objects.filter(pk__in=touched).values_list("process_id", flat=True))
    result.processes_touched = len(process_ids)
    with connection.cursor() as cursor:
        cursor.execute(DUPLICATES_SQL, [process_ids, process_ids])
        result.duplicated_successors = cursor.fetchone()[0]
        cursor.execute(STUCK_SQL, [process_ids])
        result.stuck_processes = cursor.fetchone()[0]
    result.audit_chain_ok, result.audit_events_checked = audit_tail_ok(first_seq)
    return result


def _client(
    number: int,
    seed: int,
    start_at: float,
    deadline: float,
    queue: Any,
    queued: Any,
    lock: Any,
    outcomes: Any,
) -> None:
    """One client process of ``throughput``: take a step, claim it if nobody has, submit it."""
    import queue as queue_module

    from workflow import access, services

    local = random.Random(seed * 100 + number)  # noqa: S311
    outcome: dict[str, Any] = {
        "steps": 0,
        "claims": 0,
        "conflicts": 0,
        "errors": 0,
        "error_samples": [],
        "touched": set(),
    }
    users: dict[int, User] = {}
    members: dict[int, list[int]] = {}
    deciders: dict[str, list[int]] = {}

    def user(pk: int) -> User:
        if pk not in users:
            users[pk] = User.objects.get(pk=pk)
        return users[pk]

    def someone_for(step: Step) -> User:
        if step.assignee_id:
            return user(step.assignee_id)
        if step.kind in ("lead", "partner"):
            unit_id = step.unit_id
            assert unit_id is not None  # a lead or partner step is always a unit's
            if unit_id not in members:
                members[unit_id] = list(
                    Membership.objects.filter(unit_id=unit_id)
                    .exclude(user__groups__name=roles.OFFICE_REVIEWER)
                    .values_list("user_id", flat=True)
                )
            return user(local.choice(members[unit_id]))
        # A decider who did not write a report under decision (separation of duties: the
        # services refuse the others, as they would a person).
        group = roles.OFFICE_REVIEWER if step.kind == "review" else roles.DIRECTOR
        if group not in deciders:
            deciders[group] = list(User.objects.filter(groups__name=group).values_list("pk", flat=True))
        candidates = local.sample(deciders[group], len(deciders[group]))
        return next(
            (user(pk) for pk in candidates if access.is_qualified(user(pk), step)), user(candidates[0])
        )

    def report(step: Step) -> dict[str, Any]:
        if step.kind == "lead":
            return {
                "result": "Đã thực hiện",
                "self_assessment": "done",
                "explanation": "Hồ sơ giấy tại đơn vị",
            }
        if step.kind == "partner":
            return {"result": "Nhất trí", "no_opinion": False}
        if step.kind == "review":
            if local.random() < 0.1:
                return {
                    "decision": "lead",
                    "reason": "Bổ sung số liệu",
                    "ask_partners_again": local.random() < 0.5,
                }
            return {"decision": "approve", "reason": "", "ask_partners_again": False}
        return {"decision": "approve" if local.random() < 0.95 else "office", "reason": "Xem lại"}

    try:
        time.sleep(max(0.0, start_at - time.monotonic()))
        while time.monotonic() < deadline:
            try:
                step_id = queue.get_nowait()
            except queue_module.Empty:
                break
            try:
                step = Step.objects.get(pk=step_id)
                if step.state != Step.State.OPEN:
                    continue
                who = someone_for(step)
                outcome["touched"].add(step.period_task_id)
                if step.assignee_id is None:
                    services.step_claim(step_id=step.pk, user=who)
                    outcome["claims"] += 1
                services.step_submit(step_id=step.pk, user=who, data=report(step))
                outcome["steps"] += 1
                successors = list(
                    Step.objects.filter(period_task_id=step.period_task_id, state=Step.State.OPEN)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                for pk in successors:
                    with lock:
                        if pk in queued:
                            continue
                        queued[pk] = True
                    queue.put(pk)
            except services.StepConflict:
                outcome["conflicts"] += 1
            except Exception as exc:  # every other failure is an error of the run
                outcome["errors"] += 1
                if len(outcome["error_samples"]) < 5:
                    outcome["error_samples"].append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connections.close_all()
        outcome["ended"] = time.monotonic()
        outcomes.append(outcome)


def audit_tail_ok(after_seq: int) -> tuple[bool, int]:
    """The events appended after ``after_seq``: consecutive, linked and hashing to what they store."""
    from audit.services import event_hash

    previous = AuditEvent.objects.filter(seq=after_seq).values_list("hash", flat=True).first()
    expected = after_seq + 1
    checked = 0
    for event in AuditEvent.objects.filter(seq__gt=after_seq).order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected or (previous is not None and event.prev_hash != previous):
            return False, checked
        if event_hash(event) != event.hash:
            return False, checked
        previous = event.hash
        expected += 1
        checked += 1
    return True, checked

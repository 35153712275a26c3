"""The permission sweep: every URL of the project, as everyone, with GET and with an empty POST.

Every URL pattern (included modules and the admin too) is turned into a real address that
names real objects: a run led by QLTM (partner ATNL), so QLCN's people see it only if
something is wrong; its step, a file attached to it, a notification of QLTM's staff member,
the plan and the period. Each address is requested anonymously and as every persona, and
the outcome is compared with TABLE below:

- ``reach``: the view let the request through its access checks: 2xx, a 3xx that is not a
  login page, or 400 / 409 (the request reached the action and was found invalid; an empty
  POST usually is);
- ``denied``: 403, 404, 405, 429, or a redirect to a login page;
- ``error``: 5xx, never allowed.

For each URL and method TABLE names the identities that reach the view; everyone else must be
denied. A URL name missing from TABLE fails the sweep, so a new URL cannot go unreviewed.
The admin is one rule (``ADMIN``): no persona is staff, so only the login page reaches; a
superuser checks that each admin page answers without a server error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.html import escape

from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import PERSONAS
from workflow import services
from workflow.evidence import store
from workflow.models import Evidence, Notification, PeriodTask, Step

ANON = "anonymous"
IDENTITIES = (ANON, *PERSONAS)

Who = frozenset[str]
NOBODY: Who = frozenset()
EVERYONE: Who = frozenset(IDENTITIES)
SIGNED_IN: Who = frozenset(PERSONAS)
SEES_EVERYTHING: Who = frozenset({"office_reviewer", "director", "deputy", "other_deputy", "auditor"})
OFFICE: Who = frozenset({"office_reviewer"})
# The run is led by QLTM with ATNL as partner: QLCN's staff and head may not see it.
SEES_THE_RUN: Who = SEES_EVERYTHING | {"other_staff", "atnl_staff"}
HAS_A_UNIT: Who = frozenset({"staff", "unit_head", "other_staff", "atnl_staff", "office_reviewer"})
OFFICE_AND_LEADERSHIP: Who = frozenset({"office_reviewer", "director", "deputy", "other_deputy"})
UNIT_HEADS_AND_OVERSIGHT: Who = SEES_EVERYTHING | {"unit_head"}


@dataclass(frozen=True)
class Rule:
    get: Who
    post: Who
    why: str


# url name -> who reaches the view with GET and with an empty POST.
TABLE: dict[str, Rule] = {
    # --- config/urls.py
    "home": Rule(
        EVERYONE, EVERYONE, "a redirect to workflow:my_steps, which asks for a login; carries no data"
    ),
    "login": Rule(EVERYONE, EVERYONE, "the login form; an empty POST shows it again with errors"),
    "logout": Rule(NOBODY, NOBODY, "POST only (GET is 405); it always redirects to the login page"),
    # --- workflow/urls.py
    "workflow:my_steps": Rule(SIGNED_IN, NOBODY, "own steps only; GET only"),
    "workflow:unit_queue": Rule(HAS_A_UNIT, HAS_A_UNIT, "members of a unit; empty POST = nothing chosen"),
    "workflow:awaiting": Rule(OFFICE_AND_LEADERSHIP, NOBODY, "office and leadership; GET only"),
    "workflow:bulk_approve": Rule(
        OFFICE_AND_LEADERSHIP,
        OFFICE_AND_LEADERSHIP,
        "access.may_decide_in_bulk; nothing chosen: a redirect to the list; each run checked again",
    ),
    "workflow:done_by_me": Rule(SIGNED_IN, NOBODY, "own steps only; GET only"),
    "workflow:launch": Rule(OFFICE, OFFICE, "workflow.launch_taskprocess; empty POST is 400"),
    "workflow:step": Rule(
        SEES_THE_RUN,
        SEES_THE_RUN,
        "who may see the run; an empty POST has no action (400); every action's own check is "
        "swept in tests/workflow/test_access.py",
    ),
    "workflow:period_task": Rule(
        SEES_THE_RUN, NOBODY, "who may see the run; a POST without action=cancel is refused (403)"
    ),
    "workflow:evidence": Rule(SEES_THE_RUN, NOBODY, "who may see the step the file belongs to; GET only"),
    "workflow:notifications": Rule(SIGNED_IN, SIGNED_IN, "own notifications; POST marks own as read"),
    "workflow:notification_open": Rule(NOBODY, frozenset({"other_staff"}), "POST only; the owner only"),
    "workflow:failed_mails": Rule(OFFICE, OFFICE, "capabilities.failed_mails; empty POST is 400"),
    # --- plans/urls.py
    "plans:plan": Rule(SIGNED_IN, NOBODY, "every signed-in user reads the plan; GET only"),
    "plans:upload": Rule(OFFICE, OFFICE, "plans.import_plan; empty POST is 400"),
    "plans:upload_preview": Rule(OFFICE, NOBODY, "plans.import_plan; GET only"),
    "plans:upload_status": Rule(
        OFFICE | {"staff"},
        NOBODY,
        "plans.access.upload_visible: the uploader (here QLCN's staff) and the office",
    ),
    "plans:upload_status_json": Rule(OFFICE | {"staff"}, NOBODY, "as plans:upload_status; GET only"),
    "plans:upload_confirm": Rule(NOBODY, OFFICE, "plans.import_plan; POST only"),
    "plans:upload_cancel": Rule(NOBODY, OFFICE, "plans.import_plan; POST only"),
    # plans/urls.py, the set-up pages (plans/views_setup.py): access.may_manage_organisation
    "plans:setup": Rule(OFFICE, NOBODY, "may_manage_organisation; GET only"),
    "plans:setup_units": Rule(OFFICE, NOBODY, "may_manage_organisation; GET only"),
    "plans:setup_unit_add": Rule(OFFICE, OFFICE, "may_manage_organisation; empty POST is 400"),
    "plans:setup_unit": Rule(OFFICE, OFFICE, "may_manage_organisation; empty POST is 400"),
    "plans:setup_people": Rule(OFFICE, NOBODY, "may_manage_organisation; GET only"),
    "plans:setup_person_add": Rule(OFFICE, OFFICE, "may_manage_organisation; empty POST is 400"),
    "plans:setup_person": Rule(OFFICE, OFFICE, "may_manage_organisation; empty POST is 400"),
    "plans:setup_periods": Rule(OFFICE, NOBODY, "may_manage_organisation; GET only"),
    "plans:setup_period": Rule(OFFICE, OFFICE, "may_manage_organisation; empty POST is 400"),
    "plans:calendar": Rule(SEES_EVERYTHING, NOBODY, "access.working_calendar_check; GET only"),
    "plans:calendar_add": Rule(
        NOBODY, OFFICE, "working_calendar_check(edit=True); POST only; empty POST is 400"
    ),
    "plans:calendar_remove": Rule(
        NOBODY, OFFICE, "working_calendar_check(edit=True); POST only; empty POST is 400"
    ),
    # --- workflow/reports/urls.py
    "reports:plan_pdf": Rule(SIGNED_IN, NOBODY, "the plan is public inside the department; GET only"),
    "reports:plan_xlsx": Rule(SIGNED_IN, NOBODY, "the plan is public inside the department; GET only"),
    "reports:period_pdf": Rule(SEES_EVERYTHING, NOBODY, "office, leadership, auditors; GET only"),
    "reports:period_xlsx": Rule(SEES_EVERYTHING, NOBODY, "office, leadership, auditors; GET only"),
    "reports:dossier_pdf": Rule(SEES_THE_RUN, NOBODY, "access.period_task_get_for_user; GET only"),
    # --- workflow/history/urls.py
    "history:task": Rule(SEES_THE_RUN, NOBODY, "access.period_task_get_for_user; GET only"),
    "history:task_pdf": Rule(SEES_THE_RUN, NOBODY, "access.period_task_get_for_user; GET only"),
    "history:task_xlsx": Rule(SEES_THE_RUN, NOBODY, "access.period_task_get_for_user; GET only"),
    "history:search": Rule(
        SEES_EVERYTHING, NOBODY, "auditors, leadership, office (capabilities.audit_search); GET only"
    ),
    # --- workflow/dashboard/urls.py
    "dashboard:index": Rule(UNIT_HEADS_AND_OVERSIGHT, NOBODY, "dashboard_scope_for_user; GET only"),
    "dashboard:tasks": Rule(UNIT_HEADS_AND_OVERSIGHT, NOBODY, "dashboard_scope_for_user; GET only"),
    # --- documents/urls.py
    "documents:verify": Rule(EVERYONE, EVERYONE, "public verification page (no login); empty POST is 400"),
    "documents:register": Rule(SEES_EVERYTHING, NOBODY, "capabilities.document_register; GET only"),
    "documents:issue": Rule(NOBODY, OFFICE, "capabilities.document_issue; POST only; empty POST is 400"),
    "documents:download": Rule(SEES_EVERYTHING, NOBODY, "capabilities.document_register; GET only"),
    "documents:period_docx": Rule(SEES_EVERYTHING, NOBODY, "capabilities.document_register; GET only"),
    "documents:dossier_docx": Rule(SEES_THE_RUN, NOBODY, "access.period_task_get_for_user; GET only"),
}

# Pages anyone may open without logging in, and the answers they give an anonymous GET or empty POST.
ANONYMOUS_PAGES: dict[str, set[int]] = {
    "login": {200},
    "admin:login": {200},
    "documents:verify": {200, 400},  # "Xác minh văn bản": the empty upload is refused with 400
}

# The admin: every page behind admin_view (is_staff); no persona is staff.
ADMIN_NAMESPACE = "admin"
ADMIN_OPEN = {"admin:login": Rule(EVERYONE, EVERYONE, "the admin's login form")}
ADMIN = Rule(NOBODY, NOBODY, "admin pages: staff only; everyone else is sent to the admin login")


# --- the objects the addresses name ------------------------------------------------------


@dataclass
class World:
    period_task: PeriodTask
    step: Step
    evidence: Evidence
    notification: Notification

    @property
    def plan(self) -> Any:
        return self.period_task.period.plan

    @property
    def period(self) -> Any:
        return self.period_task.period


# url name -> the values of its parameters; a new URL with parameters needs a line here.
ARGS: dict[str, Callable[[World], dict[str, Any]]] = {
    "workflow:step": lambda w: {"pk": w.step.pk},
    "workflow:period_task": lambda w: {"pk": w.period_task.pk},
    "workflow:evidence": lambda w: {"pk": w.evidence.pk},
    "workflow:notification_open": lambda w: {"pk": w.notification.pk},
    "plans:upload_status": lambda w: {"pk": plan_upload().pk},
    "plans:upload_status_json": lambda w: {"pk": plan_upload().pk},
    "plans:setup_unit": lambda w: {"pk": w.step.unit_id},
    "plans:setup_person": lambda w: {"pk": w.notification.user_id},
    "plans:setup_period": lambda w: {"pk": w.period.pk},
    "reports:plan_pdf": lambda w: {"pk": w.plan.pk},
    "reports:plan_xlsx": lambda w: {"pk": w.plan.pk},
    "reports:period_pdf": lambda w: {"pk": w.period.pk},
    "reports:period_xlsx": lambda w: {"pk": w.period.pk},
    "reports:dossier_pdf": lambda w: {"pk": w.period_task.pk},
    "history:task": lambda w: {"pk": w.period_task.pk},
    "history:task_pdf": lambda w: {"pk": w.period_task.pk},
    "history:task_xlsx": lambda w: {"pk": w.period_task.pk},
    "documents:download": lambda w: {"pk": issued_document(w).pk},
    "documents:period_docx": lambda w: {"pk": w.period.pk},
    "documents:dossier_docx": lambda w: {"pk": w.period_task.pk},
}


def plan_upload() -> Any:
    """A plan file QLCN's staff member uploaded (say, while they stood in for the office), waiting for its job."""
    from plans.models import PlanUpload

    upload, _ = PlanUpload.objects.get_or_create(
        uploaded_by=get_user_model().objects.get(username="qlcn_cv"),
        defaults={"name": "ke-hoach.txt", "size": 1, "sha256": "0" * 64},
    )
    return upload


def issued_document(world: World) -> Any:
    """An issued document of the world's period (its bytes are not signed: access is what is swept)."""
    from documents.models import IssuedDocument, Register

    register, _ = Register.objects.get_or_create(year=2024, symbol="BC-SCT", defaults={"last_number": 1})
    document, _ = IssuedDocument.objects.get_or_create(
        register=register,
        number=1,
        defaults={
            "kind": IssuedDocument.Kind.PERIOD_REPORT,
            "state": IssuedDocument.State.ISSUED,
            "title": "Báo cáo kết quả",
            "issued_on": "2024-03-20",
            "period": world.period,
            "signer": get_user_model().objects.get(username="giamdoc"),
            "signer_name": "giamdoc",
            "signer_authority": "GIÁM ĐỐC",
            "pdf": PDF,
            "sha256": "0" * 64,
        },
    )
    return document


# Words that only the run's records contain: a page that shows one to someone outside
# WHO_MAY_READ leaks the record, whatever its status code.
RESULT_MARK = "Kết quả nháp riêng của Phòng Quản lý thương mại"
EVIDENCE_MARK = "Biên bản kiểm tra QLTM.pdf"
NOTE_MARK = "Thông báo riêng cho qltm_cv"
WHO_MAY_READ = {RESULT_MARK: SEES_THE_RUN, EVIDENCE_MARK: SEES_THE_RUN, NOTE_MARK: frozenset({"other_staff"})}

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def world(
    units: dict[str, Any], personas: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: Any
) -> World:
    """A run led by QLTM with ATNL as partner, at its lead step, claimed by QLTM's staff member."""
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    # Access is decided before any PDF is drawn; the pages' HTML is still rendered, only
    # WeasyPrint's layout (about a second a document) is skipped. tests/reports/ draws them.
    import weasyprint

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", lambda self, *args, **kwargs: b"%PDF-1.4 sweep\n")
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLTM"]], partners=[units["ATNL"]])
    services.period_launch(
        period=periods(criterion.section.appendix.plan)["Q1"], actor=personas["office_reviewer"]
    )
    period_task = PeriodTask.objects.get(plan_task=task)
    step = period_task.steps.get(kind="lead")
    services.step_claim(step_id=step.pk, user=personas["other_staff"])
    services.step_save_draft(step_id=step.pk, user=personas["other_staff"], data={"result": RESULT_MARK})
    stored = store(BytesIO(PDF), name=EVIDENCE_MARK, size=len(PDF))
    evidence = services.evidence_attach(step_id=step.pk, user=personas["other_staff"], stored=stored)
    notification = Notification.objects.create(
        user=personas["other_staff"],
        step=step,
        message=NOTE_MARK,
        url=reverse("workflow:step", args=[step.pk]),
    )
    return World(period_task, step, evidence, notification)


# --- every URL pattern, as an address ----------------------------------------------------

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")


@dataclass(frozen=True)
class Endpoint:
    name: str  # "namespace:name", or the pattern itself when it has no name
    pattern: str  # the full pattern, for messages
    parts: tuple[tuple[str, bool], ...]  # (piece, is_regex) from the root down

    @property
    def is_admin(self) -> bool:
        return self.name.split(":")[0] == ADMIN_NAMESPACE

    def params(self) -> list[str]:
        names = []
        for piece, is_regex in self.parts:
            matcher = _REGEX_GROUP if is_regex else _ROUTE_PARAM
            names += [m.group("name") for m in matcher.finditer(piece)]
        return names

    def address(self, values: dict[str, Any]) -> str:
        path = ""
        for piece, is_regex in self.parts:
            if is_regex:
                piece = _REGEX_GROUP.sub(lambda m: str(values[m.group("name")]), piece)
                piece = piece.lstrip("^").rstrip("$").replace("\\", "")
            else:
                piece = _ROUTE_PARAM.sub(lambda m: str(values[m.group("name")]), piece)
            path += piece
        return "/" + path


def endpoints(
    patterns: list[Any] | None = None, namespace: str = "", parts: tuple[tuple[str, bool], ...] = ()
) -> Iterator[Endpoint]:
    """Walk the URL tree: every pattern, with its full name and the pieces of its path."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        piece = (str(entry.pattern), entry.pattern.__class__.__name__ == "RegexPattern")
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            yield from endpoints(entry.url_patterns, inner or namespace, (*parts, piece))
        elif isinstance(entry, URLPattern):
            label = entry.name or "".join(p for p, _ in (*parts, piece))
            name = f"{namespace}:{label}" if namespace else label
            yield Endpoint(name=name, pattern="".join(p for p, _ in (*parts, piece)), parts=(*parts, piece))


def admin_values(endpoint: Endpoint) -> dict[str, Any]:
    """Parameters of an admin page: a real object of its model where there is one."""
    values: dict[str, Any] = {}
    model = None
    match = re.fullmatch(r"admin:(?P<app>[a-z_]+?)_(?P<model>[a-z]+)_\w+", endpoint.name)
    if match:
        try:
            model = apps.get_model(match.group("app"), match.group("model"))
        except LookupError:
            model = None
    for param in endpoint.params():
        if param in ("object_id", "object_pk", "id"):
            obj = model.objects.order_by("pk").first() if model is not None else None
            values[param] = obj.pk if obj is not None else 1
        elif param == "app_label":
            regex = next(p for p, is_regex in endpoint.parts if is_regex and "app_label" in p)
            values[param] = re.search(r"\(\?P<app_label>([^|)]+)", regex).group(1)  # type: ignore[union-attr]
        elif param == "url":
            values[param] = "khong-co-trang-nay/"
        else:
            values[param] = 1
    return values


def address_of(endpoint: Endpoint, world: World) -> str:
    if endpoint.is_admin:
        return endpoint.address(admin_values(endpoint))
    if endpoint.params():
        assert endpoint.name in ARGS, f"{endpoint.name} ({endpoint.pattern}) has parameters: add it to ARGS"
        return endpoint.address(ARGS[endpoint.name](world))
    return endpoint.address({})


def rule_of(endpoint: Endpoint) -> Rule | None:
    if endpoint.is_admin:
        return ADMIN_OPEN.get(endpoint.name, ADMIN)
    return TABLE.get(endpoint.name)


# --- what came back ----------------------------------------------------------------------

LOGIN_PATHS = ("/dang-nhap/", "/quan-tri/login/")
# The admin's logout sends whoever is not staff to the admin index, which sends them to its login.
GATEWAYS = {"admin:logout": "/quan-tri/"}


def to_login(name: str, response: Any) -> bool:
    path = urlsplit(response["Location"]).path
    return path in LOGIN_PATHS or path == GATEWAYS.get(name)


def outcome(name: str, response: Any) -> str:
    code = response.status_code
    if code >= 500:
        return "error"
    if 300 <= code < 400:
        return "denied" if to_login(name, response) else "reach"
    if code < 300 or code in (400, 409):
        return "reach"
    return "denied"


@dataclass(frozen=True)
class Seen:
    name: str
    address: str
    identity: str
    method: str
    status: int
    outcome: str
    location: str
    shows: frozenset[str]  # the marks the page showed

    def __str__(self) -> str:
        to = f" -> {self.location}" if self.location else ""
        return f"{self.method} {self.address} [{self.name}] as {self.identity}: {self.status}{to}"


def sweep(world: World, personas: dict[str, Any]) -> list[Seen]:
    clients: dict[str, Client] = {}

    def client_for(identity: str) -> Client:
        client = clients.get(identity)
        if client is None:
            client = clients[identity] = Client()
        if identity in personas and "_auth_user_id" not in client.session:
            client.force_login(personas[identity])  # again after a logout URL
        return client

    seen = []
    for endpoint in endpoints():
        address = address_of(endpoint, world)
        match = resolve(address)  # the address really is this pattern's
        assert (match.view_name if match.url_name else endpoint.name) == endpoint.name, address
        for identity in IDENTITIES:
            for method in ("GET", "POST"):
                client = client_for(identity)
                response = client.get(address) if method == "GET" else client.post(address, {})
                location = response.get("Location", "") if 300 <= response.status_code < 400 else ""
                shows: frozenset[str] = frozenset()
                if response.get("Content-Type", "").startswith("text/html"):
                    body = response.content.decode()
                    shows = frozenset(mark for mark in WHO_MAY_READ if escape(mark) in body or mark in body)
                seen.append(
                    Seen(
                        endpoint.name,
                        address,
                        identity,
                        method,
                        response.status_code,
                        outcome(endpoint.name, response),
                        location,
                        shows,
                    )
                )
    return seen


# --- the sweep ---------------------------------------------------------------------------


def test_every_url_name_is_in_the_table() -> None:
    names = {e.name for e in endpoints()}
    missing = sorted(e.name for e in endpoints() if rule_of(e) is None)
    assert missing == [], "new URLs need an entry in TABLE (who may reach them, and why)"
    assert sorted(set(TABLE) - names) == [], "TABLE names URLs that no longer exist"
    # The admin's pages are one rule; everything else is listed one by one.
    assert len(TABLE) == len({n for n in names if not n.startswith(f"{ADMIN_NAMESPACE}:")})


def test_sweep_every_url_as_everyone_matches_the_table(world: World, personas: dict[str, Any]) -> None:
    # Given the run of another unit and its records; When every address is requested by everyone
    seen = sweep(world, personas)

    # Then nothing failed with a server error
    assert [str(s) for s in seen if s.outcome == "error"] == []
    # and nobody got in where the table does not let them (the number that must stay 0)
    rules = {e.name: rule_of(e) for e in endpoints()}
    allowed = {
        (s.name, s.identity, s.method): s.identity in getattr(rules[s.name], s.method.lower()) for s in seen
    }
    unexpected_success = [
        str(s) for s in seen if s.outcome == "reach" and not allowed[s.name, s.identity, s.method]
    ]
    assert unexpected_success == []
    # and everyone the table lets in got past the access checks (the table is not stale)
    unexpected_denial = [
        str(s) for s in seen if s.outcome == "denied" and allowed[s.name, s.identity, s.method]
    ]
    assert unexpected_denial == []
    # and no page showed a record of the run to someone who may not read it
    leaks = [f"{s} showed {mark!r}" for s in seen for mark in s.shows if s.identity not in WHO_MAY_READ[mark]]
    assert leaks == []
    # (the marks are on the pages they belong to, so the check above can see a leak)
    assert {mark for s in seen for mark in s.shows} == set(WHO_MAY_READ)


def test_anonymous_is_only_ever_sent_to_a_login_page(world: World, personas: dict[str, Any]) -> None:
    client = Client()
    wrong = []
    for endpoint in endpoints():
        address = address_of(endpoint, world)
        for method in ("GET", "POST"):
            response = client.get(address) if method == "GET" else client.post(address, {})
            code = response.status_code
            if endpoint.name in ANONYMOUS_PAGES:
                ok = code in ANONYMOUS_PAGES[endpoint.name]
            elif endpoint.name == "home":
                ok = code == 302 and client.get(response["Location"])["Location"].startswith(
                    "/dang-nhap/?next="
                )
            else:
                ok = code in (404, 405) or (code == 302 and to_login(endpoint.name, response))
            if not ok:
                wrong.append(f"{method} {address} [{endpoint.name}]: {code} {response.get('Location', '')}")
    assert wrong == []


HOSTILE_IDS = {
    "int": ["0", "9" * 30],
    "str": ["0", "-1", "9" * 30, "1.5", "abc", "1%20OR%201=1", "%00"],
    "path": ["0", "abc", "..%2F..%2Fetc%2Fpasswd"],
}


@pytest.mark.parametrize(("persona", "expected"), [("auditor", {404, 405}), ("staff", {403, 404, 405})])
def test_ids_that_name_nothing_are_404_never_500(
    world: World, personas: dict[str, Any], persona: str, expected: set[int]
) -> None:
    # Every parameter of every URL outside the admin, given ids that name no object or no number:
    # the auditor (who may read everything) gets 404; QLCN's staff 404 or a role's 403.
    client = Client()
    client.force_login(personas[persona])
    wrong = []
    for endpoint in endpoints():
        if endpoint.is_admin or not endpoint.params():
            continue
        converters = {
            m.group("name"): m.group("converter") or "str"
            for piece, _ in endpoint.parts
            for m in _ROUTE_PARAM.finditer(piece)
        }
        for param, converter in converters.items():
            for value in HOSTILE_IDS[converter]:
                values = {**ARGS[endpoint.name](world), param: value}
                address = endpoint.address(values)
                for method in ("GET", "POST"):
                    response = client.get(address) if method == "GET" else client.post(address, {})
                    if response.status_code not in expected:
                        wrong.append(f"{method} {address} [{endpoint.name}]: {response.status_code}")
    assert wrong == []


def test_a_superuser_opens_every_admin_page_without_error(world: World, personas: dict[str, Any]) -> None:
    # The admin rule above only shows the door is shut; this shows the rooms behind it work.
    admin = get_user_model().objects.create_superuser("quantri", "quantri@sct.local", "pw-admin-123")
    client = Client()
    failures, statuses = [], []
    for endpoint in endpoints():
        if not endpoint.is_admin or endpoint.name == "admin:logout":
            continue
        address = address_of(endpoint, world)
        client.force_login(admin)
        response = client.get(address)
        statuses.append((endpoint.name, response.status_code))
        if response.status_code >= 500 or (response.status_code == 302 and to_login(endpoint.name, response)):
            failures.append(f"GET {address} [{endpoint.name}]: {response.status_code}")
    assert failures == []
    # and every model's list, the index and the app lists really opened
    opened = {name: code for name, code in statuses if name.endswith(("_changelist", ":index", ":app_list"))}
    assert len(opened) > 10
    assert set(opened.values()) == {200}, opened

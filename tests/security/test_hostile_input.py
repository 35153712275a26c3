"""Hostile text in the step forms: refused when too long or not text, shown escaped otherwise.

Every free-text field of workflow/forms.py is covered: the lead report's result and
explanation, the partner's opinion, the review's and the sign-off's reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.urls import reverse

from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.forms import STEP_FORMS, TEXT_LIMIT
from workflow.models import PeriodTask, Step

SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
ATTRIBUTE_ESCAPED = "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
PERSONAS_READING = ("staff", "office_reviewer", "auditor")

# (stage, field) for every free-text field, with who fills it and the rest of a valid submission.
FREE_TEXT = {
    ("lead", "result"): {"report-self_assessment": "done", "report-explanation": "Không có tệp"},
    ("lead", "explanation"): {"report-self_assessment": "done", "report-result": "Đã làm"},
    ("partner", "result"): {},
    ("review", "reason"): {"report-decision": "lead"},
    ("sign_off", "reason"): {"report-decision": "office"},
}
ACTOR = {"lead": "staff", "partner": "other_staff", "review": "office_reviewer", "sign_off": "director"}


def test_every_free_text_field_of_the_step_forms_is_listed_here() -> None:
    text_fields = {
        (kind, name)
        for kind, form in STEP_FORMS.items()
        for name, field in form.base_fields.items()
        if isinstance(field, forms.CharField)
    }
    assert text_fields == set(FREE_TEXT)
    assert all(
        form.base_fields[name].max_length == TEXT_LIMIT
        for (kind, name) in FREE_TEXT
        for form in [STEP_FORMS[kind]]
    )


@pytest.fixture(autouse=True)
def _evidence_root(settings: Any, tmp_path: Any) -> None:
    settings.EVIDENCE_ROOT = tmp_path / "evidence"


@pytest.fixture
def period_task(units: dict[str, Any], personas: dict[str, Any]) -> PeriodTask:
    """One launched process: led by QLCN, partner QLTM, period Q1/2024."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    services.period_launch(
        period=periods(criterion.section.appendix.plan)["Q1"], actor=personas["office_reviewer"]
    )
    return PeriodTask.objects.get(plan_task=task)


def open_step(period_task: PeriodTask, stage: str, personas: dict[str, Any]) -> Step:
    """Drive the process to ``stage`` with clean data; the step is claimed by its actor."""
    plain = {
        "lead": {"result": "Đã ban hành", "self_assessment": "done", "explanation": "Không có tệp"},
        "partner": {"no_opinion": True},
        "review": {"decision": "approve", "reason": ""},
    }
    for kind in ("lead", "partner", "review", "sign_off"):
        step = period_task.steps.get(kind=kind, state="open")
        services.step_claim(step_id=step.pk, user=personas[ACTOR[kind]])
        if kind == stage:
            return step
        services.step_submit(step_id=step.pk, user=personas[ACTOR[kind]], data=plain[kind])
    raise AssertionError(stage)


def pages_showing(period_task: PeriodTask, step: Step) -> list[str]:
    urls = [reverse("workflow:step", args=[s.pk]) for s in period_task.steps.all()]
    return [
        *urls,
        reverse("workflow:period_task", args=[period_task.pk]),
        reverse("workflow:my_steps"),
        reverse("workflow:done_by_me"),
        reverse("workflow:notifications"),
    ]


def test_script_as_lead_result_is_shown_escaped_on_the_step_and_period_task_pages(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    # Given the staff member claimed QLCN's lead step
    step = open_step(period_task, "lead", personas)
    client.force_login(personas["staff"])

    # When they submit "<script>alert(1)</script>" as the result
    response = client.post(
        reverse("workflow:step", args=[step.pk]),
        {
            "action": "submit",
            "report-result": SCRIPT,
            "report-self_assessment": "done",
            "report-explanation": "Không có tệp",
        },
    )

    # Then it is stored as written
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.result == SCRIPT
    # and the step page and the period task page show it escaped, never raw
    for persona in PERSONAS_READING:
        client.force_login(personas[persona])
        for url in (
            reverse("workflow:step", args=[step.pk]),
            reverse("workflow:period_task", args=[period_task.pk]),
        ):
            body = client.get(url).content.decode()
            assert SCRIPT not in body, (persona, url)
            assert SCRIPT_ESCAPED in body, (persona, url)


@pytest.mark.parametrize(("stage", "field"), list(FREE_TEXT))
def test_html_in_each_free_text_field_is_stored_and_shown_escaped_everywhere(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, stage: str, field: str
) -> None:
    # Given the step of ``stage`` is claimed by its actor
    step = open_step(period_task, stage, personas)
    client.force_login(personas[ACTOR[stage]])

    # When they submit markup in ``field`` (a draft first, so the form shows it back)
    data = {**FREE_TEXT[(stage, field)], f"report-{field}": f"{SCRIPT} {ATTRIBUTE}"}
    url = reverse("workflow:step", args=[step.pk])
    draft = client.post(url, {"action": "save", **data})
    draft_page = client.get(url).content.decode()
    submitted = client.post(url, {"action": "submit", **data})

    # Then both are accepted and the text is kept as written
    assert (draft.status_code, submitted.status_code) == (302, 302)
    step.refresh_from_db()
    assert getattr(step, field) == f"{SCRIPT} {ATTRIBUTE}"
    assert SCRIPT not in draft_page and ATTRIBUTE not in draft_page
    assert SCRIPT_ESCAPED in draft_page and ATTRIBUTE_ESCAPED in draft_page
    # and no page any persona can open shows it raw; the period task page shows it escaped
    for persona in ("staff", "unit_head", "other_staff", "office_reviewer", "director", "auditor"):
        client.force_login(personas[persona])
        for page in pages_showing(period_task, step):
            response = client.get(page)
            body = response.content.decode()
            assert SCRIPT not in body and ATTRIBUTE not in body, (persona, page)
    client.force_login(personas["auditor"])
    body = client.get(reverse("workflow:period_task", args=[period_task.pk])).content.decode()
    assert SCRIPT_ESCAPED in body and ATTRIBUTE_ESCAPED in body


@pytest.mark.parametrize("action", ["save", "submit"])
@pytest.mark.parametrize(("stage", "field"), list(FREE_TEXT))
def test_over_long_text_is_refused_with_400_and_nothing_is_stored(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, stage: str, field: str, action: str
) -> None:
    # Given the step of ``stage`` is claimed by its actor
    step = open_step(period_task, stage, personas)
    before = Step.objects.filter(pk=step.pk).values().get()
    client.force_login(personas[ACTOR[stage]])

    # When they send 20 001 characters in ``field``
    data = {**FREE_TEXT[(stage, field)], f"report-{field}": "x" * (TEXT_LIMIT + 1), "action": action}
    response = client.post(reverse("workflow:step", args=[step.pk]), data)

    # Then the form comes back with the error on that field and the step is unchanged
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert "20000" in response.context["form"].errors[field][0].replace(".", "")
    assert Step.objects.filter(pk=step.pk).values().get() == before


@pytest.mark.parametrize(("stage", "field"), list(FREE_TEXT))
def test_null_character_is_refused_with_400_not_a_server_error(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, stage: str, field: str
) -> None:
    # PostgreSQL cannot store "\x00" in text: the form must refuse it before the database does
    step = open_step(period_task, stage, personas)
    client.force_login(personas[ACTOR[stage]])
    data = {**FREE_TEXT[(stage, field)], f"report-{field}": "kết quả\x00", "action": "save"}
    response = client.post(reverse("workflow:step", args=[step.pk]), data)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]


def test_exactly_the_limit_is_accepted(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    step = open_step(period_task, "lead", personas)
    client.force_login(personas["staff"])
    data = {"action": "save", "report-result": "đ" * TEXT_LIMIT}
    assert client.post(reverse("workflow:step", args=[step.pk]), data).status_code == 302
    step.refresh_from_db()
    assert len(step.result) == TEXT_LIMIT


def test_markup_in_an_evidence_file_name_is_shown_escaped(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    step = open_step(period_task, "lead", personas)
    client.force_login(personas["staff"])
    upload = SimpleUploadedFile('<img src=x onerror=alert(3)>".pdf', pdf, "application/pdf")
    response = client.post(reverse("workflow:step", args=[step.pk]), {"action": "upload", "file": upload})
    assert response.status_code == 302
    for url in (
        reverse("workflow:step", args=[step.pk]),
        reverse("workflow:period_task", args=[period_task.pk]),
    ):
        body = client.get(url, follow=True).content.decode()
        assert "<img src=x onerror=alert(3)>" not in body, url


@pytest.mark.parametrize(
    "query",
    [
        {"q": SCRIPT},
        {"q": "x" * (TEXT_LIMIT + 1)},
        {"q": "a\x00b"},
        {"appendix": "1\x00"},
        {"unit": "<b>"},
        {"kind": SCRIPT},
    ],
)
def test_hostile_plan_filters_are_dropped_and_never_echoed_raw(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, query: dict[str, str]
) -> None:
    client.force_login(personas["staff"])
    response = client.get(reverse("plans:plan"), query)
    assert response.status_code == 200
    body = response.content.decode()
    assert SCRIPT not in body and "<b>" not in body.replace("<b>Phụ lục", "")


@pytest.mark.parametrize("name", ["workflow:my_steps", "workflow:unit_queue", "workflow:done_by_me"])
@pytest.mark.parametrize(
    "query",
    [
        {"page": "9" * 40},
        {"page": "-1"},
        {"appendix": "x\x00"},
        {"period": "1e9"},
        {"kind": SCRIPT},
        {"overdue": SCRIPT},
    ],
)
def test_hostile_list_filters_never_fail_nor_echo_raw(
    client: Any, personas: dict[str, Any], period_task: PeriodTask, name: str, query: dict[str, str]
) -> None:
    client.force_login(personas["staff"])
    response = client.get(reverse(name), query)
    assert response.status_code == 200
    assert SCRIPT not in response.content.decode()


def test_null_character_in_a_cancel_reason_is_refused_not_a_server_error(
    client: Any, personas: dict[str, Any], period_task: PeriodTask
) -> None:
    from audit.models import AuditEvent

    client.force_login(personas["office_reviewer"])
    response = client.post(
        reverse("workflow:period_task", args=[period_task.pk]), {"action": "cancel", "reason": "Hủy\x00"}
    )
    assert response.status_code == 400
    # (a LIKE pattern with NUL matches every row on SQLite: compare in Python)
    assert not any("\x00" in r for r in AuditEvent.objects.values_list("reason", flat=True))
    assert not AuditEvent.objects.filter(action="cancel").exists()

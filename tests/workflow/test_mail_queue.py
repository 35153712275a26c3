"""Mail goes through the durable queue (workflow/mail.py, workflow/tasks.py).

An action writes its mails and one delivery job in its own transaction; a worker (here the
database backend's worker code, tests/jobs.py) sends each mail once, retries with backoff and
finally lists it for the office, who can send it again. Headers made from plan text are one
line. The real ``db_worker`` command against a real SMTP server: tests/faults/test_mail_outage.py.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import threading
from collections import Counter
from io import StringIO
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from audit.models import AuditEvent
from plans.defaults import DEFAULT_UNITS
from plans.parsing import UnitDirectory, parse_upload
from plans.services import plan_import, unit_directory
from tests.factories import CriterionFactory, periods, plan_task
from tests.helpers import SEED_TXT, Inbox
from tests.jobs import run_queued_jobs
from workflow import mail, services
from workflow.models import Notification, OutgoingMail, PeriodTask, Step

LEAD_REPORT = {"result": "Đã làm", "self_assessment": "done", "explanation": "Hồ sơ giấy"}
START = datetime.datetime(2024, 2, 1, 8, 0, tzinfo=datetime.UTC)
SMTP_PORT = 18201  # this branch's ports: 18200-18219


class OutageBackend(LocmemBackend):
    """The mail server as a switch: while ``down``, connecting fails like a refused connection."""

    down = True

    def open(self) -> bool:
        if OutageBackend.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().open()

    def send_messages(self, messages: Any) -> int:
        if OutageBackend.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().send_messages(messages)


@pytest.fixture
def outage(settings: Any) -> type[OutageBackend]:
    settings.EMAIL_BACKEND = f"{__name__}.OutageBackend"
    OutageBackend.down = True
    return OutageBackend


@pytest.fixture
def launched(units: dict[str, Any], personas: dict[str, Any]) -> PeriodTask:
    """A task led by QLCN, launched in Q1: its lead step is open, QLCN's two people are told."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]])
    services.period_launch(
        period=periods(criterion.section.appendix.plan)["Q1"],
        actor=personas["office_reviewer"],
        plan_tasks=[task],
    )
    return PeriodTask.objects.get(plan_task=task)


def mail_ids_sent() -> list[int]:
    return [int(m.extra_headers["X-CCHC-Mail"]) for m in django_mail.outbox]


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Một dòng ngắn", 50, "Một dòng ngắn"),
        ("- Dòng một;\r\n- Dòng hai\n\t  ba", 50, "- Dòng một; - Dòng hai ba"),
        ("tách\u2028dòng\x85và\x0bthẻ\x00rỗng", 50, "tách dòng và thẻrỗng"),
        ("Nâng cao chất lượng công tác tuyển dụng", 20, "Nâng cao chất lượng…"),
        ("Nâng cao chất lượng, công tác", 21, "Nâng cao chất lượng…"),
        ("Mộttừrấtdàikhôngcókhoảngtrắng", 10, "Mộttừrấtd…"),
    ],
)
def test_header_line_is_one_line_bounded_and_cut_at_a_word(text: str, limit: int, expected: str) -> None:
    line = mail.header_line(text, limit=limit)
    assert line == expected
    assert len(line) <= limit
    assert mail.header_line(line, limit=limit) == line  # applying it again changes nothing


def test_subject_of_a_long_multiline_message_is_one_bounded_line() -> None:
    subject = mail.mail_subject("Việc mới – Thực hiện: - a;\n- b " + "rất dài " * 40)
    assert subject.startswith("[CCHC] Việc mới – Thực hiện: - a; - b rất dài")
    assert "\n" not in subject and "\r" not in subject
    assert len(subject) <= mail.SUBJECT_MAX and subject.endswith("…")


# --- in the action's transaction -------------------------------------------------------------


def test_a_committed_launch_has_its_mails_and_one_job_and_sends_nothing_itself(
    launched: PeriodTask, outage: type[OutageBackend]
) -> None:
    # Given the mail server is down; When the office launched (the fixture), then it succeeded
    rows = list(OutgoingMail.objects.order_by("recipient").values_list("recipient", "status", "attempts"))
    assert rows == [("qlcn_cv@sct.local", "queued", 0), ("qlcn_tp@sct.local", "queued", 0)]
    job = DBTaskResult.objects.get()
    assert job.task_path == "workflow.tasks.deliver_mails"
    assert sorted(job.args_kwargs["kwargs"]["mail_ids"]) == sorted(
        OutgoingMail.objects.values_list("pk", flat=True)
    )
    assert django_mail.outbox == []


def test_a_rolled_back_submit_leaves_no_mail_no_job_and_no_notification(
    launched: PeriodTask, personas: dict[str, Any], monkeypatch: Any
) -> None:
    # Given the lead step is claimed and everything queued so far is delivered
    lead = launched.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    run_queued_jobs()
    before = (OutgoingMail.objects.count(), DBTaskResult.objects.count(), Notification.objects.count())

    # When the submit fails at its very end (the audit append, after the partners were told)
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(services.commands, "audit_record", broken)
    with pytest.raises(RuntimeError):
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)

    # Then nothing of it remains: no mail, no job, no notification
    assert (
        OutgoingMail.objects.count(),
        DBTaskResult.objects.count(),
        Notification.objects.count(),
    ) == before
    monkeypatch.undo()
    # and the same submit, committed, has its mails (QLTM's member) and its job
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_REPORT)
    assert list(OutgoingMail.objects.filter(status="queued").values_list("recipient", flat=True)) == [
        "qltm_cv@sct.local"
    ]
    assert DBTaskResult.objects.filter(status="READY").count() == 1


def test_each_mail_is_sent_once_even_if_its_job_runs_twice(launched: PeriodTask) -> None:
    ids = list(OutgoingMail.objects.values_list("pk", flat=True))
    # Given the same mails are in a second job as well (a retried job, or two workers)
    from workflow.tasks import deliver_mails

    deliver_mails.enqueue(mail_ids=ids)
    # When the worker runs every job, and the delivery once more by hand
    assert run_queued_jobs() == 2
    assert mail.mails_deliver(mail_ids=ids) == {"sent": 0, "failed": 0, "skipped": 2}
    # Then each mail went out once, with a one-line subject, and is marked sent
    assert sorted(mail_ids_sent()) == sorted(ids)
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}
    assert all(OutgoingMail.objects.values_list("sent_at", flat=True))
    subject = django_mail.outbox[0].subject
    assert subject.startswith("[CCHC] Việc mới – Chủ trì thực hiện (Phòng Quản lý công nghiệp): Triển khai")


# --- retries and the office's page ---------------------------------------------------------


def test_a_failing_mail_is_retried_after_1_5_30_minutes_then_failed_and_listed(
    units: dict[str, Any], personas: dict[str, Any], outage: type[OutageBackend], time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    services.period_launch(
        period=periods(criterion.section.appendix.plan)["Q1"],
        actor=personas["office_reviewer"],
        plan_tasks=[task],
    )

    def state() -> set[tuple[str, int]]:
        return set(OutgoingMail.objects.values_list("status", "attempts"))

    # When the worker tries while the server is down, then each mail waits 1 minute
    assert run_queued_jobs() == 1
    assert state() == {("queued", 1)}
    mail_row = OutgoingMail.objects.first()
    assert mail_row.next_attempt_at == START + datetime.timedelta(minutes=1)
    assert mail_row.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert run_queued_jobs() == 0  # nothing is due before then
    for minutes, attempts in ((1, 2), (1 + 5, 3)):
        time_machine.move_to(START + datetime.timedelta(minutes=minutes, seconds=1), tick=False)
        assert run_queued_jobs() == 1
        assert state() == {("queued", attempts)}
    time_machine.move_to(START + datetime.timedelta(minutes=1 + 5 + 29), tick=False)
    assert run_queued_jobs() == 0  # the last wait is 30 minutes
    time_machine.move_to(START + datetime.timedelta(minutes=1 + 5 + 30, seconds=1), tick=False)
    assert run_queued_jobs() == 1
    # Then after the fourth try the mails are failed, kept, and listed for the office
    assert state() == {("failed", 4)}
    assert django_mail.outbox == []
    assert set(mail.mails_needing_attention()) == set(OutgoingMail.objects.all())
    assert run_queued_jobs() == 0  # and nothing tries them again by itself

    client = Client()
    client.force_login(personas["office_reviewer"])
    page = client.get(reverse("workflow:failed_mails")).content.decode()
    assert "Thư gửi lỗi" in page and "qlcn_cv@sct.local" in page and "Gửi không được" in page
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in page
    assert "01/02/2024 15:00" in page  # created at 8:00 UTC, shown in Hà Nội time, dd/mm/yyyy
    assert "Gửi lại tất cả (2 thư)" in page
    assert "thư gửi không được sẽ được thử lại tự động sau 1 phút, 5 phút và 30 phút." in page


def test_office_sends_a_failed_mail_again_and_it_is_delivered_once_and_audited(
    launched: PeriodTask, personas: dict[str, Any], outage: type[OutageBackend], settings: Any
) -> None:
    settings.MAIL_RETRY_DELAYS = ()  # no retry: the first failure is final
    assert run_queued_jobs() == 1
    failed = list(OutgoingMail.objects.order_by("pk"))
    assert [(m.status, m.attempts) for m in failed] == [("failed", 1), ("failed", 1)]
    client = Client()
    client.force_login(personas["office_reviewer"])
    url = reverse("workflow:failed_mails")

    # When the server is back and the office sends the first one again
    outage.down = False
    response = client.post(url, {"mail": str(failed[0].pk)}, follow=True)
    assert "Đã đưa 1 thư vào hàng đợi gửi lại." in response.content.decode()
    failed[0].refresh_from_db()
    assert (failed[0].status, failed[0].attempts) == ("queued", 0)
    event = AuditEvent.objects.get(action="mail_resent")
    assert event.actor == personas["office_reviewer"]
    assert event.data == {"mails": [failed[0].pk], "recipients": [failed[0].recipient]}
    assert run_queued_jobs() == 1
    # Then it is delivered once; the other one is still listed
    assert mail_ids_sent() == [failed[0].pk]
    assert list(mail.mails_needing_attention()) == [failed[1]]

    # When it asks again for the one already sent, then nothing is queued
    again = client.post(url, {"mail": str(failed[0].pk)}, follow=True)
    assert "Không có thư nào cần gửi lại" in again.content.decode()
    # When it sends all again, then the rest goes out, once
    client.post(url, {"all": "1"})
    run_queued_jobs()
    assert sorted(mail_ids_sent()) == [m.pk for m in failed]
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}
    assert "Không có thư nào gửi lỗi." in client.get(url).content.decode()


@pytest.mark.parametrize("data", [{}, {"mail": "abc"}, {"mail": "٣"}, {"mail": "9" * 30}, {"all": "yes"}])
def test_resend_without_a_valid_choice_is_400_and_queues_nothing(
    launched: PeriodTask, personas: dict[str, Any], data: dict[str, str]
) -> None:
    client = Client()
    client.force_login(personas["office_reviewer"])
    jobs = DBTaskResult.objects.count()
    response = client.post(reverse("workflow:failed_mails"), data)
    assert response.status_code == 400
    assert "Chưa chọn thư nào để gửi lại." in response.content.decode()
    assert DBTaskResult.objects.count() == jobs


def test_a_mail_stuck_while_sending_is_listed_and_never_sent_again_by_itself(
    launched: PeriodTask, time_machine: Any
) -> None:
    # Given a worker claimed the mails and died before recording anything
    time_machine.move_to(START, tick=False)
    ids = list(OutgoingMail.objects.values_list("pk", flat=True))
    OutgoingMail.objects.update(status="sending", claimed_at=START, attempts=1)
    # When the jobs run again, then nothing is sent (it may have gone out already)
    run_queued_jobs()
    assert django_mail.outbox == []
    # and after 15 minutes the office sees them, to decide
    assert list(mail.mails_needing_attention()) == []
    time_machine.move_to(START + datetime.timedelta(minutes=16), tick=False)
    assert sorted(m.pk for m in mail.mails_needing_attention()) == sorted(ids)


# --- who may --------------------------------------------------------------------------------

NOT_OFFICE = ("staff", "unit_head", "other_staff", "atnl_staff", "director", "deputy", "auditor")


@pytest.mark.parametrize("persona", NOT_OFFICE)
def test_failed_mails_page_and_resend_are_refused_outside_the_office(
    launched: PeriodTask, personas: dict[str, Any], persona: str, outage: type[OutageBackend], settings: Any
) -> None:
    settings.MAIL_RETRY_DELAYS = ()
    run_queued_jobs()
    client = Client()
    client.force_login(personas[persona])
    url = reverse("workflow:failed_mails")
    assert client.get(url).status_code == 403
    assert client.post(url, {"all": "1"}).status_code == 403
    with pytest.raises(PermissionDenied):
        mail.mails_resend(actor=personas[persona], mail_ids=None)
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"failed"}
    assert not AuditEvent.objects.filter(action="mail_resent").exists()


def test_failed_mails_page_sends_the_anonymous_to_the_login(db: Any) -> None:
    response = Client().post(reverse("workflow:failed_mails"), {"all": "1"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_resend_without_the_csrf_token_is_refused(launched: PeriodTask, personas: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["office_reviewer"])
    assert client.post(reverse("workflow:failed_mails"), {"all": "1"}).status_code == 403


def test_the_office_finds_the_page_in_the_menu(personas: dict[str, Any]) -> None:
    link = f'href="{reverse("workflow:failed_mails")}"'
    client = Client()
    client.force_login(personas["office_reviewer"])
    assert link in client.get(reverse("workflow:my_steps")).content.decode()
    client.force_login(personas["staff"])
    assert link not in client.get(reverse("workflow:my_steps")).content.decode()


# --- two workers at once (PostgreSQL: real row locks) ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_mail_once(units: dict[str, Any], personas: dict[str, Any]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) between connections: PostgreSQL; SQLite: test_mail_outage.py")
    # Twelve queued mails (a launch now sends one mail per person: queue them directly)
    with transaction.atomic():
        mail.mails_enqueue(
            [
                OutgoingMail(recipient=f"nguoi{n}@sct.local", subject=f"[CCHC] Thư {n}", body=f"Nội dung {n}")
                for n in range(12)
            ]
        )
    ids = list(OutgoingMail.objects.values_list("pk", flat=True))
    assert len(ids) == 12
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            mail.mails_deliver(mail_ids=ids)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert Counter(mail_ids_sent()) == Counter(ids)
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}


# --- a real SMTP server, the seed plan's task 32 ---------------------------------------------


@pytest.fixture
def smtp_server(settings: Any) -> Any:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", SMTP_PORT
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_seed_task_32_with_its_line_break_reaches_a_real_smtp_server_with_a_one_line_subject(
    units: dict[str, Any], personas: dict[str, Any], smtp_server: Inbox
) -> None:
    # Given the seed plan, whose task 32 (as the file has it) holds a line break
    data = SEED_TXT.read_bytes()
    task_32 = parse_upload(SEED_TXT.name, data, UnitDirectory.from_seed(DEFAULT_UNITS)).tasks[31].task
    assert "\n" in task_32
    plan = plan_import(parsed=parse_upload(SEED_TXT.name, data, unit_directory())).plan
    plan_task_32 = plan.tasks.get(position=32)
    assert plan_task_32.task == task_32

    # When the office launches it in Q1 and the worker delivers its mails over SMTP
    services.period_launch(
        period=periods(plan)["Q1"], actor=personas["office_reviewer"], plan_tasks=[plan_task_32]
    )
    queued = OutgoingMail.objects.count()
    assert queued >= 1
    run_queued_jobs()

    # Then every mail arrived, once, with a one-line bounded subject made from the task's text
    received = [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp_server.messages]
    assert sorted(int(m["X-CCHC-Mail"]) for m in received) == sorted(
        OutgoingMail.objects.values_list("pk", flat=True)
    )
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}
    first_line = task_32.split("\n")[0]
    subjects = dict(OutgoingMail.objects.values_list("pk", "subject"))
    for message in received:
        # Python's mail library folds a long encoded subject from its first character on
        # ("Subject:" CRLF SP "=?utf-8?b?…"): legal folding, read back with one leading space.
        subject = str(message["Subject"]).removeprefix(" ")
        assert subject == subjects[int(message["X-CCHC-Mail"])]
        assert "\n" not in subject and "\r" not in subject
        assert len(subject) <= mail.SUBJECT_MAX
        assert subject.startswith("[CCHC] Việc mới – Chủ trì thực hiện")
        assert first_line[:40] in subject
        assert subject.endswith("…")
        # the body keeps the text as written, line break included
        assert task_32.split("\n")[1][:30] in message.get_content()


def test_a_submit_in_the_seed_plan_mails_the_partners_over_smtp(
    units: dict[str, Any], personas: dict[str, Any], smtp_server: Inbox
) -> None:
    plan = plan_import(parsed=parse_upload(SEED_TXT.name, SEED_TXT.read_bytes(), unit_directory())).plan
    task = (
        plan.tasks.filter(lead_units=units["QLCN"]).exclude(partner_units=None).order_by("position").first()
    )
    services.period_launch(period=periods(plan)["Q1"], actor=personas["office_reviewer"], plan_tasks=[task])
    lead = Step.objects.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    # The lead asks every partner unit (the row names "Các phòng, đơn vị thuộc sở": none is proposed)
    asked = list(task.partner_units.exclude(pk__in=task.lead_units.all()).values_list("pk", flat=True))
    data = {**LEAD_REPORT, "partners_asked": asked}
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=data)
    run_queued_jobs()
    partners = OutgoingMail.objects.filter(subject__contains="Phối hợp cho ý kiến")
    assert partners.exists()
    assert len(smtp_server.messages) == OutgoingMail.objects.count()
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {"sent"}


# --- reminders --------------------------------------------------------------------------------


def test_reminders_queue_their_mails_and_the_command_never_waits_for_the_mail_server(
    launched: PeriodTask, outage: type[OutageBackend], time_machine: Any
) -> None:
    # Given the launch's mails are delivered and the mail server is down
    outage.down = False
    run_queued_jobs()
    outage.down = True
    django_mail.outbox.clear()
    OutgoingMail.objects.all().delete()
    # When the daily reminders run 7 working days before the lead step's due date (29/02/2024)
    time_machine.move_to(datetime.datetime(2024, 2, 20, 0, 30, tzinfo=datetime.UTC), tick=False)
    out = StringIO()
    call_command("send_reminders", stdout=out)
    # Then the reminders are recorded and their mails queued, one job for them, nothing sent
    assert out.getvalue() == "Đã gửi 1 nhắc hạn.\n"
    assert sorted(OutgoingMail.objects.values_list("recipient", "status")) == [
        ("qlcn_cv@sct.local", "queued"),
        ("qlcn_tp@sct.local", "queued"),
    ]
    assert OutgoingMail.objects.first().subject.startswith("[CCHC] Còn 7 ngày làm việc đến hạn (29/02/2024)")
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    # and when the server is back, the worker delivers them
    outage.down = False
    run_queued_jobs()
    assert sorted(m.to[0] for m in django_mail.outbox) == ["qlcn_cv@sct.local", "qlcn_tp@sct.local"]

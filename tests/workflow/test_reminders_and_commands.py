from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.models import Membership
from tests.factories import CriterionFactory, periods, plan_task
from tests.jobs import run_queued_jobs
from workflow import services
from workflow.models import Notification, PeriodTask, Reminder, Step


@pytest.fixture
def lead_step(units, personas):
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]  # deadline 10/03/2024, lead due 04/03/2024
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    return PeriodTask.objects.get(plan_task=task).steps.get(kind="lead")


def reminders_on(day: datetime.date) -> list[str]:
    services.reminders_send(today=day)
    return sorted(Reminder.objects.values_list("kind", flat=True))


def test_reminders_go_out_7_3_1_days_before_and_when_missed_once_each(lead_step, personas):
    assert lead_step.due_date == datetime.date(2024, 3, 4)
    assert reminders_on(datetime.date(2024, 2, 20)) == []
    assert reminders_on(datetime.date(2024, 2, 26)) == ["d7"]
    assert reminders_on(datetime.date(2024, 2, 26)) == ["d7"]  # same day again: nothing new
    assert reminders_on(datetime.date(2024, 3, 1)) == ["d3", "d7"]
    assert reminders_on(datetime.date(2024, 3, 3)) == ["d1", "d3", "d7"]
    assert reminders_on(datetime.date(2024, 3, 5)) == ["d1", "d3", "d7", "missed"]
    assert reminders_on(datetime.date(2024, 3, 9)) == ["d1", "d3", "d7", "missed"]
    texts = list(
        Notification.objects.filter(user=personas["staff"], message__startswith=("Còn")).values_list(
            "message", flat=True
        )
    )
    assert len(texts) == 3


def test_reminder_goes_to_the_assignee_once_claimed(lead_step, personas):
    services.step_claim(step_id=lead_step.pk, user=personas["staff"])
    run_queued_jobs()  # the launch's mails
    mail.outbox.clear()
    sent = services.reminders_send(today=datetime.date(2024, 3, 3))
    assert sent == 1
    note = Notification.objects.filter(message__startswith="Còn 1 ngày").get()
    assert note.user == personas["staff"]
    assert mail.outbox == []  # queued with the reminder; a worker sends it
    assert run_queued_jobs() == 1
    assert [m.to for m in mail.outbox] == [["qlcn_cv@sct.local"]]


def test_done_steps_get_no_reminder(lead_step, personas):
    services.step_claim(step_id=lead_step.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead_step.pk,
        user=personas["staff"],
        data={"result": "x", "self_assessment": "done", "explanation": "y"},
    )
    services.reminders_send(today=datetime.date(2024, 3, 3))
    assert not Reminder.objects.filter(step=lead_step).exists()


def test_send_reminders_command_reports_the_count(lead_step, time_machine):
    time_machine.move_to(datetime.datetime(2024, 2, 26, 8, 0, tzinfo=datetime.UTC))
    out = StringIO()
    call_command("send_reminders", stdout=out)
    call_command("send_reminders", stdout=out)
    assert out.getvalue().splitlines() == ["Đã gửi 1 nhắc hạn.", "Đã gửi 0 nhắc hạn."]


def test_launch_period_command_is_idempotent(units):
    criterion = CriterionFactory()
    plan_task(criterion, lead=[units["QLCN"]])
    plan_task(criterion, lead=[units["QLTM"]], timeline_kind="year")
    out = StringIO()
    call_command("launch_period", "--period", "Q1", stdout=out)
    call_command("launch_period", "--period", "Q1", stdout=out)
    call_command("launch_period", "--period", "Y", stdout=out)
    assert out.getvalue().splitlines() == [
        "Kỳ Quý I/2024: khởi tạo 1 quy trình, bỏ qua 0 đã có.",
        "Kỳ Quý I/2024: khởi tạo 0 quy trình, bỏ qua 1 đã có.",
        "Kỳ Năm/2024: khởi tạo 2 quy trình, bỏ qua 0 đã có.",
    ]


def test_launch_period_without_a_plan_says_so(db):
    with pytest.raises(CommandError, match="Không tìm thấy kế hoạch"):
        call_command("launch_period", "--period", "Q1")


def test_step_arrival_notifies_the_unit_and_queues_its_mails(units, personas):
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    assert mail.outbox == []  # the action only queues its mails; a worker sends them
    assert set(Notification.objects.values_list("user__username", flat=True)) == {"qlcn_cv", "qlcn_tp"}
    run_queued_jobs()
    assert sorted(addr for m in mail.outbox for addr in m.to) == ["qlcn_cv@sct.local", "qlcn_tp@sct.local"]


def test_a_submit_writes_all_its_notifications_and_mails_in_one_insert_each(units, personas):
    """The lead's report opens a step in each partner unit: every member of both units is told,
    in one INSERT for the whole action; their mails are one INSERT and one job, sent by a worker."""
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"], units["ATNL"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    lead = Step.objects.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    Notification.objects.all().delete()
    run_queued_jobs()
    mail.outbox.clear()
    report = {"result": "Đã làm", "self_assessment": "done", "explanation": "Hồ sơ giấy"}
    with CaptureQueriesContext(connection) as queries:
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=report)

    def inserts(table: str) -> int:
        return len([q for q in queries.captured_queries if f'INSERT INTO "{table}"' in q["sql"]])

    assert (inserts("workflow_notification"), inserts("workflow_outgoingmail")) == (1, 1)
    assert inserts("django_tasks_database_dbtaskresult") == 1
    expected = set(
        Membership.objects.filter(unit__short_name__in=["QLTM", "ATNL"]).values_list(
            "user__username", flat=True
        )
    )
    assert set(Notification.objects.values_list("user__username", flat=True)) == expected
    assert Notification.objects.filter(step__kind="partner").count() == len(expected)
    assert mail.outbox == []
    assert run_queued_jobs() == 1
    assert {addr for m in mail.outbox for addr in m.to} == {f"{name}@sct.local" for name in expected}

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
def lead_step(launch):
    # Quý I/2024: deadline Sunday 10/03 -> Friday 08/03; lead due 6 working days before: Thu 29/02.
    return launch(["QLCN"]).steps.get(kind="lead")


def reminders_on(day: datetime.date) -> list[str]:
    services.reminders_send(today=day)
    return sorted(Reminder.objects.values_list("kind", flat=True))


def test_reminders_go_out_7_3_1_working_days_before_and_when_missed_once_each(lead_step, personas):
    assert lead_step.due_date == datetime.date(2024, 2, 29)
    assert reminders_on(datetime.date(2024, 2, 19)) == []  # 8 working days before
    assert reminders_on(datetime.date(2024, 2, 20)) == ["d7"]  # Tuesday: 7 working days before
    assert reminders_on(datetime.date(2024, 2, 20)) == ["d7"]  # same day again: nothing new
    assert reminders_on(datetime.date(2024, 2, 23)) == ["d7"]  # Friday: 4 working days before
    assert reminders_on(datetime.date(2024, 2, 26)) == ["d3", "d7"]  # Monday: 3 working days before
    assert reminders_on(datetime.date(2024, 2, 28)) == ["d1", "d3", "d7"]
    assert reminders_on(datetime.date(2024, 3, 2)) == ["d1", "d3", "d7"]  # Saturday: nothing is sent
    assert reminders_on(datetime.date(2024, 3, 4)) == ["d1", "d3", "d7", "missed"]  # Monday: the miss
    assert reminders_on(datetime.date(2024, 3, 5)) == ["d1", "d3", "d7", "missed"]
    texts = sorted(
        Notification.objects.filter(user=personas["staff"], message__startswith=("Còn")).values_list(
            "message", flat=True
        )
    )
    assert [t.split(":")[0] for t in texts] == [
        "Còn 1 ngày làm việc đến hạn (29/02/2024)",
        "Còn 3 ngày làm việc đến hạn (29/02/2024)",
        "Còn 7 ngày làm việc đến hạn (29/02/2024)",
    ]


def test_no_reminder_is_sent_on_a_weekend_or_holiday_and_the_next_working_day_catches_up(units, personas):
    # Given a lead step due Thursday 29/02/2024
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    services.period_launch(
        period=periods(criterion.section.appendix.plan)["Q1"],
        actor=personas["office_reviewer"],
        plan_tasks=[task],
    )
    # When the cron runs during Tết and on the weekend, 7 working days before falls on Tuesday 20/02
    for day in (10, 11, 12, 13, 14, 17, 18):  # Tết 10–14/02, then Saturday and Sunday
        assert services.reminders_send(today=datetime.date(2024, 2, day)) == 0
    # Then the first working day that is 7 working days before sends it
    assert services.reminders_send(today=datetime.date(2024, 2, 19)) == 0
    assert services.reminders_send(today=datetime.date(2024, 2, 20)) == 1


def test_a_step_due_on_monday_gets_its_one_day_reminder_on_friday(units, personas, settings):
    # Given the H1/2024 deadline Monday 10/06: the sign-off step is due that Monday
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["H1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    step = PeriodTask.objects.get(plan_task=task).steps.get(kind="lead")
    Step.objects.filter(pk=step.pk).update(due_date=datetime.date(2024, 6, 10))
    # Friday 07/06 is one working day before; the weekend sends nothing
    assert reminders_on(datetime.date(2024, 6, 7)) == ["d1"]
    assert reminders_on(datetime.date(2024, 6, 8)) == ["d1"]
    assert reminders_on(datetime.date(2024, 6, 9)) == ["d1"]
    assert reminders_on(datetime.date(2024, 6, 11)) == ["d1", "missed"]


def test_reminder_goes_to_the_assignee_once_claimed(lead_step, personas):
    services.step_claim(step_id=lead_step.pk, user=personas["staff"])
    run_queued_jobs()  # the launch's mails
    mail.outbox.clear()
    sent = services.reminders_send(today=datetime.date(2024, 2, 28))
    assert sent == 1
    note = Notification.objects.filter(message__startswith="Còn 1 ngày làm việc").get()
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
    services.reminders_send(today=datetime.date(2024, 2, 28))
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

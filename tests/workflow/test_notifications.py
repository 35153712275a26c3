"""Notifications people read: one per person per launch, read when opened or when what they point
to is viewed, a badge that drops, text cut at a word, a link on every kind, a daily mail digest."""

from __future__ import annotations

import datetime
import re
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import roles
from plans.models import Criterion
from tests.factories import periods, plan_task
from tests.helpers import LEAD_DONE, launch
from tests.jobs import run_queued_jobs
from workflow import services
from workflow.models import Notification, OutgoingMail, Step
from workflow.notifications import notification_text

BADGE = re.compile(r'<span class="badge">(\d+)</span>')
LONG_TASK = " ".join(["Rà soát, đơn giản hóa thủ tục hành chính nội bộ"] * 8)  # 390 characters
HANOI = datetime.timezone(datetime.timedelta(hours=7))


def decide(step: Step, user: Any, decision: str, reason: str = "") -> None:
    services.step_claim(step_id=step.pk, user=user)
    services.step_submit(step_id=step.pk, user=user, data={"decision": decision, "reason": reason})


def notes_of(user: Any) -> list[tuple[str, str]]:
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("message", "url"))


def badge(html: str) -> int:
    found = BADGE.search(html)
    return int(found.group(1)) if found else 0


def inserts(queries: CaptureQueriesContext, table: str) -> int:
    return len([q for q in queries.captured_queries if f'INSERT INTO "{table}"' in q["sql"]])


# --- one notification per person per launch ---------------------------------------------------


def test_a_launch_of_70_runs_tells_each_person_of_the_office_and_the_unit_once(
    criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any], make_user: Any
) -> None:
    # Given a second office reviewer, 62 tasks led by the office and 8 by QLCN
    second = make_user("vp_cv2", unit="VP", role=roles.OFFICE_REVIEWER)
    office_tasks = [plan_task(criterion, lead=[units["VP"]]) for _ in range(62)]
    unit_tasks = [plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]]) for _ in range(8)]

    # When the office launches the 70 runs of Quý I
    with CaptureQueriesContext(connection) as queries:
        started = launch(q1, personas, office_tasks + unit_tasks)

    # Then each person of the office and of QLCN has exactly one notification about it, with a link
    # to their unit's list filtered by the period
    assert len(started) == 70
    office_list = f"{reverse('workflow:unit_queue')}?period={q1.pk}"
    for person in (personas["office_reviewer"], second):
        assert notes_of(person) == [("62 việc mới trong Quý I/2024", office_list)]
    for person in (personas["staff"], personas["unit_head"]):
        assert notes_of(person) == [("8 việc mới trong Quý I/2024", office_list)]
    assert Notification.objects.count() == 4  # partners are asked later: QLTM hears nothing yet
    # and one mail each, written with the notifications in one INSERT each
    assert sorted(OutgoingMail.objects.values_list("recipient", "subject")) == [
        ("qlcn_cv@sct.local", "[CCHC] 8 việc mới trong Quý I/2024"),
        ("qlcn_tp@sct.local", "[CCHC] 8 việc mới trong Quý I/2024"),
        ("vp_cchc@sct.local", "[CCHC] 62 việc mới trong Quý I/2024"),
        ("vp_cv2@sct.local", "[CCHC] 62 việc mới trong Quý I/2024"),
    ]
    assert (inserts(queries, "workflow_notification"), inserts(queries, "workflow_outgoingmail")) == (1, 1)
    body = OutgoingMail.objects.get(recipient="vp_cchc@sct.local").body
    assert body == f"62 việc mới trong Quý I/2024\n\n{office_list}"


def test_the_launch_notification_leads_to_the_list_of_exactly_those_steps(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given 3 QLCN runs launched in Quý I and one in Quý II
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(3)])
    q2_task = plan_task(criterion, lead=[units["QLCN"]])
    launch(periods(criterion.section.appendix.plan)["H1"], personas, [q2_task])
    (message, url), _other = notes_of(personas["staff"])
    assert message == "3 việc mới trong Quý I/2024"

    # When the staff member follows the link
    client.force_login(personas["staff"])
    html = client.get(url).content.decode()

    # Then the list shows the three steps of Quý I only
    assert html.count('href="/quy-trinh/buoc/') == 3
    h1_step = Step.objects.get(period_task__plan_task=q2_task)
    assert f'href="/quy-trinh/buoc/{h1_step.pk}/"' not in html


def test_a_single_new_step_keeps_its_own_text_and_direct_link(
    criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task="Rà soát thủ tục")])
    step = pt.steps.get(kind="lead")
    ((message, url),) = notes_of(personas["staff"])
    assert message.startswith("Việc mới – Chủ trì thực hiện (Phòng Quản lý công nghiệp): Rà soát thủ tục")
    assert url == reverse("workflow:step", args=[step.pk])
    assert OutgoingMail.objects.filter(recipient="qlcn_cv@sct.local").values_list(
        "body", flat=True
    ).get() == (f"{message}\n\n{url}")


def test_a_return_tells_the_author_and_the_unit_separately_not_as_new_work(
    criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given QLCN's report is in the office's review
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_DONE)
    review = pt.steps.get(kind="review")
    Notification.objects.all().delete()

    # When the office returns it to the lead unit
    decide(review, personas["office_reviewer"], Step.Decision.RETURN_LEAD, "Thiếu tài liệu kiểm chứng")

    # Then the author, to whom the returned step goes back, hears of it once, with the reason and
    # a link straight to it: nothing is folded into "2 việc mới"
    lead2 = pt.steps.get(kind="lead", round=2)
    ((message, url),) = notes_of(personas["staff"])
    assert message.startswith("Việc mới – bị trả lại (vòng 2)") and "Thiếu tài liệu kiểm chứng" in message
    assert "việc mới trong" not in message
    assert url == reverse("workflow:step", args=[lead2.pk])


# --- read when opened or when what it points to is viewed ---------------------------------------


def test_viewing_the_filtered_list_marks_the_launch_notification_read_and_the_badge_drops(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(3)])
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])  # a 4th, alone
    client.force_login(personas["staff"])
    assert badge(client.get(reverse("workflow:notifications")).content.decode()) == 2

    # When the staff member views the Quý I list of their unit
    html = client.get(f"{reverse('workflow:unit_queue')}?period={q1.pk}").content.decode()

    # Then the launch notification is read and the badge on that very page says 1 (the single step's)
    assert badge(html) == 1
    unread = Notification.objects.filter(user=personas["staff"], read_at__isnull=True)
    assert list(unread.values_list("step_id", flat=True)) == [pt.steps.get().pk]
    # and the unit head's copy is still unread
    assert Notification.objects.filter(user=personas["unit_head"], read_at__isnull=True).count() == 2


def test_viewing_the_unfiltered_list_leaves_the_launch_notification_unread(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(2)])
    client.force_login(personas["staff"])
    assert badge(client.get(reverse("workflow:unit_queue")).content.decode()) == 1


def test_viewing_a_step_marks_its_notifications_read_for_that_person_only(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = pt.steps.get()
    client.force_login(personas["staff"])

    html = client.get(reverse("workflow:step", args=[step.pk])).content.decode()

    assert badge(html) == 0
    assert Notification.objects.get(user=personas["staff"]).read_at is not None
    assert Notification.objects.get(user=personas["unit_head"]).read_at is None


def test_opening_a_notification_marks_it_read_and_goes_to_its_link(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(2)])
    note = Notification.objects.get(user=personas["staff"])
    client.force_login(personas["staff"])

    response = client.post(reverse("workflow:notification_open", args=[note.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('workflow:unit_queue')}?period={q1.pk}"
    note.refresh_from_db()
    assert note.read_at is not None
    assert badge(client.get(reverse("workflow:notifications")).content.decode()) == 0


def test_someone_elses_notification_cannot_be_opened_or_marked_read(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    note = Notification.objects.get(user=personas["staff"])
    client.force_login(personas["unit_head"])  # same unit, own copy of the same news

    assert client.post(reverse("workflow:notification_open", args=[note.pk])).status_code == 404
    assert client.post(reverse("workflow:notification_open", args=[999_999])).status_code == 404
    assert client.post(reverse("workflow:notification_open", args=[10**20])).status_code == 404
    assert client.get(reverse("workflow:notification_open", args=[note.pk])).status_code == 405
    note.refresh_from_db()
    assert note.read_at is None


def test_a_notification_whose_link_is_not_local_goes_to_the_notifications_page(
    client: Any, personas: dict[str, Any]
) -> None:
    note = Notification.objects.create(user=personas["staff"], message="Lạ", url="//evil.example/x")
    client.force_login(personas["staff"])
    response = client.post(reverse("workflow:notification_open", args=[note.pk]))
    assert response["Location"] == reverse("workflow:notifications")


def test_mark_all_read_marks_only_ones_own(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    client.force_login(personas["staff"])
    html = client.get(reverse("workflow:notifications")).content.decode()
    assert badge(html) == 2 and "Đánh dấu tất cả đã đọc" in html

    response = client.post(reverse("workflow:notifications"), follow=True)

    html = response.content.decode()
    assert badge(html) == 0 and "Đã đánh dấu tất cả là đã đọc." in html
    assert "Đánh dấu tất cả đã đọc" not in html  # nothing left to mark
    assert Notification.objects.filter(user=personas["unit_head"], read_at__isnull=True).count() == 2


def test_the_badge_is_left_out_for_an_anonymous_request(rf: Any) -> None:
    from workflow.context_processors import notifications

    assert notifications(rf.get("/")) == {}


# --- text cut at a word, a link on every kind ----------------------------------------------------


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = notification_text("Lý do: " + "không đạt yêu cầu " * 40)
    assert len(text) <= 500
    assert text.endswith("yêu cầu…") or text.endswith("không…") or text.endswith("đạt…")
    assert ("Lý do: " + "không đạt yêu cầu " * 40).startswith(text[:-1])


def test_every_kind_of_notification_has_a_link_and_no_word_cut_in_half(
    criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # A run with a long task text goes through every kind: new work, assignment, review, a
    # return (its outcome), approval, a deadline reminder
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task=LONG_TASK)])
    lead = pt.steps.get(kind="lead")
    services.step_assign(step_id=lead.pk, actor=personas["unit_head"], assignee=personas["staff"])
    services.reminders_send(today=lead.due_date - datetime.timedelta(days=1))
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_DONE)
    review = pt.steps.get(kind="review")
    decide(review, personas["office_reviewer"], Step.Decision.RETURN_LEAD, "Thiếu tài liệu")
    lead2 = pt.steps.get(kind="lead", round=2)
    services.step_claim(step_id=lead2.pk, user=personas["staff"])
    services.step_submit(step_id=lead2.pk, user=personas["staff"], data=LEAD_DONE)
    review2 = pt.steps.get(kind="review", round=2)
    decide(review2, personas["office_reviewer"], Step.Decision.APPROVE)

    notes = list(Notification.objects.values_list("message", "url"))
    kinds = {message.split(":")[0].split(" – ")[0] for message, _url in notes}
    assert {
        "Việc mới",
        "Bạn được giao",
        f"Còn 1 ngày làm việc đến hạn ({lead.due_date:%d/%m/%Y})",
    } <= kinds
    assert any(m.startswith("Việc mới – bị trả lại (vòng 2)") for m, _ in notes)
    assert any(m.startswith("Nhiệm vụ đã được Văn phòng Sở thẩm định đạt") for m, _ in notes)
    # Then every one links to a page of the application that its reader may open
    assert all(url.startswith("/quy-trinh/") for _message, url in notes), notes
    # and the texts this part writes are cut at a word, with "…"
    for message, _url in notes:
        if message.startswith(("Bạn được giao", "Còn 1 ngày")):
            cut = message.split(" – ", 1)[1]
            assert cut.endswith("…") and LONG_TASK.startswith(cut[:-1]), message
            assert LONG_TASK[len(cut) - 1] in " ,", message  # the next character starts a new word


def test_every_notification_link_opens_for_its_reader(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    lead = pt.steps.get(kind="lead")
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_DONE)
    review = pt.steps.get(kind="review")
    decide(review, personas["office_reviewer"], Step.Decision.RETURN_LEAD, "Thiếu")
    for note in Notification.objects.select_related("user"):
        client.force_login(note.user)
        response = client.post(reverse("workflow:notification_open", args=[note.pk]), follow=True)
        assert response.status_code == 200, (note.user.username, note.message, note.url)


# --- the daily digest -------------------------------------------------------------------------


@pytest.fixture
def digest_on(settings: Any) -> None:
    settings.MAIL_DIGEST = True


def test_with_the_digest_on_actions_queue_no_mail(
    digest_on: None, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    services.step_assign(step_id=pt.steps.get().pk, actor=personas["unit_head"], assignee=personas["staff"])
    assert Notification.objects.count() == 3
    assert OutgoingMail.objects.count() == 0


def test_the_digest_mails_each_person_the_days_notifications_once(
    digest_on: None,
    time_machine: Any,
    criterion: Criterion,
    q1: Any,
    units: dict[str, Any],
    personas: dict[str, Any],
) -> None:
    # Given on 01/12/2026 (Hà Nội time) two launches and an assignment, and one more launch at
    # 00:30 on 02/12
    time_machine.move_to(datetime.datetime(2026, 12, 1, 0, 10, tzinfo=HANOI), tick=False)
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(3)])
    time_machine.move_to(datetime.datetime(2026, 12, 1, 23, 50, tzinfo=HANOI), tick=False)
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task="Công khai TTHC")])
    step = pt.steps.get()
    services.step_assign(step_id=step.pk, actor=personas["unit_head"], assignee=personas["staff"])
    time_machine.move_to(datetime.datetime(2026, 12, 2, 0, 30, tzinfo=HANOI), tick=False)
    launch(q1, personas, [plan_task(criterion, lead=[units["ATNL"]])])

    # When the cron runs send_digest at 06:00 on 02/12
    time_machine.move_to(datetime.datetime(2026, 12, 2, 6, 0, tzinfo=HANOI), tick=False)
    out = StringIO()
    call_command("send_digest", stdout=out)

    # Then QLCN's two people get one mail each about 01/12, listing that day's notifications
    assert out.getvalue().strip() == "Đã xếp 2 thư tóm tắt ngày 01/12/2026 vào hàng đợi gửi."
    subject = "[CCHC] Tóm tắt thông báo ngày 01/12/2026"
    assert sorted(OutgoingMail.objects.values_list("recipient", "subject")) == [
        ("qlcn_cv@sct.local", subject),
        ("qlcn_tp@sct.local", subject),
    ]
    body = OutgoingMail.objects.get(recipient="qlcn_cv@sct.local").body
    step_url = reverse("workflow:step", args=[step.pk])
    assert body.splitlines() == [
        "Thông báo của bạn trong ngày 01/12/2026 (3):",
        "",
        "- 00:10 3 việc mới trong Quý I/2024",
        f"  {reverse('workflow:unit_queue')}?period={q1.pk}",
        "- 23:50 Việc mới – Chủ trì thực hiện (Phòng Quản lý công nghiệp): Công khai TTHC – kỳ Quý I/2024",
        f"  {step_url}",
        "- 23:50 Bạn được giao: Chủ trì thực hiện – Công khai TTHC",
        f"  {step_url}",
    ]
    # and a worker sends them through the mail queue
    assert run_queued_jobs() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["qlcn_cv@sct.local", "qlcn_tp@sct.local"]

    # When it runs again the same day: nobody gets a second digest of 01/12
    call_command("send_digest", stdout=StringIO())
    assert OutgoingMail.objects.count() == 2

    # and the next morning ATNL's staff gets theirs for 02/12
    time_machine.move_to(datetime.datetime(2026, 12, 3, 6, 0, tzinfo=HANOI), tick=False)
    call_command("send_digest", stdout=StringIO())
    assert OutgoingMail.objects.filter(
        subject="[CCHC] Tóm tắt thông báo ngày 02/12/2026"
    ).get().recipient == ("atnl_cv@sct.local")


def test_the_digest_command_takes_a_date_and_refuses_a_bad_one(
    digest_on: None, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    out = StringIO()
    call_command("send_digest", "--date", "05/01/2024", stdout=out)
    assert out.getvalue().strip() == "Đã xếp 0 thư tóm tắt ngày 05/01/2024 vào hàng đợi gửi."
    for bad in ("31/02/2024", "2024-01-05", "hôm qua"):
        with pytest.raises(CommandError, match="Ngày không hợp lệ: hãy ghi dạng dd/mm/yyyy"):
            call_command("send_digest", "--date", bad, stdout=StringIO())


def test_with_the_digest_off_the_command_sends_nothing(
    time_machine: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    time_machine.move_to(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=HANOI), tick=False)
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    before = OutgoingMail.objects.count()
    assert before == 2  # one mail per notification, as it happens
    time_machine.move_to(datetime.datetime(2026, 12, 2, 6, 0, tzinfo=HANOI), tick=False)
    out = StringIO()
    call_command("send_digest", stdout=out)
    assert "MAIL_DIGEST chưa bật" in out.getvalue()
    assert OutgoingMail.objects.count() == before

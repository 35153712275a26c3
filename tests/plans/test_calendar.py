"""The working-day calendar (plans.calendar): holidays, entered days, counting, the page."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from plans import calendar
from plans.models import CalendarDay, ReportingPeriod
from tests.factories import PlanFactory, periods

D = datetime.date


def days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=i) for i in range((last - first).days + 1)]


# --- the public holidays, as domain.md states them ---------------------------------------------


@pytest.mark.django_db
def test_tet_2024_is_08_to_14_february_and_the_days_around_it_are_working_days() -> None:
    assert [calendar.is_working_day(d) for d in days(D(2024, 2, 8), D(2024, 2, 14))] == [False] * 7
    assert calendar.is_working_day(D(2024, 2, 7))  # Wednesday before
    assert calendar.is_working_day(D(2024, 2, 15))  # Thursday after


@pytest.mark.django_db
def test_tet_2025_is_25_january_to_2_february() -> None:
    assert [calendar.is_working_day(d) for d in days(D(2025, 1, 25), D(2025, 2, 2))] == [False] * 9
    assert calendar.is_working_day(D(2025, 1, 24))
    assert calendar.is_working_day(D(2025, 2, 3))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "day",
    [
        D(2024, 1, 1),
        D(2024, 4, 18),  # Giỗ Tổ Hùng Vương 2024 (10/3 âm lịch)
        D(2024, 4, 29),  # bridging day, made up on Saturday 04/05
        D(2024, 4, 30),
        D(2024, 5, 1),
        D(2024, 9, 2),
        D(2024, 9, 3),
        D(2025, 4, 7),  # Giỗ Tổ Hùng Vương 2025
        D(2025, 9, 1),
        D(2025, 9, 2),
    ],
)
def test_public_holidays_are_off(day: datetime.date) -> None:
    assert not calendar.is_working_day(day)


@pytest.mark.django_db
def test_weekends_are_off_except_an_announced_make_up_saturday() -> None:
    assert not calendar.is_working_day(D(2024, 3, 9))  # Saturday
    assert not calendar.is_working_day(D(2024, 3, 10))  # Sunday
    assert calendar.is_working_day(D(2024, 3, 8))  # Friday
    assert calendar.is_working_day(D(2024, 5, 4))  # Saturday, worked instead of 29/04/2024


# --- counting ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_previous_and_next_working_day_skip_weekends_and_tet() -> None:
    assert calendar.previous_working_day(D(2024, 3, 11)) == D(2024, 3, 8)
    assert calendar.next_working_day(D(2024, 3, 8)) == D(2024, 3, 11)
    assert calendar.previous_working_day(D(2024, 2, 14)) == D(2024, 2, 7)
    assert calendar.next_working_day(D(2024, 2, 7)) == D(2024, 2, 15)
    assert calendar.previous_working_day(D(2024, 1, 2)) == D(2023, 12, 29)  # across the year


@pytest.mark.django_db
def test_to_working_day_follows_the_shift_setting(settings: Any) -> None:
    assert calendar.to_working_day(D(2024, 3, 8)) == D(2024, 3, 8)
    assert calendar.to_working_day(D(2024, 3, 10)) == D(2024, 3, 8)
    assert calendar.to_working_day(D(2024, 3, 10), "next") == D(2024, 3, 11)
    settings.DUE_DATE_SHIFT = "next"
    assert calendar.to_working_day(D(2024, 2, 10)) == D(2024, 2, 15)
    assert calendar.judged_deadline(D(2024, 3, 10)) == D(2024, 3, 11)


@pytest.mark.django_db
def test_adding_working_days_counts_only_working_days() -> None:
    assert calendar.add_working_days(D(2024, 3, 8), 0) == D(2024, 3, 8)
    assert calendar.add_working_days(D(2024, 3, 8), 1) == D(2024, 3, 11)
    assert calendar.add_working_days(D(2024, 3, 8), -6) == D(2024, 2, 29)
    assert calendar.add_working_days(D(2024, 3, 9), 3) == D(2024, 3, 13)  # from a Saturday
    assert calendar.add_working_days(D(2024, 2, 7), 1) == D(2024, 2, 15)  # over Tết
    assert calendar.add_working_days(D(2024, 2, 15), -1) == D(2024, 2, 7)


@pytest.mark.django_db
def test_working_days_between_is_the_inverse_of_adding_them() -> None:
    assert calendar.working_days_between(D(2024, 3, 8), D(2024, 3, 11)) == 1
    assert calendar.working_days_between(D(2024, 3, 8), D(2024, 3, 10)) == 0
    assert calendar.working_days_between(D(2024, 2, 7), D(2024, 2, 15)) == 1
    assert calendar.working_days_between(D(2024, 3, 11), D(2024, 3, 8)) == -1
    for start in days(D(2024, 2, 1), D(2024, 2, 20)):  # weekdays, weekends and Tết
        for n in (-7, -3, -1, 1, 3, 7):
            assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


@pytest.mark.django_db
def test_a_year_of_questions_costs_one_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        working = sum(calendar.is_working_day(d) for d in days(D(2024, 1, 1), D(2024, 12, 31)))
        calendar.add_working_days(D(2024, 12, 10), -6)
    # 262 weekdays - 12 weekday holidays (1/1, 5 of Tết, Giỗ Tổ, 29/4–1/5, 2–3/9) + Saturday 04/05
    assert working == 251


# --- the office's entries ----------------------------------------------------------------------


def test_an_entered_day_off_and_make_up_day_override_the_rule_and_are_audited(personas: Any) -> None:
    office = personas["office_reviewer"]
    assert calendar.is_working_day(D(2024, 3, 5))
    calendar.calendar_day_add(day=D(2024, 3, 5), kind="day_off", note="Nghỉ bù", actor=office)
    calendar.calendar_day_add(day=D(2024, 3, 9), kind="workday", note="Làm bù", actor=office)
    assert not calendar.is_working_day(D(2024, 3, 5))
    assert calendar.is_working_day(D(2024, 3, 9))
    assert calendar.add_working_days(D(2024, 3, 4), 1) == D(2024, 3, 6)
    events = list(AuditEvent.objects.filter(action="calendar_day_added").values_list("actor", "data"))
    assert events == [
        (office.pk, {"date": "2024-03-05", "kind": "day_off", "note": "Nghỉ bù"}),
        (office.pk, {"date": "2024-03-09", "kind": "workday", "note": "Làm bù"}),
    ]

    entry = CalendarDay.objects.get(date=D(2024, 3, 5))
    calendar.calendar_day_remove(entry_id=entry.pk, actor=office)
    assert calendar.is_working_day(D(2024, 3, 5))
    assert AuditEvent.objects.filter(action="calendar_day_removed", actor=office).count() == 1


@pytest.mark.parametrize(
    ("day", "kind", "message"),
    [
        (D(2024, 3, 4), "workday", "04/03/2024 đã là ngày làm việc"),
        (D(2024, 3, 10), "day_off", "10/03/2024 đã là ngày nghỉ"),
        (D(2024, 2, 12), "day_off", "12/02/2024 đã là ngày nghỉ"),
    ],
)
def test_entering_what_the_day_already_is_is_refused(
    personas: Any, day: datetime.date, kind: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        calendar.calendar_day_add(day=day, kind=kind, note="", actor=personas["office_reviewer"])
    assert message in str(exc.value)
    assert not CalendarDay.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="calendar").exists()


def test_a_day_is_entered_once(personas: Any) -> None:
    office = personas["office_reviewer"]
    calendar.calendar_day_add(day=D(2024, 3, 5), kind="day_off", note="", actor=office)
    with pytest.raises(ValidationError, match="đã được nhập"):
        calendar.calendar_day_add(day=D(2024, 3, 5), kind="day_off", note="", actor=office)
    assert CalendarDay.objects.count() == 1


# --- part 8: a deadline after the national cut-off -------------------------------------------------


@pytest.mark.django_db
def test_a_deadline_after_the_national_cut_off_is_refused_with_a_clear_message() -> None:
    period = periods(PlanFactory(year=2024))["Q1"]
    period.deadline = D(2024, 3, 20)
    with pytest.raises(ValidationError) as exc:
        period.full_clean()
    assert exc.value.message_dict["deadline"] == [
        "Hạn nộp nội bộ 20/03/2024 muộn hơn ngày chốt số liệu toàn quốc 14/03/2024 của kỳ Quý I/2024: "
        "chọn một ngày từ 14/03/2024 trở về trước."
    ]
    period.deadline = D(2024, 3, 14)
    period.full_clean()  # the cut-off itself is allowed


def test_the_admin_refuses_a_deadline_after_the_cut_off_and_keeps_the_old_one(
    client: Any, django_user_model: Any
) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@sct.local", "pw-root-123")
    client.force_login(admin)
    period = periods(PlanFactory(year=2024))["H1"]
    url = reverse("admin:plans_reportingperiod_change", args=[period.pk])
    response = client.post(url, {"deadline": "2024-06-20", "include_year_tasks": ""})
    assert response.status_code == 200  # the form again, with the error
    assert "muộn hơn ngày chốt số liệu toàn quốc 14/06/2024" in response.content.decode()
    period.refresh_from_db()
    assert period.deadline == D(2024, 6, 10)
    response = client.post(url, {"deadline": "2024-06-12", "include_year_tasks": ""})
    assert response.status_code == 302
    period.refresh_from_db()
    assert period.deadline == D(2024, 6, 12)


def test_the_admin_list_refuses_a_deadline_after_the_cut_off(client: Any, django_user_model: Any) -> None:
    admin = django_user_model.objects.create_superuser("root", "root@sct.local", "pw-root-123")
    client.force_login(admin)
    ps = periods(PlanFactory(year=2024))
    ordered = list(ReportingPeriod.objects.order_by("plan", "deadline"))
    data = {
        "form-TOTAL_FORMS": str(len(ordered)),
        "form-INITIAL_FORMS": str(len(ordered)),
        "_save": "Lưu",
    }
    for i, p in enumerate(ordered):
        data[f"form-{i}-id"] = str(p.pk)
        data[f"form-{i}-deadline"] = "2024-09-20" if p.code == "Q3" else p.deadline.isoformat()
        data[f"form-{i}-include_year_tasks"] = "on" if p.include_year_tasks else ""
    response = client.post(reverse("admin:plans_reportingperiod_changelist"), data)
    assert response.status_code == 200
    assert "muộn hơn ngày chốt số liệu toàn quốc 14/09/2024" in response.content.decode()
    ps["Q3"].refresh_from_db()
    assert ps["Q3"].deadline == D(2024, 9, 10)


# --- the page ------------------------------------------------------------------------------------


def test_the_office_sees_the_year_with_tet_weekends_and_entered_days_marked(
    client: Any, personas: Any
) -> None:
    office = personas["office_reviewer"]
    calendar.calendar_day_add(day=D(2024, 3, 5), kind="day_off", note="Nghỉ bù", actor=office)
    calendar.calendar_day_add(day=D(2024, 3, 9), kind="workday", note="Làm bù thứ Bảy", actor=office)
    client.force_login(office)
    response = client.get(reverse("plans:calendar"), {"nam": "2024"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lịch làm việc năm 2024" in html
    assert '<td class="cal-holiday" title="Mùng năm Tết Nguyên Đán">14</td>' in html
    assert '<td class="cal-weekend" title="Chủ nhật">10</td>' in html
    assert '<td class="cal-day_off" title="Nghỉ bù">5</td>' in html
    assert '<td class="cal-makeup" title="Làm bù thứ Bảy">9</td>' in html
    assert '<td class="cal-makeup" title="Ngày làm bù">4</td>' in html  # 04/05/2024, announced
    assert 'Tháng 2 <span class="small muted">· 16 ngày làm việc</span>' in html
    assert 'action="/ke-hoach/lich-lam-viec/them/"' in html  # the office may edit
    assert not re.search(r"<style|style=|<script(?![^>]*src=)| on[a-z]+=", html)


def test_the_page_is_usable_on_a_phone_width_with_the_stylesheet(client: Any, personas: Any) -> None:
    from django.contrib.staticfiles import finders

    client.force_login(personas["office_reviewer"])
    html = client.get(reverse("plans:calendar"), {"nam": "2025"}).content.decode()
    assert 'name="viewport" content="width=device-width' in html
    assert "/static/css/calendar.css" in html
    css = open(finders.find("css/calendar.css"), encoding="utf-8").read()  # noqa: SIM115
    assert "@media (max-width: 480px)" in css  # one month per row on a 390 px phone


@pytest.mark.parametrize("who", ["director", "auditor"])
def test_leadership_and_auditors_read_the_calendar_but_get_no_form(
    client: Any, personas: Any, who: str
) -> None:
    client.force_login(personas[who])
    response = client.get(reverse("plans:calendar"), {"nam": "2024"})
    assert response.status_code == 200
    assert "lich-lam-viec/them/" not in response.content.decode()


@pytest.mark.parametrize("who", ["staff", "unit_head"])
def test_unit_staff_may_not_open_the_calendar(client: Any, personas: Any, who: str) -> None:
    client.force_login(personas[who])
    assert client.get(reverse("plans:calendar")).status_code == 403


@pytest.mark.parametrize("who", ["staff", "unit_head", "director", "deputy", "auditor"])
def test_only_the_office_may_add_or_remove_days(client: Any, personas: Any, who: str) -> None:
    entry = calendar.calendar_day_add(
        day=D(2024, 3, 5), kind="day_off", note="", actor=personas["office_reviewer"]
    )
    client.force_login(personas[who])
    add = client.post(reverse("plans:calendar_add"), {"day": "06/03/2024", "kind": "day_off"})
    remove = client.post(reverse("plans:calendar_remove"), {"entry": entry.pk})
    assert (add.status_code, remove.status_code) == (403, 403)
    assert list(CalendarDay.objects.values_list("date", flat=True)) == [D(2024, 3, 5)]


def test_the_office_adds_and_removes_a_day_through_the_page(client: Any, personas: Any) -> None:
    client.force_login(personas["office_reviewer"])
    response = client.post(
        reverse("plans:calendar_add"), {"day": "06/03/2024", "kind": "day_off", "note": "Nghỉ đột xuất"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/ke-hoach/lich-lam-viec/?nam=2024"
    entry = CalendarDay.objects.get()
    assert (entry.date, entry.kind, entry.note, entry.created_by) == (
        D(2024, 3, 6),
        "day_off",
        "Nghỉ đột xuất",
        personas["office_reviewer"],
    )
    assert not calendar.is_working_day(D(2024, 3, 6))
    response = client.post(reverse("plans:calendar_remove"), {"entry": entry.pk})
    assert response.status_code == 302
    assert not CalendarDay.objects.exists()
    assert calendar.is_working_day(D(2024, 3, 6))
    assert list(
        AuditEvent.objects.filter(action__startswith="calendar").values_list("action", flat=True)
    ) == [
        "calendar_day_added",
        "calendar_day_removed",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": "31/02/2024", "kind": "day_off"}, "Ngày không hợp lệ: nhập theo dạng dd/mm/yyyy."),
        ({"day": "hôm nay", "kind": "day_off"}, "Ngày không hợp lệ: nhập theo dạng dd/mm/yyyy."),
        ({"day": "", "kind": "day_off"}, "Hãy nhập ngày."),
        ({"day": "01/01/1900", "kind": "day_off"}, "Chỉ nhập ngày trong các năm 2000–2100."),
        ({"day": "05/03/2024", "kind": "holiday"}, "Loại ngày không hợp lệ."),
        ({"day": "05/03/2024", "kind": "day_off", "note": "x" * 201}, "Ghi chú tối đa 200 ký tự."),
        ({"day": "05/03/2024", "kind": "day_off", "note": "a\x00b"}, "Không được chứa ký tự NUL"),
        ({"day": "09/03/2024", "kind": "day_off"}, "Ngày 09/03/2024 đã là ngày nghỉ."),
        (
            {"day": "08/03/2024", "kind": "workday"},
            "Ngày 08/03/2024 đã là ngày làm việc; không cần nhập làm bù.",
        ),
    ],
)
def test_a_bad_day_is_a_400_with_the_reason_and_nothing_written(
    client: Any, personas: Any, data: dict[str, str], message: str
) -> None:
    client.force_login(personas["office_reviewer"])
    response = client.post(reverse("plans:calendar_add"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CalendarDay.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="calendar").exists()


def test_removing_a_day_that_is_not_there_is_a_404_and_an_empty_post_a_400(
    client: Any, personas: Any
) -> None:
    client.force_login(personas["office_reviewer"])
    assert client.post(reverse("plans:calendar_remove"), {"entry": "999999"}).status_code == 404
    assert client.post(reverse("plans:calendar_remove"), {"entry": "abc"}).status_code == 400
    assert client.post(reverse("plans:calendar_remove"), {}).status_code == 400


@pytest.mark.parametrize("year", ["1999", "abc", "20245", "-1"])
def test_a_year_out_of_range_is_a_404(client: Any, personas: Any, year: str) -> None:
    client.force_login(personas["office_reviewer"])
    assert client.get(reverse("plans:calendar"), {"nam": year}).status_code == 404

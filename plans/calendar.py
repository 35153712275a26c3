"""Lịch làm việc: which days are working days, and counting in working days.

One home for the rule (docs/calendar.md):

- Saturdays and Sundays are off;
- Vietnamese public holidays are off: 1/1, Tết Nguyên đán, Giỗ Tổ Hùng Vương (10/3 lunar),
  30/4, 1/5, Quốc khánh, with the government's announced bridging days and make-up Saturdays
  as far as the ``holidays`` package knows them (checked: Tết 2024 = 08–14/02/2024,
  Tết 2025 = 27/01–01/02/2025 plus the weekends around it, i.e. 25/01–02/02);
- the days the office enters (``CalendarDay``) override both: a day off (ngày nghỉ) or a
  make-up working day (ngày làm bù).

A year is read once (one query for the entered days) and kept in this process for
``WORKING_CALENDAR_CACHE_SECONDS``; entering or removing a day clears it at once in this
process (other worker processes see the change when their copy expires).
"""

from __future__ import annotations

import datetime
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from plans.models import CalendarDay, ReportingPeriod

ONE_DAY: Final = datetime.timedelta(days=1)
# A search for a working day gives up after this many days (a year of entered days off
# would be a data error, not a calendar).
_SEARCH_LIMIT: Final = 370

WEEKDAY_NAMES: Final = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


@dataclass(frozen=True)
class YearCalendar:
    """One year's non-weekend days off and weekend working days, with their names."""

    year: int
    holidays: dict[datetime.date, str]  # public holidays (the package)
    package_workdays: frozenset[datetime.date]  # make-up Saturdays the package knows
    entered: dict[datetime.date, CalendarDay]  # what the office entered

    def is_working_day(self, day: datetime.date) -> bool:
        entry = self.entered.get(day)
        if entry is not None:
            return entry.kind == CalendarDay.Kind.WORKDAY
        if day in self.package_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def describe(self, day: datetime.date) -> tuple[str, str]:
        """(kind, label) of a day for the calendar page: workday, weekend, holiday, day_off, makeup."""
        entry = self.entered.get(day)
        if entry is not None:
            if entry.kind == CalendarDay.Kind.WORKDAY:
                return "makeup", entry.note or "Ngày làm bù"
            return "day_off", entry.note or "Ngày nghỉ"
        if day in self.package_workdays:
            return "makeup", "Ngày làm bù"
        if day in self.holidays:
            return "holiday", self.holidays[day]
        if day.weekday() >= 5:
            return "weekend", WEEKDAY_NAMES[day.weekday()]
        return "workday", ""


_cache: dict[int, tuple[float, YearCalendar]] = {}
_cache_lock = threading.Lock()


def _public_holidays(year: int) -> tuple[dict[datetime.date, str], frozenset[datetime.date]]:
    calendar = holidays.country_holidays("VN", years=year, language="vi")
    names = {day: str(name) for day, name in calendar.items() if day.year == year}
    workdays = frozenset(day for day in getattr(calendar, "weekend_workdays", ()) if day.year == year)
    return names, workdays


def year_calendar(year: int) -> YearCalendar:
    """The year's calendar: one query when it is not cached in this process."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(year)
    if cached is not None and now - cached[0] < settings.WORKING_CALENDAR_CACHE_SECONDS:
        return cached[1]
    names, workdays = _public_holidays(year)
    entered = {
        row.date: row
        for row in CalendarDay.objects.filter(date__year=year).select_related("created_by").order_by("date")
    }
    calendar = YearCalendar(year=year, holidays=names, package_workdays=workdays, entered=entered)
    with _cache_lock:
        _cache[year] = (now, calendar)
    return calendar


def cache_clear(**_signal: Any) -> None:
    global _moved
    with _cache_lock:
        _cache.clear()
        _moved = None


# --- the rule -------------------------------------------------------------------------------


def is_working_day(day: datetime.date) -> bool:
    return year_calendar(day.year).is_working_day(day)


def _step(day: datetime.date, direction: int) -> datetime.date:
    for _ in range(_SEARCH_LIMIT):
        day += direction * ONE_DAY
        if is_working_day(day):
            return day
    raise ValueError(f"no working day within {_SEARCH_LIMIT} days of {day}")


def previous_working_day(day: datetime.date) -> datetime.date:
    """The last working day strictly before ``day``."""
    return _step(day, -1)


def next_working_day(day: datetime.date) -> datetime.date:
    """The first working day strictly after ``day``."""
    return _step(day, +1)


def to_working_day(day: datetime.date, shift: str | None = None) -> datetime.date:
    """``day`` itself if it is a working day, else the working day before it (``shift``
    "previous", the default setting ``DUE_DATE_SHIFT``) or after it ("next")."""
    if is_working_day(day):
        return day
    shift = shift or settings.DUE_DATE_SHIFT
    if shift == "next":
        return next_working_day(day)
    return previous_working_day(day)


def add_working_days(day: datetime.date, n: int) -> datetime.date:
    """The n-th working day after ``day`` (before it when n < 0); ``day`` itself when n == 0.

    ``day`` need not be a working day: 3 working days after a Saturday is the Wednesday.
    """
    for _ in range(abs(n)):
        day = _step(day, 1 if n > 0 else -1)
    return day


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """How many working days are in (start, end]; if end < start, minus those in [end, start).

    So ``working_days_between(d, add_working_days(d, n)) == n`` for any day d and any n.
    """
    if end < start:
        return -sum(is_working_day(end + i * ONE_DAY) for i in range((start - end).days))
    return sum(is_working_day(start + i * ONE_DAY) for i in range(1, (end - start).days + 1))


def judged_deadline(deadline: datetime.date) -> datetime.date:
    """The day a period deadline counts as: itself on a working day, else moved as
    ``DUE_DATE_SHIFT`` says (10/03/2024, a Sunday, counts as Friday 08/03/2024)."""
    return to_working_day(deadline)


_moved: tuple[float, dict[datetime.date, datetime.date]] | None = None


def _moved_deadlines() -> dict[datetime.date, datetime.date]:
    """The period deadlines that fall on a day off, with the day each counts as; kept like a
    year of the calendar (a deadline edited in this process clears it: plans.apps)."""
    global _moved
    now = time.monotonic()
    cached = _moved
    if cached is not None and now - cached[0] < settings.WORKING_CALENDAR_CACHE_SECONDS:
        return cached[1]
    deadlines = ReportingPeriod.objects.order_by().values_list("deadline", flat=True).distinct()
    moved = {day: judged for day in deadlines if (judged := judged_deadline(day)) != day}
    _moved = (now, moved)
    return moved


def judged_deadline_expression(field: str = "period__deadline") -> Any:
    """``judged_deadline`` of a date column, for SQL: the period deadlines that fall on a day
    off (read once, then cached) are mapped to the day they count as; the others stay as they are."""
    from django.db.models import Case, DateField, F, Value, When

    whens = [
        When(**{field: day}, then=Value(judged, output_field=DateField()))
        for day, judged in _moved_deadlines().items()
    ]
    if not whens:
        return F(field)
    return Case(*whens, default=F(field), output_field=DateField())


# --- the office's entries ---------------------------------------------------------------------


def _clear_after_commit() -> None:
    cache_clear()
    transaction.on_commit(cache_clear)


@transaction.atomic
def calendar_day_add(*, day: datetime.date, kind: str, note: str, actor: Any) -> CalendarDay:
    """Nhập ngày nghỉ / ngày làm bù: one day, once; audited.

    Refused (ValidationError, nothing written): a day already entered, a make-up working
    day on a day that already is one, a day off on a day that already is off.
    """
    from audit.services import audit_record

    if kind not in CalendarDay.Kind.values:
        raise ValidationError({"kind": "Loại ngày không hợp lệ."})
    note = note.strip()
    if len(note) > 200 or "\x00" in note:
        raise ValidationError({"note": "Ghi chú tối đa 200 ký tự, không chứa ký tự điều khiển."})
    if CalendarDay.objects.filter(date=day).exists():
        raise ValidationError({"day": f"Ngày {day:%d/%m/%Y} đã được nhập; xóa ngày đó trước nếu muốn đổi."})
    working = is_working_day(day)
    if kind == CalendarDay.Kind.WORKDAY and working:
        raise ValidationError({"day": f"Ngày {day:%d/%m/%Y} đã là ngày làm việc; không cần nhập làm bù."})
    if kind == CalendarDay.Kind.DAY_OFF and not working:
        raise ValidationError({"day": f"Ngày {day:%d/%m/%Y} đã là ngày nghỉ."})
    entry = CalendarDay.objects.create(date=day, kind=kind, note=note, created_by=actor)
    _clear_after_commit()
    audit_record(
        actor=actor,
        action="calendar_day_added",
        data={"date": day.isoformat(), "kind": kind, "note": note},
    )
    return entry


@transaction.atomic
def calendar_day_remove(*, entry_id: int, actor: Any) -> CalendarDay:
    """Xóa một ngày đã nhập: the day falls back to the weekend and public-holiday rule; audited."""
    from audit.services import audit_record

    entry = CalendarDay.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise CalendarDay.DoesNotExist("Không tìm thấy ngày đã nhập.")
    data = {"date": entry.date.isoformat(), "kind": entry.kind, "note": entry.note}
    entry.delete()
    _clear_after_commit()
    audit_record(actor=actor, action="calendar_day_removed", data=data)
    return entry

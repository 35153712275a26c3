"""Lịch làm việc: a year's working-day calendar; the office enters days off and make-up days.

Reading and editing are decided in ``plans.access.working_calendar_check``; the rule
itself lives in ``plans.calendar``.
"""

from __future__ import annotations

import calendar as pycalendar
import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from plans import calendar
from plans.access import working_calendar_check
from plans.models import CalendarDay

MONTH_NAMES = [f"Tháng {m}" for m in range(1, 13)]
FIRST_YEAR, LAST_YEAR = 2000, 2100


class CalendarDayForm(forms.Form):
    day = forms.DateField(
        label="Ngày",
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        error_messages={
            "required": "Hãy nhập ngày.",
            "invalid": "Ngày không hợp lệ: nhập theo dạng dd/mm/yyyy.",
        },
        widget=forms.DateInput(
            attrs={"placeholder": "dd/mm/yyyy", "inputmode": "numeric"}, format="%d/%m/%Y"
        ),
    )
    kind = forms.ChoiceField(
        label="Loại",
        choices=CalendarDay.Kind.choices,
        error_messages={"required": "Hãy chọn loại ngày.", "invalid_choice": "Loại ngày không hợp lệ."},
    )
    note = forms.CharField(
        label="Ghi chú",
        required=False,
        max_length=200,
        error_messages={"max_length": "Ghi chú tối đa 200 ký tự."},
        help_text="Ví dụ: nghỉ bù Tết theo thông báo của Chính phủ.",
    )

    def clean_day(self) -> datetime.date:
        day: datetime.date = self.cleaned_data["day"]
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValidationError(f"Chỉ nhập ngày trong các năm {FIRST_YEAR}–{LAST_YEAR}.")
        return day


class CalendarDayRemoveForm(forms.Form):
    entry = forms.IntegerField(
        min_value=1, max_value=2**62, error_messages={"required": "Thiếu ngày cần xóa."}
    )


def _year_from(request: HttpRequest) -> int:
    raw = request.GET.get("nam")
    if raw is None or raw == "":
        return timezone.localdate().year
    if not raw.isdigit() or not FIRST_YEAR <= int(raw) <= LAST_YEAR:
        raise Http404(f"Không có lịch cho năm “{raw[:10]}”.")
    return int(raw)


def _months(year: int) -> list[dict[str, Any]]:
    """Twelve months as weeks of (day, kind, label), Monday first; None pads the weeks."""
    cal = calendar.year_calendar(year)
    months = []
    for month in range(1, 13):
        weeks = []
        working = 0
        for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells: list[dict[str, Any] | None] = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                kind, label = cal.describe(day)
                working += cal.is_working_day(day)
                cells.append({"day": day, "kind": kind, "label": label})
            weeks.append(cells)
        months.append({"name": MONTH_NAMES[month - 1], "weeks": weeks, "working": working})
    return months


def _page(
    request: HttpRequest, year: int, form: CalendarDayForm | None = None, status: int = 200
) -> HttpResponse:
    cal = calendar.year_calendar(year)
    try:
        working_calendar_check(request.user, edit=True)
    except PermissionDenied:
        may_edit = False  # the page is read-only for this user
    else:
        may_edit = True
    holidays = sorted((day, name) for day, name in cal.holidays.items() if not cal.entered.get(day))
    return render(
        request,
        "plans/calendar.html",
        {
            "year": year,
            "months": _months(year),
            "holidays": holidays,
            "package_workdays": sorted(cal.package_workdays - set(cal.entered)),
            "entered": [cal.entered[day] for day in sorted(cal.entered)],
            "may_edit": may_edit,
            "form": form or CalendarDayForm(initial={"kind": CalendarDay.Kind.DAY_OFF}),
            "weekdays": ["T2", "T3", "T4", "T5", "T6", "T7", "CN"],
            "previous_year": year - 1 if year > FIRST_YEAR else None,
            "next_year": year + 1 if year < LAST_YEAR else None,
        },
        status=status,
    )


@login_required
@require_GET
def calendar_page(request: HttpRequest) -> HttpResponse:
    """The year's calendar (?nam=2024): working days, weekends, holidays, entered days."""
    working_calendar_check(request.user)
    return _page(request, _year_from(request))


def _back(day: datetime.date) -> HttpResponse:
    return redirect(f"{reverse('plans:calendar')}?nam={day.year}")


@login_required
@require_POST
def calendar_day_add(request: HttpRequest) -> HttpResponse:
    """Nhập một ngày nghỉ hoặc ngày làm bù (office only); a bad date is a 400 with the reason."""
    working_calendar_check(request.user, edit=True)
    form = CalendarDayForm(request.POST)
    if form.is_valid():
        day = form.cleaned_data["day"]
        try:
            entry = calendar.calendar_day_add(
                day=day, kind=form.cleaned_data["kind"], note=form.cleaned_data["note"], actor=request.user
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Đã nhập {entry.get_kind_display().lower()} {day:%d/%m/%Y}.")
            return _back(day)
    chosen = form.cleaned_data.get("day")
    year = chosen.year if chosen else timezone.localdate().year
    return _page(request, year, form, status=400)


@login_required
@require_POST
def calendar_day_remove(request: HttpRequest) -> HttpResponse:
    """Xóa một ngày đã nhập (office only)."""
    working_calendar_check(request.user, edit=True)
    form = CalendarDayRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Yêu cầu không hợp lệ: chưa chọn ngày cần xóa.")
        return _page(request, timezone.localdate().year, status=400)
    try:
        entry = calendar.calendar_day_remove(entry_id=form.cleaned_data["entry"], actor=request.user)
    except CalendarDay.DoesNotExist as exc:
        raise Http404("Không tìm thấy ngày đã nhập.") from exc
    messages.success(request, f"Đã xóa {entry.get_kind_display().lower()} {entry.date:%d/%m/%Y}.")
    return _back(entry.date)

"""Thiết lập: the office's day-to-day set-up on the product's own pages.

Units, people and their roles, the deadlines of a plan's reporting periods. Who may use
them is decided in plans.access (``may_manage_organisation``); the writes go through
plans.organisation and plans.periods, which audit them. The Django admin stays for
superusers. Pages that name an object look it up first (an id that names nothing is a 404
for everyone), then check the role (403).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from plans import access, organisation, periods
from plans.access import may_manage_organisation
from plans.forms_setup import DeadlineForm, PersonForm, UnitForm
from plans.models import Membership, ReportingPeriod, Unit
from plans.selectors import plan_options_html, plan_pick

User = get_user_model()


def _require_manager(request: HttpRequest) -> None:
    if not may_manage_organisation(request.user):
        raise PermissionDenied(
            "Chỉ Văn phòng Sở (đầu mối CCHC) được thiết lập đơn vị, người dùng và hạn nộp."
        )


def _get(queryset: Any, pk: int, message: str) -> Any:
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404(message)
    return obj


def _service_errors(form: Any, error: ValidationError) -> None:
    """A rule the service refused (full_clean or its own): shown on the form's fields."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@login_required
@require_GET
def setup_index(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    return render(
        request,
        "setup/index.html",
        {"units": Unit.objects.count(), "people": access.department_people().count()},
    )


# --- units --------------------------------------------------------------------------------


@login_required
@require_GET
def unit_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    units = Unit.objects.order_by("order", "name")
    return render(request, "setup/units.html", {"units": units})


@login_required
@require_http_methods(["GET", "POST"])
def unit_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    unit = _get(Unit.objects.all(), pk, "Không tìm thấy đơn vị.") if pk is not None else None
    _require_manager(request)
    if request.method == "GET":
        return render(request, "setup/unit_form.html", {"form": UnitForm(unit=unit), "unit": unit})
    form = UnitForm(request.POST, unit=unit)
    if form.is_valid():
        try:
            saved = organisation.unit_save(unit=unit, data=form.cleaned_data, actor=request.user)
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, f"Đã lưu đơn vị “{saved.name}”.")
            return redirect("plans:setup_units")
    return render(request, "setup/unit_form.html", {"form": form, "unit": unit}, status=400)


# --- people -------------------------------------------------------------------------------


def _people() -> Any:
    return (
        access.department_people()
        .select_related("membership__unit")
        .prefetch_related(Prefetch("groups"))
        .order_by("first_name", "last_name", "username")  # Vietnamese lists sort by the given name
    )


@login_required
@require_GET
def person_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    people = []
    for user in _people():
        membership: Membership | None = getattr(user, "membership", None)
        groups = {g.name for g in user.groups.all()}
        people.append(
            {
                "user": user,
                "unit": membership.unit if membership else None,
                "unit_role": membership.get_role_display() if membership else "",
                "roles": [r for r in organisation.GLOBAL_ROLES if r in groups],
            }
        )
    return render(request, "setup/people.html", {"people": people})


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    person = _get(User.objects.all(), pk, "Không tìm thấy người dùng.") if pk is not None else None
    _require_manager(request)
    if person is not None and access.is_administrator(person):
        raise PermissionDenied("Tài khoản quản trị hệ thống chỉ được sửa trong trang quản trị.")
    context: dict[str, Any] = {"person": person}
    if request.method == "GET":
        return render(request, "setup/person_form.html", {**context, "form": PersonForm(person=person)})
    form = PersonForm(request.POST, person=person)
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = _person_save(person, data, actor=request.user)
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, f"Đã lưu tài khoản “{saved.username}”.")
            return redirect("plans:setup_people")
    return render(request, "setup/person_form.html", {**context, "form": form}, status=400)


def _person_save(person: Any, data: dict[str, Any], *, actor: Any) -> Any:
    from django.db import transaction

    with transaction.atomic():  # a new account with its unit and roles, or nothing
        if person is None:
            person = organisation.person_create(
                username=data["username"],
                last_name=data["last_name"],
                first_name=data["first_name"],
                email=data["email"],
                password=data["password"],
                actor=actor,
            )
        return organisation.person_update(
            user=person,
            actor=actor,
            last_name=data["last_name"],
            first_name=data["first_name"],
            email=data["email"],
            is_active=data.get("is_active", True),
            unit=data["unit"],
            unit_role=data["unit_role"],
            global_roles=data["global_roles"],
            oversees=data["oversees"],
        )


# --- period deadlines ---------------------------------------------------------------------


@login_required
@require_GET
def period_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    plan, plan_options = plan_pick(request.GET.get("plan"))
    plan_periods = list(ReportingPeriod.objects.filter(plan=plan).order_by("deadline")) if plan else []
    return render(
        request,
        "setup/periods.html",
        {
            "plan": plan,
            "plan_options": plan_options,
            "plan_picker": plan_options_html(plan_options),
            "periods": plan_periods,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def period_edit(request: HttpRequest, pk: int) -> HttpResponse:
    period = _get(ReportingPeriod.objects.select_related("plan"), pk, "Không tìm thấy kỳ báo cáo.")
    _require_manager(request)
    if request.method == "GET":
        return render(
            request, "setup/period_form.html", {"form": DeadlineForm(period=period), "period": period}
        )
    form = DeadlineForm(request.POST, period=period)
    if form.is_valid():
        try:
            periods.period_deadline_set(
                period=period, deadline=form.cleaned_data["deadline"], actor=request.user
            )
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(
                request, f"Đã đổi hạn nộp kỳ {period.label}: {form.cleaned_data['deadline']:%d/%m/%Y}."
            )
            return redirect(f"{reverse('plans:setup_periods')}?plan={period.plan_id}")
    return render(request, "setup/period_form.html", {"form": form, "period": period}, status=400)

"""Vietnamese whatever the browser asks, and the office's set-up pages (units, people, deadlines)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import get_objects_for_user

from audit.models import AuditEvent
from plans import roles
from plans.models import Membership, ReportingPeriod, Unit
from tests.factories import CriterionFactory, periods, plan_task
from workflow import services
from workflow.access import may_manage_organisation
from workflow.models import Step

User = get_user_model()
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def client_for(user: Any) -> Client:
    client = Client(**ENGLISH)
    client.force_login(user)
    return client


# --- Vietnamese whatever Accept-Language says ----------------------------------------------


def test_login_error_is_vietnamese_for_an_english_browser(personas: dict[str, Any]) -> None:
    response = Client(**ENGLISH).post(reverse("login"), {"username": "qlcn_cv", "password": "sai-mat-khau"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Vui lòng điền vào" in body and "mật khẩu chính xác" in body
    assert "Please enter" not in body
    assert response.get("Content-Language", "vi") == "vi"


def test_admin_is_vietnamese_for_an_english_browser(db: Any) -> None:
    client = Client(**ENGLISH)
    login = client.get("/quan-tri/login/").content.decode()
    assert "Đăng nhập" in login and "Log in" not in login
    admin = User.objects.create_superuser("quantri", "quantri@sct.local", "pw-admin-123")
    client.force_login(admin)
    index = client.get("/quan-tri/").content.decode()
    assert "Quản trị – Kế hoạch CCHC" in index
    assert "Đăng xuất" in index and "Log out" not in index
    assert "Site administration" not in index


def test_a_form_error_is_vietnamese_for_an_english_browser(personas: dict[str, Any]) -> None:
    client = client_for(personas["office_reviewer"])
    response = client.post(reverse("plans:setup_unit_add"), {"name": "Phòng X", "short_name": "X"})
    assert response.status_code == 400
    assert "Hãy chọn loại đơn vị." in response.content.decode()


# --- who may use the set-up pages ----------------------------------------------------------

SETUP_URLS = [
    ("plans:setup", None),
    ("plans:setup_units", None),
    ("plans:setup_unit_add", None),
    ("plans:setup_unit", "unit"),
    ("plans:setup_people", None),
    ("plans:setup_person_add", None),
    ("plans:setup_person", "person"),
    ("plans:setup_periods", None),
    ("plans:setup_period", "period"),
]
NOT_OFFICE = (
    "staff",
    "unit_head",
    "other_staff",
    "atnl_staff",
    "director",
    "deputy",
    "other_deputy",
    "auditor",
)


@pytest.fixture
def period(units: dict[str, Unit], personas: dict[str, Any]) -> ReportingPeriod:
    """Q1 of a plan with one run launched (QLTM leads, ATNL is a partner)."""
    criterion = CriterionFactory()
    plan_task(criterion, lead=[units["QLTM"]], partners=[units["ATNL"]])
    q1 = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=q1, actor=personas["office_reviewer"])
    return q1


def _address(
    name: str, obj: str | None, units: dict[str, Unit], personas: dict[str, Any], period: Any
) -> str:
    pk = {"unit": units["QLCN"].pk, "person": personas["staff"].pk, "period": period.pk}.get(obj or "")
    return reverse(name, args=[pk] if pk else [])


@pytest.mark.parametrize("persona", NOT_OFFICE)
def test_only_the_office_may_use_the_set_up_pages(
    persona: str, units: dict[str, Unit], personas: dict[str, Any], period: ReportingPeriod
) -> None:
    client = client_for(personas[persona])
    events = AuditEvent.objects.count()
    hostile = {
        "name": "Phòng Mới",
        "short_name": "PM",
        "kind": "division",
        "order": "1",
        "username": "ke.gian",
        "password": "mat-khau-dai-123",
        "last_name": "Kẻ",
        "first_name": "Gian",
        "unit": str(units["QLCN"].pk),
        "unit_role": "head",
        "global_roles": [roles.DIRECTOR],
        "deadline": "01/03/2024",
    }
    for name, obj in SETUP_URLS:
        address = _address(name, obj, units, personas, period)
        assert client.get(address).status_code == 403, address
        assert client.post(address, hostile).status_code in (403, 405), address
    # nothing changed
    assert AuditEvent.objects.count() == events
    assert not Unit.objects.filter(short_name="PM").exists()
    assert not User.objects.filter(username="ke.gian").exists()
    assert ReportingPeriod.objects.get(pk=period.pk).deadline == period.deadline
    assert roles.DIRECTOR not in {g.name for g in personas["staff"].groups.all()}
    # and the navigation does not offer them
    assert reverse("plans:setup") not in client.get(reverse("plans:plan")).content.decode()


def test_the_office_opens_every_set_up_page(
    units: dict[str, Unit], personas: dict[str, Any], period: ReportingPeriod
) -> None:
    client = client_for(personas["office_reviewer"])
    for name, obj in SETUP_URLS:
        address = _address(name, obj, units, personas, period)
        response = client.get(address)
        assert response.status_code == 200, address
    assert reverse("plans:setup") in client.get(reverse("plans:plan")).content.decode()
    assert may_manage_organisation(personas["office_reviewer"])
    assert not may_manage_organisation(personas["director"])


def test_anonymous_visitors_are_sent_to_the_login_page(db: Any) -> None:
    response = Client().get(reverse("plans:setup_people"))
    assert response.status_code == 302
    assert response["Location"].startswith("/dang-nhap/")


# --- units ---------------------------------------------------------------------------------


def test_the_office_adds_a_unit_with_its_groups_and_an_audit_event(personas: dict[str, Any]) -> None:
    client = client_for(personas["office_reviewer"])
    response = client.post(
        reverse("plans:setup_unit_add"),
        {"name": "  Phòng  Quản lý   năng lượng ", "short_name": "QLNL", "kind": "division", "order": "8"},
    )
    assert response.status_code == 302
    unit = Unit.objects.get(short_name="QLNL")
    assert unit.name == "Phòng Quản lý năng lượng"
    assert Group.objects.filter(name__in=[unit.member_group_name, unit.head_group_name]).count() == 2
    event = AuditEvent.objects.get(action="unit_created")
    assert event.actor == personas["office_reviewer"]
    assert event.data["unit"] == "Phòng Quản lý năng lượng"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Thanh tra Sở", "short_name": "TT2"}, "name", "Đã có đơn vị mang tên này."),
        ({"name": "Phòng Mới", "short_name": "qlcn"}, "short_name", "Đã có đơn vị dùng tên viết tắt này."),
        ({"name": "Phòng Mới", "short_name": "Đ N"}, "short_name", "Tên viết tắt chỉ gồm chữ không dấu"),
        ({"name": "Phòng\x00Mới", "short_name": "PM"}, "name", "Không được chứa ký tự NUL"),
        ({"name": "x" * 201, "short_name": "PM"}, "name", "Tối đa 200 ký tự."),
        (
            {"name": "Phòng Mới", "short_name": "PM", "active_from": "01/06/2025", "active_to": "31/12/2024"},
            "active_to",
            "Ngày hết hiệu lực phải sau ngày bắt đầu hiệu lực.",
        ),
        (
            {"name": "Phòng Mới", "short_name": "PM", "active_from": "31/02/2025"},
            "active_from",
            "Ngày không hợp lệ",
        ),
        ({"name": "Phòng Mới", "short_name": "PM", "order": "-1"}, "order", "Thứ tự từ 0 đến 999."),
    ],
)
def test_a_bad_unit_is_refused_with_a_vietnamese_message_and_nothing_written(
    personas: dict[str, Any], data: dict[str, str], field: str, message: str
) -> None:
    client = client_for(personas["office_reviewer"])
    before = (Unit.objects.count(), Group.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("plans:setup_unit_add"), {"kind": "division", "order": "1", **data})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert (Unit.objects.count(), Group.objects.count(), AuditEvent.objects.count()) == before


def test_renaming_a_unit_keeps_its_people_and_their_rights(
    units: dict[str, Unit], personas: dict[str, Any], period: ReportingPeriod
) -> None:
    client = client_for(personas["office_reviewer"])
    qltm = units["QLTM"]
    response = client.post(
        reverse("plans:setup_unit", args=[qltm.pk]),
        {
            "name": "Phòng Quản lý thương mại và thị trường",
            "short_name": "QLTMTT",
            "kind": "division",
            "active_from": "2026-01-01",
            "aliases": "Phòng QLTM\r\n  \r\nPhòng QLTM",
            "order": str(qltm.order),
        },
    )
    assert response.status_code == 302
    qltm.refresh_from_db()
    # the old name stays an alias, so older plan files still name the unit
    assert qltm.aliases == ["Phòng QLTM", "Phòng Quản lý thương mại"]
    assert (qltm.name, qltm.short_name, qltm.active_from) == (
        "Phòng Quản lý thương mại và thị trường",
        "QLTMTT",
        datetime.date(2026, 1, 1),
    )
    assert set(Group.objects.filter(name__contains="QLTM").values_list("name", flat=True)) == {
        "Đơn vị QLTMTT",
        "Lãnh đạo đơn vị QLTMTT",
    }
    # QLTM's staff member still claims the unit's step
    step = Step.objects.get(period_task__period=period, kind="lead")
    member = User.objects.get(pk=personas["other_staff"].pk)
    services.step_claim(step_id=step.pk, user=member)
    event = AuditEvent.objects.get(action="unit_changed")
    assert event.data["changes"]["short_name"] == ["QLTM", "QLTMTT"]
    assert event.data["changes"]["active_from"] == [None, "2026-01-01"]


# --- people --------------------------------------------------------------------------------


def _person_data(units: dict[str, Unit], **overrides: Any) -> dict[str, Any]:
    data = {
        "username": "qlcn.nguyenvanan",
        "password": "mat-khau-dai-2026",
        "last_name": "Nguyễn Văn",
        "first_name": "An",
        "email": "an@sct.local",
        "unit": str(units["QLCN"].pk),
        "unit_role": "head",
        "global_roles": [],
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_office_creates_a_person_with_a_unit_and_a_role(
    units: dict[str, Unit], personas: dict[str, Any]
) -> None:
    client = client_for(personas["office_reviewer"])
    response = client.post(reverse("plans:setup_person_add"), _person_data(units))
    assert response.status_code == 302
    user = User.objects.get(username="qlcn.nguyenvanan")
    assert user.check_password("mat-khau-dai-2026")
    assert (user.last_name, user.first_name, user.email) == ("Nguyễn Văn", "An", "an@sct.local")
    assert roles.roles_of(user).label == "Trưởng đơn vị – Phòng Quản lý công nghiệp"
    assert user.has_perm("plans.manage_unit", units["QLCN"])
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["person_created", "membership_changed"]
    # the list shows the name family-name first, with the role
    page = client.get(reverse("plans:setup_people")).content.decode()
    assert "Nguyễn Văn An" in page and "Trưởng đơn vị – Phòng Quản lý công nghiệp" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "qlcn_cv"}, "username", "Tên đăng nhập này đã có người dùng."),
        ({"username": "Nguyễn An"}, "username", "Tên đăng nhập chỉ gồm chữ thường"),
        ({"password": "12345678"}, "password", "Mật khẩu"),
        ({"last_name": "   "}, "last_name", "Không được để trống."),
        ({"email": "khong-phai-thu"}, "email", "Địa chỉ thư điện tử không hợp lệ."),
        ({"unit": "999999", "unit_role": "staff"}, "unit", "Đơn vị không tồn tại."),
        ({"unit": "", "unit_role": "head"}, "unit_role", "Trưởng đơn vị phải thuộc một đơn vị."),
        ({"global_roles": ["superuser"]}, "global_roles", "Vai trò không hợp lệ."),
        ({"oversees": ["QLCN"]}, "oversees", "Chỉ Phó Giám đốc được phân công phụ trách đơn vị."),
    ],
)
def test_a_bad_person_is_refused_with_a_vietnamese_message_and_nothing_written(
    units: dict[str, Unit], personas: dict[str, Any], overrides: dict[str, Any], field: str, message: str
) -> None:
    client = client_for(personas["office_reviewer"])
    if "oversees" in overrides:  # short names, as ids differ between databases
        overrides = {**overrides, "oversees": [str(units[s].pk) for s in overrides["oversees"]]}
    before = (User.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("plans:setup_person_add"), _person_data(units, **overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert (User.objects.count(), Membership.objects.count(), AuditEvent.objects.count()) == before


def test_the_office_moves_a_person_gives_roles_and_deactivates(
    units: dict[str, Unit], personas: dict[str, Any]
) -> None:
    client = client_for(personas["office_reviewer"])
    staff = personas["staff"]
    address = reverse("plans:setup_person", args=[staff.pk])
    # appointed deputy director overseeing two units: leaves the unit
    response = client.post(
        address,
        _person_data(
            units,
            username=None,
            password=None,
            last_name="Trần",
            unit="",
            unit_role="staff",
            global_roles=[roles.DEPUTY_DIRECTOR],
            oversees=[str(units["QLCN"].pk), str(units["ATNL"].pk)],
        ),
    )
    assert response.status_code == 302
    staff = User.objects.get(pk=staff.pk)
    assert staff.last_name == "Trần"
    assert roles.roles_of(staff).label == "Phó Giám đốc"
    assert not Membership.objects.filter(user=staff).exists()
    assert not staff.has_perm("plans.work_on_unit", units["QLCN"])
    overseen = get_objects_for_user(staff, "plans.sign_off_unit", klass=Unit, use_groups=False)
    assert {u.short_name for u in overseen} == {"QLCN", "ATNL"}
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-4:] == ["person_changed", "membership_changed", "role_changed", "role_changed"]
    # then deactivated: their session ends at the next request
    own = client_for(staff)
    response = client.post(
        address,
        _person_data(
            units, username=None, password=None, last_name="Trần", unit="", unit_role="staff", is_active=None
        ),
    )
    assert response.status_code == 302
    assert User.objects.get(pk=staff.pk).is_active is False
    assert AuditEvent.objects.filter(action="person_deactivated", data__user="qlcn_cv").count() == 1
    assert own.get(reverse("workflow:my_steps")).status_code == 302


def test_the_office_cannot_lock_itself_out_nor_touch_a_superuser(
    units: dict[str, Unit], personas: dict[str, Any]
) -> None:
    office = personas["office_reviewer"]
    client = client_for(office)
    address = reverse("plans:setup_person", args=[office.pk])
    base = {"username": None, "password": None, "unit": str(units["VP"].pk), "unit_role": "staff"}
    events = AuditEvent.objects.count()
    response = client.post(
        address, _person_data(units, **base, global_roles=[roles.OFFICE_REVIEWER], is_active=None)
    )
    assert response.status_code == 400
    assert "Không thể tự khóa tài khoản của chính mình." in response.content.decode()
    response = client.post(address, _person_data(units, **base, global_roles=[]))
    assert response.status_code == 400
    assert "Không thể tự bỏ vai trò đầu mối CCHC của chính mình." in response.content.decode()
    assert AuditEvent.objects.count() == events
    assert User.objects.get(pk=office.pk).is_active
    root = User.objects.create_superuser("quantri", "quantri@sct.local", "pw-admin-123")
    assert client.get(reverse("plans:setup_person", args=[root.pk])).status_code == 403
    assert client.post(reverse("plans:setup_person", args=[root.pk]), _person_data(units)).status_code == 403
    assert "quantri" not in client.get(reverse("plans:setup_people")).content.decode()


def test_the_people_list_costs_the_same_queries_for_few_or_many(
    personas: dict[str, Any], make_user: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    client = client_for(personas["office_reviewer"])
    client.get(reverse("plans:setup_people"))  # warm the session and the caches
    with django_assert_num_queries(7) as few:
        client.get(reverse("plans:setup_people"))
    for i in range(15):
        make_user(f"them_{i}", unit="KHTC", head=i == 0, role=roles.AUDITOR if i == 1 else None)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse("plans:setup_people"))
    assert response.content.decode().count('class="setup-title"') == 9 + 15


# --- period deadlines ----------------------------------------------------------------------


def test_the_office_moves_a_deadline_and_the_open_steps_follow(
    personas: dict[str, Any], period: ReportingPeriod
) -> None:
    client = client_for(personas["office_reviewer"])
    assert period.deadline == datetime.date(2024, 3, 10)
    response = client.post(reverse("plans:setup_period", args=[period.pk]), {"deadline": "06/03/2024"})
    assert response.status_code == 302
    period.refresh_from_db()
    assert period.deadline == datetime.date(2024, 3, 6)
    lead = Step.objects.get(period_task__period=period, kind="lead")
    assert lead.due_date == datetime.date(2024, 2, 27)  # 6 working days before the deadline (was 29/02)
    event = AuditEvent.objects.get(action="deadline_changed")
    assert event.data == {
        "period": "Quý I/2024",
        "before": "2024-03-10",
        "after": "2024-03-06",
        "open_steps": 1,
    }
    page = client.get(response["Location"]).content.decode()
    assert "06/03/2024" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Hãy nhập hạn nộp."),
        ("31/02/2024", "Ngày không hợp lệ (dd/mm/yyyy)."),
        ("10/03/2025", "Hạn nộp phải trong năm của kế hoạch (2024)."),
        ("10/03/2024\x00", "Ngày không hợp lệ"),
    ],
)
def test_a_bad_deadline_is_refused_and_nothing_changes(
    personas: dict[str, Any], period: ReportingPeriod, value: str, message: str
) -> None:
    client = client_for(personas["office_reviewer"])
    response = client.post(reverse("plans:setup_period", args=[period.pk]), {"deadline": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    period.refresh_from_db()
    assert period.deadline == datetime.date(2024, 3, 10)
    assert not AuditEvent.objects.filter(action="deadline_changed").exists()


def test_a_deadline_the_model_refuses_is_a_400_with_its_message(
    personas: dict[str, Any], period: ReportingPeriod, monkeypatch: Any
) -> None:
    # The model's own rules (e.g. the national cut-off) apply through full_clean.
    from django.core.exceptions import ValidationError

    def refuse(self: ReportingPeriod, *args: Any, **kwargs: Any) -> None:
        raise ValidationError({"deadline": "Hạn nộp phải trước ngày chốt số liệu."})

    monkeypatch.setattr(ReportingPeriod, "full_clean", refuse)
    client = client_for(personas["office_reviewer"])
    response = client.post(reverse("plans:setup_period", args=[period.pk]), {"deadline": "14/03/2024"})
    assert response.status_code == 400
    assert "Hạn nộp phải trước ngày chốt số liệu." in response.content.decode()
    period.refresh_from_db()
    assert period.deadline == datetime.date(2024, 3, 10)
    assert not AuditEvent.objects.filter(action="deadline_changed").exists()

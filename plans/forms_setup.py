"""Forms of the office's set-up pages: units, people and their roles, period deadlines.

Every message a person reads is Vietnamese; the writes go through plans.organisation and
plans.periods, which run the models' own validation again (full_clean).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError

from plans import roles
from plans.models import Membership, ReportingPeriod, Unit
from plans.organisation import GLOBAL_ROLES
from plans.text import nfc

User = get_user_model()
NAME_LIMIT = 150
_SHORT_NAME = re.compile(r"[A-Za-z0-9&.\-]{1,20}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
_REQUIRED = "Không được để trống."


def _clean_text(value: str) -> str:
    return " ".join(nfc(value).split())


class UnitForm(forms.Form):
    """Đơn vị: name, short name, kind, the dates its name is in force, the order in lists."""

    name = forms.CharField(
        label="Tên đơn vị",
        max_length=200,
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 200 ký tự."},
    )
    short_name = forms.CharField(
        label="Tên viết tắt",
        max_length=20,
        help_text="Chữ không dấu, số, dấu chấm, gạch ngang; ví dụ QLCN.",
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 20 ký tự."},
    )
    kind = forms.ChoiceField(
        label="Loại đơn vị",
        choices=Unit.Kind.choices,
        error_messages={"required": "Hãy chọn loại đơn vị.", "invalid_choice": "Loại đơn vị không hợp lệ."},
    )
    active_from = forms.DateField(
        label="Hiệu lực từ ngày",
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Ngày không hợp lệ (dd/mm/yyyy)."},
    )
    active_to = forms.DateField(
        label="Hết hiệu lực từ sau ngày",
        required=False,
        input_formats=DATE_FORMATS,
        help_text="Đơn vị đổi tên hoặc sáp nhập: ghi ngày kết thúc, không xóa.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Ngày không hợp lệ (dd/mm/yyyy)."},
    )
    aliases = forms.CharField(
        label="Tên gọi khác",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Mỗi dòng một tên, như cách viết trong các kế hoạch cũ; tên cũ được giữ tự động khi đổi tên.",
        error_messages={"max_length": "Tối đa 2000 ký tự."},
    )
    order = forms.IntegerField(
        label="Thứ tự",
        min_value=0,
        max_value=999,
        initial=0,
        error_messages={
            "required": _REQUIRED,
            "invalid": "Thứ tự phải là số.",
            "min_value": "Thứ tự từ 0 đến 999.",
            "max_value": "Thứ tự từ 0 đến 999.",
        },
    )

    def __init__(self, *args: Any, unit: Unit | None = None, **kwargs: Any) -> None:
        self.unit = unit
        if unit is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(unit, name) for name in self.base_fields if name != "aliases"}
            kwargs["initial"]["aliases"] = "\n".join(str(a) for a in unit.aliases or [])
        super().__init__(*args, **kwargs)

    def _others(self) -> Any:
        return Unit.objects.exclude(pk=self.unit.pk) if self.unit is not None else Unit.objects.all()

    def clean_name(self) -> str:
        name = _clean_text(self.cleaned_data["name"])
        if not name:
            raise ValidationError(_REQUIRED)
        if self._others().filter(name__iexact=name).exists():
            raise ValidationError("Đã có đơn vị mang tên này.")
        return name

    def clean_short_name(self) -> str:
        short = self.cleaned_data["short_name"].strip()
        if not _SHORT_NAME.fullmatch(short):
            raise ValidationError("Tên viết tắt chỉ gồm chữ không dấu, số, dấu chấm, gạch ngang và &.")
        if self._others().filter(short_name__iexact=short).exists():
            raise ValidationError("Đã có đơn vị dùng tên viết tắt này.")
        return short

    def clean_aliases(self) -> list[str]:
        names = [_clean_text(line) for line in self.cleaned_data["aliases"].splitlines()]
        return list(dict.fromkeys(name for name in names if name))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("active_from"), data.get("active_to")
        if start and end and end < start:
            self.add_error("active_to", "Ngày hết hiệu lực phải sau ngày bắt đầu hiệu lực.")
        return data


class PersonForm(forms.Form):
    """A person: name (family name first), e-mail, unit and role in it, global roles."""

    username = forms.CharField(
        label="Tên đăng nhập",
        max_length=40,
        help_text="Chữ thường không dấu, số, dấu chấm, gạch; ví dụ qlcn.nguyenvana.",
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 40 ký tự."},
    )
    password = forms.CharField(
        label="Mật khẩu ban đầu",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Ít nhất 8 ký tự, không toàn số, không quá giống tên đăng nhập.",
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 128 ký tự."},
    )
    last_name = forms.CharField(
        label="Họ và tên đệm",
        max_length=NAME_LIMIT,
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 150 ký tự."},
    )
    first_name = forms.CharField(
        label="Tên",
        max_length=NAME_LIMIT,
        error_messages={"required": _REQUIRED, "max_length": "Tối đa 150 ký tự."},
    )
    email = forms.EmailField(
        label="Thư điện tử",
        required=False,
        max_length=254,
        error_messages={
            "invalid": "Địa chỉ thư điện tử không hợp lệ.",
            "max_length": "Tối đa 254 ký tự.",
        },
    )
    unit = forms.ModelChoiceField(
        label="Đơn vị",
        queryset=Unit.objects.order_by("order", "name"),
        required=False,
        empty_label="(không thuộc đơn vị nào)",
        error_messages={"invalid_choice": "Đơn vị không tồn tại."},
    )
    unit_role = forms.ChoiceField(
        label="Vai trò trong đơn vị",
        choices=Membership.Role.choices,
        initial=Membership.Role.STAFF,
        error_messages={"required": "Hãy chọn vai trò.", "invalid_choice": "Vai trò không hợp lệ."},
    )
    global_roles = forms.MultipleChoiceField(
        label="Vai trò chung",
        required=False,
        choices=[(r, r) for r in GLOBAL_ROLES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Vai trò không hợp lệ."},
    )
    oversees = forms.ModelMultipleChoiceField(
        label="Đơn vị phụ trách (Phó Giám đốc ký duyệt)",
        queryset=Unit.objects.order_by("order", "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Đơn vị không tồn tại.",
            "invalid_pk_value": "Đơn vị không tồn tại.",
            "invalid_list": "Danh sách đơn vị không hợp lệ.",
        },
    )
    is_active = forms.BooleanField(
        label="Đang hoạt động",
        required=False,
        initial=True,
        help_text="Bỏ chọn để khóa tài khoản: người này bị đăng xuất ở lần truy cập kế tiếp.",
    )

    def __init__(self, *args: Any, person: Any = None, **kwargs: Any) -> None:
        self.person = person
        if person is not None and "initial" not in kwargs:
            from guardian.shortcuts import get_objects_for_user

            person_roles = roles.roles_of(person)
            kwargs["initial"] = {
                "last_name": person.last_name,
                "first_name": person.first_name,
                "email": person.email,
                "unit": person_roles.unit,
                "unit_role": Membership.Role.HEAD if person_roles.is_head else Membership.Role.STAFF,
                "global_roles": [r for r in GLOBAL_ROLES if r in person_roles.groups],
                "oversees": list(
                    get_objects_for_user(
                        person,
                        "plans.sign_off_unit",
                        klass=Unit,
                        use_groups=False,
                        with_superuser=False,
                        accept_global_perms=False,
                    )
                ),
                "is_active": person.is_active,
            }
        super().__init__(*args, **kwargs)
        if person is not None:
            # The account's name and password are not changed here: a new password would let
            # the office act as anyone; people change their own.
            del self.fields["username"]
            del self.fields["password"]
        else:
            del self.fields["is_active"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if not _USERNAME.fullmatch(username):
            raise ValidationError(
                "Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch dưới, gạch ngang (2–40 ký tự)."
            )
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("Tên đăng nhập này đã có người dùng.")
        return username

    def clean_last_name(self) -> str:
        return _clean_text(self.cleaned_data["last_name"]) or self._required()

    def clean_first_name(self) -> str:
        return _clean_text(self.cleaned_data["first_name"]) or self._required()

    def _required(self) -> str:
        raise ValidationError(_REQUIRED)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("unit") is None and data.get("unit_role") == Membership.Role.HEAD:
            self.add_error("unit_role", "Trưởng đơn vị phải thuộc một đơn vị.")
        if data.get("oversees") and roles.DEPUTY_DIRECTOR not in (data.get("global_roles") or []):
            self.add_error("oversees", "Chỉ Phó Giám đốc được phân công phụ trách đơn vị.")
        password = data.get("password")
        if password and "username" in self.fields:
            probe = User(
                username=data.get("username", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                email=data.get("email", ""),
            )
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as error:
                self.add_error("password", error)
        return data


class DeadlineForm(forms.Form):
    """Hạn nộp nội bộ of a reporting period."""

    deadline = forms.DateField(
        label="Hạn nộp nội bộ",
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Hãy nhập hạn nộp.", "invalid": "Ngày không hợp lệ (dd/mm/yyyy)."},
    )

    def __init__(self, *args: Any, period: ReportingPeriod, **kwargs: Any) -> None:
        self.period = period
        kwargs.setdefault("initial", {"deadline": period.deadline})
        super().__init__(*args, **kwargs)

    def clean_deadline(self) -> Any:
        deadline = self.cleaned_data["deadline"]
        if deadline.year != self.period.plan.year:
            raise ValidationError(f"Hạn nộp phải trong năm của kế hoạch ({self.period.plan.year}).")
        return deadline

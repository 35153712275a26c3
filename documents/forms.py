from __future__ import annotations

from typing import Any

from django import forms

from documents import conf
from documents.models import IssuedDocument
from plans import access
from plans.models import ReportingPeriod
from plans.roles import display_name


class LeaderChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class IssueForm(forms.Form):
    kind = forms.ChoiceField(label="Loại văn bản", choices=IssuedDocument.Kind.choices)
    period = forms.ModelChoiceField(
        label="Kỳ báo cáo", queryset=ReportingPeriod.objects.select_related("plan"), required=False
    )
    period_task = forms.IntegerField(label="Mã nhiệm vụ (hồ sơ nhiệm vụ)", required=False, min_value=1)
    signer = LeaderChoice(
        label="Người ký",
        queryset=access.leaders().order_by("username"),
    )
    replaces = forms.ModelChoiceField(
        label="Thay thế văn bản (đính chính)",
        queryset=IssuedDocument.objects.filter(state=IssuedDocument.State.ISSUED)
        .select_related("register")
        .defer("pdf"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean() returns cleaned_data; its stub says it may return None
        data = self.cleaned_data
        if data.get("kind") == IssuedDocument.Kind.PERIOD_REPORT and not data.get("period"):
            self.add_error("period", "Chọn kỳ báo cáo cần ban hành.")
        if data.get("kind") == IssuedDocument.Kind.DOSSIER and not data.get("period_task"):
            self.add_error("period_task", "Nhập mã nhiệm vụ cần ban hành hồ sơ.")
        return data


class VerifyForm(forms.Form):
    file = forms.FileField(label="Tệp PDF cần xác minh")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = conf.verify_max_bytes()
        if upload.size > limit:
            raise forms.ValidationError(f"Tệp quá lớn: tối đa {limit // (1024 * 1024)} MB.")
        if upload.size == 0:
            raise forms.ValidationError("Tệp rỗng.")
        return upload

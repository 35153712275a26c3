"""Forms of the plan pages: the table's filters and the plan file upload."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from plans.models import PlanTask, Unit
from plans.parsing import ACCEPT, PlanParseError, check_name, check_size, upload_limit
from plans.selectors import PlanFilters


class PlanFilterForm(forms.Form):
    """GET filters of the plan table; invalid values are dropped, not fatal."""

    appendix = forms.TypedChoiceField(label="Phụ lục", required=False, coerce=int, empty_value=None)
    unit = forms.ModelChoiceField(
        label="Đơn vị (chủ trì hoặc phối hợp)",
        queryset=Unit.objects.order_by("order", "name"),
        required=False,
        empty_label="Tất cả đơn vị",
        error_messages={"invalid_choice": "Đơn vị không tồn tại."},
    )
    kind = forms.ChoiceField(
        label="Thời gian thực hiện",
        required=False,
        choices=[("", "Tất cả")] + list(PlanTask.TimelineKind.choices),
        error_messages={"invalid_choice": "Loại thời hạn không hợp lệ."},
    )
    q = forms.CharField(label="Tìm kiếm", required=False, max_length=200, strip=True)

    def __init__(self, *args: Any, appendix_numbers: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["appendix"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Tất cả phụ lục")] + [(str(n), f"Phụ lục {n}") for n in appendix_numbers]
        field.error_messages["invalid_choice"] = "Phụ lục không hợp lệ."
        self.fields["q"].widget.attrs.update({"type": "search", "placeholder": "ví dụ: cai cach, dien"})
        self.fields["q"].error_messages["max_length"] = "Từ khóa dài quá 200 ký tự."

    def filters(self) -> PlanFilters:
        """The valid part of the filters (call after is_valid(); invalid fields are skipped)."""
        # Django drops an invalid field from cleaned_data, so what is left is the valid part.
        data = getattr(self, "cleaned_data", {})
        return PlanFilters(
            appendix=data.get("appendix"),
            unit=data.get("unit"),
            kind=data.get("kind") or None,
            q=data.get("q") or "",
        )


class PlanUploadForm(forms.Form):
    """The plan file: checked for type and size (``plans.parsing.rules``) before any parser reads it."""

    file = forms.FileField(
        label="Tệp kế hoạch (.docx, .doc, .odt hoặc .txt) hoặc bảng tính (.xlsx)",
        error_messages={
            "required": "Hãy chọn tệp kế hoạch.",
            "empty": "Tệp rỗng: không có nội dung để nhập.",
            "invalid": "Không đọc được tệp đã gửi.",
            "missing": "Không nhận được tệp. Hãy chọn lại.",
        },
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )
    year = forms.IntegerField(
        label="Năm kế hoạch",
        required=False,
        min_value=2000,
        max_value=2100,
        help_text="Để trống: lấy năm ghi trong tiêu đề các phụ lục.",
        error_messages={
            "invalid": "Năm phải là số.",
            "min_value": "Năm không hợp lệ.",
            "max_value": "Năm không hợp lệ.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = upload_limit() // (1024 * 1024)
        self.fields["file"].help_text = f"Các bảng phụ lục của kế hoạch CCHC, tối đa {limit} MB."

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        try:
            check_name(upload.name)
            check_size(upload.size)
        except PlanParseError as exc:
            raise forms.ValidationError(exc.message, code="file") from exc
        if upload.size == 0:
            raise forms.ValidationError("Tệp rỗng: không có nội dung để nhập.", code="empty")
        return upload

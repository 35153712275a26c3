"""Forms of the step page and the launch page; labels and messages in Vietnamese."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core import validators

from plans.models import Plan, PlanTask, ReportingPeriod
from plans.roles import display_name
from workflow.models import Step

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

TEXT_LIMIT = 20_000


class ReportTextField(forms.CharField):
    """A report's text: newlines as the browser counts them (CRLF → LF), at most TEXT_LIMIT characters.

    No ``maxlength`` attribute: the browser would cut a pasted text silently. The page shows a
    counter instead (static/js/report.js reads ``data-limit``) and the form refuses the text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=TEXT_LIMIT, **kwargs)
        # The limit is checked in validate(), with a message that gives the length.
        self.validators = [v for v in self.validators if not isinstance(v, validators.MaxLengthValidator)]

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        assert text is not None  # CharField gives None only when empty_value is None; here it is ""
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def validate(self, value: Any) -> None:
        super().validate(value)
        if len(value) > TEXT_LIMIT:
            raise forms.ValidationError(
                f"Nội dung dài {_count(len(value))} ký tự, vượt giới hạn {_count(TEXT_LIMIT)} ký tự: "
                "hãy rút gọn hoặc đưa phần chi tiết vào tệp đính kèm.",
                code="too_long",
            )


def _count(n: int) -> str:
    """20000 → "20.000" (Vietnamese groups thousands with a dot)."""
    return f"{n:,}".replace(",", ".")


def _text(label: str, required: bool = False, help_text: str = "") -> forms.CharField:
    return ReportTextField(
        label=label,
        required=required,
        widget=forms.Textarea(attrs={"rows": 6, "data-limit": TEXT_LIMIT}),
        help_text=help_text,
    )


class LeadReportForm(forms.Form):
    result = _text("Kết quả thực hiện")
    self_assessment = forms.ChoiceField(
        label="Tự đánh giá", choices=[("", "— Chọn —"), *Step.SelfAssessment.choices], required=False
    )
    explanation = _text("Giải trình", help_text="Bắt buộc khi không có tài liệu kiểm chứng.")


class PartnerInputForm(forms.Form):
    result = _text("Ý kiến phối hợp")
    no_opinion = forms.BooleanField(label="Không có ý kiến", required=False)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Kết quả thẩm định",
        choices=[
            (Step.Decision.APPROVE, "Đạt – trình Lãnh đạo Sở"),
            (Step.Decision.RETURN_LEAD, "Trả lại đơn vị chủ trì"),
            (Step.Decision.ASK_PARTNERS, "Xin thêm ý kiến cơ quan phối hợp (chọn bên dưới)"),
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    reason = _text("Lý do trả lại")
    ask_partners_again = forms.BooleanField(label="Xin lại ý kiến các cơ quan phối hợp", required=False)


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(
        label="Quyết định",
        choices=[
            (Step.Decision.APPROVE, "Phê duyệt"),
            (Step.Decision.RETURN_OFFICE, "Trả lại Văn phòng Sở"),
            (Step.Decision.RETURN_LEAD, "Trả lại đơn vị chủ trì"),
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    reason = _text("Lý do trả lại")


STEP_FORMS: dict[str, type[forms.Form]] = {
    Step.Kind.LEAD: LeadReportForm,
    Step.Kind.PARTNER: PartnerInputForm,
    Step.Kind.REVIEW: ReviewForm,
    Step.Kind.SIGN_OFF: SignOffForm,
}


PARTNER_HELP: dict[str, str] = {
    Step.Kind.LEAD: "Đánh dấu sẵn: các đơn vị kế hoạch nêu tên. Các đơn vị chỉ thuộc “Các phòng, đơn vị "
    "thuộc sở” được hỏi khi bạn đánh dấu. Không đánh dấu đơn vị nào: không xin ý kiến phối hợp.",
    Step.Kind.REVIEW: "Chỉ dùng với quyết định “Xin thêm ý kiến cơ quan phối hợp”.",
}


def partners_field(step: Step, process: Any = None) -> forms.Field | None:
    """The partner units a lead step (or the office at review) may ask, ticked as proposed
    (``selectors.partner_choice``); None when the task has none."""
    from workflow.selectors import partner_choice

    choice = partner_choice(step, process)
    if not choice.units:
        return None
    return forms.TypedMultipleChoiceField(
        label="Xin ý kiến cơ quan phối hợp"
        if step.kind == Step.Kind.LEAD
        else "Cơ quan phối hợp cần xin ý kiến",
        choices=[(u.pk, u.name) for u in choice.units],
        coerce=int,
        required=False,
        initial=choice.proposed,
        widget=forms.CheckboxSelectMultiple,
        help_text=PARTNER_HELP[step.kind],
        error_messages={"invalid_choice": "Chỉ được xin ý kiến các cơ quan phối hợp của nhiệm vụ."},
    )


def step_form(step: Step, data: Any = None) -> forms.Form:
    form_class = STEP_FORMS[step.kind]
    initial = {name: getattr(step, name) for name in form_class.base_fields}
    form = form_class(data=data, initial=initial, prefix="report")
    if step.kind in PARTNER_HELP and step.state == Step.State.OPEN:
        field = partners_field(step)
        if field is not None:
            form.fields["partners_asked"] = field
            form.initial["partners_asked"] = field.initial
    return form


class EvidenceForm(forms.Form):
    # Its input sits in the report form: a browser-side "required" would block saving the text.
    use_required_attribute = False

    file = forms.FileField(label="Tài liệu kiểm chứng", error_messages={"required": "Hãy chọn tệp."})


class MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class AssignForm(forms.Form):
    assignee = MemberChoice(
        label="Giao cho",
        queryset=None,  # type: ignore[arg-type]
        empty_label="— Chọn người —",
        error_messages={"invalid_choice": "Người được giao phải là thành viên của đơn vị."},
    )

    def __init__(self, *args: Any, members: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assert isinstance(assignee, MemberChoice)
        assignee.queryset = members


class TaskChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.key} – {obj.task[:90]} ({obj.timeline_text or 'không ghi thời hạn'})"


class LaunchForm(forms.Form):
    plan = forms.ModelChoiceField(label="Kế hoạch", queryset=Plan.objects.all(), empty_label=None)
    period = forms.ChoiceField(label="Kỳ báo cáo", choices=ReportingPeriod.Code.choices)
    include_year_tasks = forms.BooleanField(
        label="Kỳ 6 tháng: báo cáo cả các nhiệm vụ có thời hạn “Năm”", required=False
    )
    tasks = TaskChoice(
        label="Chỉ khởi tạo các nhiệm vụ sau (để trống: toàn bộ nhiệm vụ theo kỳ)",
        queryset=PlanTask.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from workflow.selectors import parse_id

        plan_id = parse_id(self.data.get("plan")) if self.is_bound else None
        plan = Plan.objects.filter(pk=plan_id).first() if plan_id else Plan.objects.first()
        if plan is not None:
            self.fields["plan"].initial = plan.pk
            tasks = self.fields["tasks"]
            assert isinstance(tasks, TaskChoice)
            tasks.queryset = plan.tasks.select_related("criterion").order_by("position")


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Lý do hủy",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Hủy quy trình phải nêu lý do."},
    )

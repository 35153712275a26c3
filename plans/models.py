"""The plan as data: the department's units and people, the plan and its appendices."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from plans import defaults


class UnitQuerySet(models.QuerySet["Unit"]):
    def active_on(self, day: datetime.date) -> UnitQuerySet:
        return self.filter(Q(active_from__isnull=True) | Q(active_from__lte=day)).filter(
            Q(active_to__isnull=True) | Q(active_to__gte=day)
        )


class Unit(models.Model):
    """Đơn vị: a division (phòng), the office, the inspectorate or a public service centre.

    Unit-scoped rights are django-guardian object permissions on this model, granted to
    the unit's groups: viewflow's queue matches ``<perm>_<unit pk>`` strings, so a few
    grants per user serve every task of every year.
    """

    class Kind(models.TextChoices):
        DIVISION = defaults.DIVISION, _("Phòng chuyên môn")
        OFFICE = defaults.OFFICE, _("Văn phòng Sở")
        INSPECTORATE = defaults.INSPECTORATE, _("Thanh tra Sở")
        CENTRE = defaults.CENTRE, _("Đơn vị sự nghiệp")

    name = models.CharField(_("tên đơn vị"), max_length=200, unique=True)
    short_name = models.CharField(_("tên viết tắt"), max_length=20, unique=True)
    kind = models.CharField(_("loại"), max_length=20, choices=Kind.choices)
    aliases = models.JSONField(_("tên gọi khác"), default=list, blank=True)
    active_from = models.DateField(_("hiệu lực từ"), null=True, blank=True)
    active_to = models.DateField(_("hiệu lực đến"), null=True, blank=True)
    order = models.PositiveSmallIntegerField(_("thứ tự"), default=0)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("đơn vị")
        verbose_name_plural = _("đơn vị")
        ordering = ["order", "name"]
        permissions = [
            ("work_on_unit", _("Thực hiện nhiệm vụ của đơn vị")),
            ("manage_unit", _("Phân công trong đơn vị")),
            ("sign_off_unit", _("Ký duyệt kết quả của đơn vị")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def member_group_name(self) -> str:
        return f"Đơn vị {self.short_name}"

    @property
    def head_group_name(self) -> str:
        return f"Lãnh đạo đơn vị {self.short_name}"


class Membership(models.Model):
    """Thành viên đơn vị: the unit a user belongs to and their role in it."""

    class Role(models.TextChoices):
        STAFF = "staff", _("Chuyên viên")
        HEAD = "head", _("Trưởng đơn vị")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("vai trò"), max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        verbose_name = _("thành viên đơn vị")
        verbose_name_plural = _("thành viên đơn vị")

    def __str__(self) -> str:
        return f"{self.user} – {self.unit} ({self.get_role_display()})"


class Plan(models.Model):
    """Kế hoạch: one year's administrative-reform plan, with its document header lines."""

    title = models.CharField(_("tên kế hoạch"), max_length=500)
    year = models.PositiveSmallIntegerField(_("năm"))
    number = models.CharField(
        _("số"),
        max_length=50,
        blank=True,
        help_text=_('Số của kế hoạch trong sổ văn bản đi ("123"); để trống khi chưa có số.'),
    )
    symbol = models.CharField(
        _("ký hiệu"), max_length=30, default="KH-SCT", help_text=_('Ký hiệu của kế hoạch ("KH-SCT").')
    )
    adopted_on = models.DateField(_("ngày ban hành"), null=True, blank=True)
    superior_body = models.CharField(_("cơ quan chủ quản"), max_length=200, default="UBND TỈNH BẮC KẠN")
    issuing_body = models.CharField(_("cơ quan ban hành"), max_length=200, default="SỞ CÔNG THƯƠNG")
    place = models.CharField(_("địa danh"), max_length=100, default="Bắc Kạn")
    document_symbol = models.CharField(_("ký hiệu văn bản báo cáo"), max_length=30, default="BC-SCT")
    source_name = models.CharField(_("tệp nguồn"), max_length=255, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(_("nhập lúc"), null=True, blank=True)

    class Meta:
        verbose_name = _("kế hoạch")
        verbose_name_plural = _("kế hoạch")
        ordering = ["-year", "-pk"]
        permissions = [("import_plan", _("Nhập kế hoạch từ tệp"))]

    def __str__(self) -> str:
        return self.title


class Appendix(models.Model):
    """Phụ lục: one appendix table of the plan."""

    class Index(models.TextChoices):
        PAR = "par", _("Chỉ số CCHC (PAR INDEX)")
        SIPAS = "sipas", _("Chỉ số hài lòng (SIPAS)")
        PAPI = "papi", _("Chỉ số PAPI")
        OTHER = "other", _("Khác")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="appendices")
    number = models.PositiveSmallIntegerField(_("số phụ lục"))
    index = models.CharField(_("chỉ số"), max_length=10, choices=Index.choices)
    title = models.TextField(_("tiêu đề"))
    columns = models.JSONField(_("tiêu đề cột"), default=list)

    class Meta:
        verbose_name = _("phụ lục")
        verbose_name_plural = _("phụ lục")
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="appendix_unique_number")]

    def __str__(self) -> str:
        return f"Phụ lục {self.number}"

    @property
    def has_target(self) -> bool:
        return self.index == self.Index.PAR


class Section(models.Model):
    """Lĩnh vực: a roman-numbered section (I..VIII) of an appendix; code "" when implicit."""

    appendix = models.ForeignKey(Appendix, on_delete=models.CASCADE, related_name="sections")
    code = models.CharField(_("mã"), max_length=10, blank=True)
    title = models.TextField(_("tên"), blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("lĩnh vực")
        verbose_name_plural = _("lĩnh vực")
        ordering = ["appendix", "order"]

    def __str__(self) -> str:
        return f"{self.code}. {self.title}" if self.code else self.title


class CriterionGroup(models.Model):
    """Nhóm: the middle level of the SIPAS and PAPI appendices (1, 2 ...)."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="groups")
    code = models.CharField(_("mã"), max_length=10)
    title = models.TextField(_("tên"))
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("nhóm")
        verbose_name_plural = _("nhóm")
        ordering = ["section", "order"]

    def __str__(self) -> str:
        return f"{self.code}. {self.title}"


class Criterion(models.Model):
    """Tiêu chí / tiêu chí thành phần: a numbered row of the table, holding its tasks."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="criteria")
    group = models.ForeignKey(
        CriterionGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="criteria"
    )
    ordinal = models.CharField(_("TT"), max_length=10, blank=True)
    code = models.CharField(_("mã tiêu chí"), max_length=20, blank=True)
    name = models.TextField(_("tên tiêu chí"))
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("tiêu chí")
        verbose_name_plural = _("tiêu chí")
        ordering = ["section", "order"]

    def __str__(self) -> str:
        return f"{self.code}. {self.name}" if self.code else self.name


class PlanTask(models.Model):
    """Nhiệm vụ: one task of the plan, with its lead unit, partners, target and timeline."""

    class TimelineKind(models.TextChoices):
        ONGOING = "ongoing", _("Thường xuyên")
        YEAR = "year", _("Trong năm")
        POLICY = "policy", _("Khi tham mưu xây dựng chính sách")
        OTHER = "other", _("Khác")
        NONE = "none", _("Không ghi")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="tasks")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="tasks")
    key = models.CharField(
        max_length=60, help_text="appendix/section/criterion/order, stable across re-imports"
    )
    order = models.PositiveSmallIntegerField(default=1)
    target = models.TextField(_("mục tiêu"), blank=True)
    task = models.TextField(_("nhiệm vụ, giải pháp"))
    lead_text = models.TextField(_("đơn vị chủ trì (như ghi trong kế hoạch)"), blank=True)
    lead_units = models.ManyToManyField(Unit, related_name="led_tasks", verbose_name=_("đơn vị chủ trì"))
    partner_text = models.TextField(_("cơ quan phối hợp (như ghi trong kế hoạch)"), blank=True)
    partner_units = models.ManyToManyField(
        Unit, related_name="partnered_tasks", blank=True, verbose_name=_("cơ quan phối hợp")
    )
    # The partner units the plan names one by one (``plans.partner_scope``); the others are
    # partners only because a collective phrase ("Các phòng, đơn vị thuộc sở") covers them.
    partner_units_named = models.ManyToManyField(
        Unit, related_name="+", blank=True, verbose_name=_("cơ quan phối hợp được nêu tên")
    )
    timeline_text = models.CharField(_("thời gian thực hiện"), max_length=200, blank=True)
    timeline_kind = models.CharField(
        _("loại thời hạn"), max_length=10, choices=TimelineKind.choices, default=TimelineKind.NONE
    )
    due_date = models.DateField(_("hạn hoàn thành"), null=True, blank=True)
    inherited = models.JSONField(_("ô gộp kế thừa"), default=list, blank=True)
    search_text = models.TextField(editable=False, default="")
    position = models.PositiveIntegerField(default=0, help_text="order in the whole plan")

    class Meta:
        verbose_name = _("nhiệm vụ")
        verbose_name_plural = _("nhiệm vụ")
        ordering = ["plan", "position"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="plantask_unique_key")]

    def __str__(self) -> str:
        return self.task[:80]

    def is_inherited(self, field: str) -> bool:
        return field in self.inherited


class ReportingPeriod(models.Model):
    """Kỳ báo cáo: Quý I, 6 tháng, Quý III or Năm of a plan, with its internal deadline."""

    class Code(models.TextChoices):
        Q1 = "Q1", _("Quý I")
        H1 = "H1", _("6 tháng")
        Q3 = "Q3", _("Quý III")
        Y = "Y", _("Năm")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="periods")
    code = models.CharField(_("kỳ"), max_length=2, choices=Code.choices)
    deadline = models.DateField(_("hạn nộp nội bộ"))
    cutoff = models.DateField(_("ngày chốt số liệu"))
    include_year_tasks = models.BooleanField(
        _("gồm nhiệm vụ “Năm”"),
        default=False,
        help_text=_("Nhiệm vụ có thời hạn trong năm được báo cáo ở kỳ này (luôn có ở kỳ Năm)."),
    )

    class Meta:
        verbose_name = _("kỳ báo cáo")
        verbose_name_plural = _("kỳ báo cáo")
        ordering = ["plan", "deadline"]
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="period_unique_code")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The period's one name wherever a person reads it: "Quý I/2024"."""
        return f"{self.get_code_display()}/{self.plan.year}"

    @property
    def report_file_name(self) -> str:
        """The period report's file name, without extension (no slash in a file name)."""
        return f"Báo cáo kết quả CCHC {self.get_code_display()} {self.plan.year}"

    def clean(self) -> None:
        """A deadline after the national cut-off of its period is refused (issue 11, part 8)."""
        from plans.periods import national_cutoff

        if self.deadline is None or not self.plan_id or self.code not in self.Code.values:
            return
        cutoff = national_cutoff(self.code, self.plan.year)
        if self.deadline > cutoff:
            raise ValidationError(
                {
                    "deadline": _(
                        "Hạn nộp nội bộ %(deadline)s muộn hơn ngày chốt số liệu toàn quốc %(cutoff)s "
                        "của kỳ %(period)s: chọn một ngày từ %(cutoff)s trở về trước."
                    )
                    % {
                        "deadline": f"{self.deadline:%d/%m/%Y}",
                        "cutoff": f"{cutoff:%d/%m/%Y}",
                        "period": self.label,
                    }
                }
            )

    @property
    def judged_deadline(self) -> datetime.date:
        """The deadline the national buckets are judged against: the deadline itself, moved
        to a working day as ``DUE_DATE_SHIFT`` says when it falls on a day off
        (plans.calendar.judged_deadline; docs/calendar.md)."""
        from plans.calendar import judged_deadline

        return judged_deadline(self.deadline)


class CalendarDay(models.Model):
    """Ngày nghỉ, ngày làm bù: a day the office enters because the government announced it.

    The public holidays (Tết, Giỗ Tổ Hùng Vương …) come from the ``holidays`` package
    (``plans.calendar``); these rows add what it cannot know in advance: bridging days off
    and make-up working days (ngày làm bù, usually a Saturday). An entered day overrides
    the package and the weekend. Entering and removing a day is audited
    (``plans.calendar.calendar_day_add`` / ``calendar_day_remove``).
    """

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("Ngày nghỉ")
        WORKDAY = "workday", _("Ngày làm bù")

    date = models.DateField(_("ngày"), unique=True)
    kind = models.CharField(_("loại"), max_length=10, choices=Kind.choices)
    note = models.CharField(_("ghi chú"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("nhập lúc"), auto_now_add=True)

    class Meta:
        verbose_name = _("ngày nghỉ, ngày làm bù")
        verbose_name_plural = _("ngày nghỉ, ngày làm bù")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} – {self.get_kind_display()}"


class PlanUpload(models.Model):
    """One plan file sent to the upload page: parsed by a background job (``plans.tasks``).

    The bytes wait in ``plans.staging`` under ``token`` until the job has read them; the
    parsed plan then waits there as JSON (its hash in ``result_sha256``) for the preview
    and the confirm. Only the uploader and the office see it (``plans.access``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ xử lý"
        PARSING = "parsing", "Đang đọc tệp"
        DONE = "done", "Đã đọc xong"
        REFUSED = "refused", "Bị từ chối"
        FAILED = "failed", "Lỗi khi đọc"
        IMPORTED = "imported", "Đã nhập"
        CANCELLED = "cancelled", "Đã hủy"

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    token = models.CharField(
        max_length=32, blank=True, help_text="Where the staged files are (plans.staging)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def waiting(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.PARSING)

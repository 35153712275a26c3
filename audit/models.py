"""Nhật ký: the audit trail's one table and the one list of what can happen in it.

The table keeps its old name (``workflow_auditevent``, moved here from workflow without
touching the database): the append-only trigger, the grants of ``manage.py db_roles``,
backups and the hash chain all name it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """Every action the trail records, with the one Vietnamese word shown wherever it is read
    (history page, audit search, dossier PDF, workbook, verify_audit)."""

    LAUNCH = "launch", "Khởi tạo quy trình"
    CLAIM = "claim", "Nhận việc"
    ASSIGN = "assign", "Giao việc"
    REASSIGN = "reassign", "Giao lại việc"
    SAVE_DRAFT = "save_draft", "Lưu nháp"
    SUBMIT = "submit", "Gửi kết quả thực hiện"
    PARTNER_INPUT = "partner_input", "Gửi ý kiến phối hợp"
    # The same word as the decision in the review form (Step.Decision.ASK_PARTNERS).
    ASK_PARTNERS = "ask_partners", "Xin ý kiến phối hợp"
    RETURN = "return", "Trả lại"
    # The same word as the decision in the review form (Step.Decision.APPROVE).
    APPROVE = "approve", "Đồng ý"
    SIGN_OFF = "sign_off", "Phê duyệt"
    CANCEL = "cancel", "Hủy quy trình"
    EVIDENCE_ADDED = "evidence_added", "Đính kèm tài liệu kiểm chứng"
    EVIDENCE_REMOVED = "evidence_removed", "Gỡ tài liệu kiểm chứng"
    CALENDAR_DAY_ADDED = "calendar_day_added", "Nhập ngày nghỉ, ngày làm bù"
    CALENDAR_DAY_REMOVED = "calendar_day_removed", "Xóa ngày nghỉ, ngày làm bù"
    PLAN_IMPORTED = "plan_imported", "Nhập kế hoạch"
    MEMBERSHIP_CHANGED = "membership_changed", "Thay đổi đơn vị, vai trò trong đơn vị"
    ROLE_CHANGED = "role_changed", "Thay đổi vai trò"
    MAIL_RESENT = "mail_resent", "Gửi lại thư"
    UNIT_CREATED = "unit_created", "Thêm đơn vị"
    UNIT_CHANGED = "unit_changed", "Sửa thông tin đơn vị"
    PERSON_CREATED = "person_created", "Tạo tài khoản"
    PERSON_CHANGED = "person_changed", "Sửa thông tin người dùng"
    PERSON_DEACTIVATED = "person_deactivated", "Khóa tài khoản"
    PERSON_REACTIVATED = "person_reactivated", "Mở lại tài khoản"
    DEADLINE_CHANGED = "deadline_changed", "Đổi hạn nộp của kỳ báo cáo"
    DOCUMENT_ISSUED = "document_issued", "Ban hành văn bản (cấp số, ký số)"
    DOCUMENT_NUMBER_CANCELLED = "document_number_cancelled", "Hủy số văn bản"


def action_label(action: str) -> str:
    """The Vietnamese name of an action; an unknown one (never expected) reads as itself."""
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


class AuditEvent(models.Model):
    """Nhật ký: one append-only event; each carries the hash of the one before it."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    actor_unit = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=30, db_index=True)
    # By string: the trail sits below workflow and only points up at its rows.
    period_task = models.ForeignKey(
        "workflow.PeriodTask", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    step = models.ForeignKey(
        "workflow.Step", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # How ``hash`` was made (audit.services): "sha256" before the chain was keyed, then
    # "hmac-sha256:<key id>". The database default marks the rows written before this field.
    algorithm = models.CharField(max_length=40, default="sha256", db_default="sha256")

    class Meta:
        db_table = "workflow_auditevent"
        verbose_name = _("sự kiện nhật ký")
        verbose_name_plural = _("nhật ký")
        ordering = ["seq"]
        indexes = [models.Index(fields=["actor", "seq"], name="event_actor_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

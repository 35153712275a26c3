"""The register of outgoing documents (sổ đăng ký văn bản đi) and the documents issued from it.

A ``Register`` is one year's sequence of numbers for one symbol ("BC-SCT"); its row is the
lock that makes numbers gapless and unique (``documents.services``). An ``IssuedDocument``
holds its number from the moment it is reserved: it becomes ``issued`` with its frozen,
signed PDF (bytes and SHA-256, never regenerated), or ``cancelled`` ("hủy số") when rendering
or signing failed, so that every number of the register is accounted for.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Register(models.Model):
    year = models.PositiveIntegerField("năm")
    symbol = models.CharField("ký hiệu", max_length=30)
    last_number = models.PositiveIntegerField("số cuối cùng đã cấp", default=0)

    class Meta:
        verbose_name = "sổ đăng ký văn bản đi"
        verbose_name_plural = "sổ đăng ký văn bản đi"
        constraints = [models.UniqueConstraint(fields=["year", "symbol"], name="register_unique_year_symbol")]

    def __str__(self) -> str:
        return f"Sổ văn bản đi {self.symbol} năm {self.year}"


class IssuedDocument(models.Model):
    class Kind(models.TextChoices):
        PERIOD_REPORT = "period", "Báo cáo kết quả của kỳ"
        DOSSIER = "dossier", "Hồ sơ nhiệm vụ"

    class State(models.TextChoices):
        RESERVED = "reserved", "Đang phát hành (đã lấy số)"
        ISSUED = "issued", "Đã ban hành"
        CANCELLED = "cancelled", "Hủy số"

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="documents")
    number = models.PositiveIntegerField("số")
    kind = models.CharField("loại", max_length=10, choices=Kind.choices)
    state = models.CharField("tình trạng", max_length=10, choices=State.choices, default=State.RESERVED)
    title = models.CharField("trích yếu", max_length=300)
    issued_on = models.DateField("ngày ban hành")
    period = models.ForeignKey(
        "plans.ReportingPeriod", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period_task = models.ForeignKey(
        "workflow.PeriodTask", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # As the signature block shows them at the time of signing (a later change of title or name
    # does not rewrite an issued document).
    signer_name = models.CharField("người ký", max_length=200)
    signer_authority = models.CharField("thẩm quyền ký", max_length=60)  # "KT. GIÁM ĐỐC" / "GIÁM ĐỐC"
    signer_title = models.CharField("chức vụ", max_length=60, blank=True)  # "PHÓ GIÁM ĐỐC"
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("lấy số lúc", auto_now_add=True)
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name="thay thế văn bản",
    )
    pdf = models.BinaryField("tệp PDF đã ký", default=b"", editable=False)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True, db_index=True)
    cancel_reason = models.TextField("lý do hủy số", blank=True)

    class Meta:
        verbose_name = "văn bản đã ban hành"
        verbose_name_plural = "văn bản đã ban hành"
        ordering = ["-issued_on", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["register", "number"], name="issueddocument_unique_number"),
            models.UniqueConstraint(
                fields=["sha256"], condition=~models.Q(sha256=""), name="issueddocument_unique_sha256"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number_text} ({self.get_state_display()})"

    @property
    def number_text(self) -> str:
        """ "12/BC-SCT": Nghị định 30 writes numbers below 10 with a leading zero."""
        return number_text(self.number, self.register.symbol)

    @property
    def issued_on_text(self) -> str:
        return self.issued_on.strftime("%d/%m/%Y")


def number_text(number: int, symbol: str) -> str:
    return f"{number:02d}/{symbol}"

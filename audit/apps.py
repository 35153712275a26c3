from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Nhật ký: the append-only audit trail, below both plans and workflow."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Nhật ký"

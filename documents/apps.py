from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Văn bản đi (ban hành, ký số, xác minh)"
    default_auto_field = "django.db.models.BigAutoField"

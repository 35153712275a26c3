from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Quy trình báo cáo"

    def ready(self) -> None:
        from workflow import checks  # noqa: F401 - registers the deploy checks

from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Quy trình báo cáo"

    def ready(self) -> None:
        from plans import hooks
        from workflow import (
            checks,  # noqa: F401 - registers the deploy checks
            counting,
            services,
        )

        # What plans' pages and writes need of the workflow (plans imports nothing from it).
        hooks.plan_statuses_provide(counting.plan_tables_with_statuses)
        hooks.period_deadline_changed.connect(services.steps_redate_for_period, dispatch_uid="steps_redate")

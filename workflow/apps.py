from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_save


def _forget_periods(**_signal: Any) -> None:
    from workflow.selectors import period_choices_forget

    period_choices_forget()
    transaction.on_commit(period_choices_forget)


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Quy trình báo cáo"

    def ready(self) -> None:
        from plans import hooks
        from plans.models import Plan, ReportingPeriod
        from workflow import (
            checks,  # noqa: F401 - registers the deploy checks
            counting,
            services,
        )

        # What plans' pages and writes need of the workflow (plans imports nothing from it).
        hooks.plan_statuses_provide(counting.plan_tables_with_statuses)
        hooks.period_deadline_changed.connect(services.steps_redate_for_period, dispatch_uid="steps_redate")
        # The period pickers' kept list: forgotten when a plan or a period changes, and again
        # once that change is committed (a page read in between must not keep the old one).
        for model in (Plan, ReportingPeriod):
            for signal in (post_save, post_delete):
                signal.connect(
                    _forget_periods, sender=model, dispatch_uid=f"picker_{model.__name__}_{signal}"
                )

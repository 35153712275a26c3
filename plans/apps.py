from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Kế hoạch CCHC"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from plans import calendar
        from plans.models import ReportingPeriod

        # The calendar keeps which period deadlines fall on a day off: an edited deadline
        # clears that copy in this process at once (other workers within a minute).
        post_save.connect(calendar.cache_clear, sender=ReportingPeriod, dispatch_uid="calendar_period_saved")
        post_delete.connect(
            calendar.cache_clear, sender=ReportingPeriod, dispatch_uid="calendar_period_deleted"
        )

"""Quản trị: units, memberships, plans, reporting periods and (read-mostly) plan tasks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin

from plans import organisation
from plans.models import Membership, Plan, PlanTask, ReportingPeriod, Unit
from plans.text import fold


@admin.register(Unit)
class UnitAdmin(GuardedModelAdmin):
    """Units are effective-dated: a renamed or merged unit gets an end date, not a delete."""

    list_display = ["name", "short_name", "kind", "aliases_display", "active_from", "active_to", "order"]
    list_editable = ["order"]
    list_filter = ["kind"]
    search_fields = ["name", "short_name"]
    fields = ["name", "short_name", "kind", "aliases", "active_from", "active_to", "order"]

    @admin.display(description="tên gọi khác")
    def aliases_display(self, obj: Unit) -> str:
        return "; ".join(str(a) for a in obj.aliases or [])


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "unit", "role"]
    list_filter = ["unit", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["unit"]
    list_select_related = ["user", "unit"]

    def save_model(self, request: Any, obj: Membership, form: Any, change: bool) -> None:
        # Through the service, so the unit and role groups move along and the change is audited.
        organisation.membership_set(user=obj.user, unit=obj.unit, role=obj.role, actor=request.user)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # a person leaves a unit by being moved or deactivated, never silently


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "number", "adopted_on", "source_name", "imported_at"]
    list_filter = ["year"]
    search_fields = ["title", "number"]
    readonly_fields = ["source_name", "source_sha256", "imported_at"]
    fieldsets = [
        (None, {"fields": ["title", "year", "number", "symbol", "adopted_on"]}),
        (
            "Tiêu đề văn bản báo cáo",
            {"fields": ["superior_body", "issuing_body", "place", "document_symbol"]},
        ),
        ("Nguồn nhập", {"fields": ["source_name", "source_sha256", "imported_at"]}),
    ]


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(admin.ModelAdmin):
    list_display = ["__str__", "plan", "code", "deadline", "cutoff", "include_year_tasks"]
    list_editable = ["deadline", "include_year_tasks"]
    list_filter = ["plan", "code"]
    list_select_related = ["plan"]
    # The cut-off is the national one (plans.periods.CUTOFFS); a deadline after it is refused
    # by ReportingPeriod.clean(), here and in the list's editable column alike.
    readonly_fields = ["plan", "code", "cutoff"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # periods come with the plan (plans.periods.periods_ensure)


@admin.register(PlanTask)
class PlanTaskAdmin(admin.ModelAdmin):
    """Tasks come from the plan file; here they are read, filtered and searched, not edited."""

    list_display = ["key", "criterion_display", "short_task", "lead_text", "timeline_text"]
    list_filter = ["plan", "criterion__section__appendix__number", "timeline_kind", "lead_units"]
    search_fields = ["search_text", "key"]
    list_select_related = ["criterion"]
    list_per_page = 100
    readonly_fields = [
        "plan",
        "criterion",
        "key",
        "order",
        "position",
        "target",
        "task",
        "lead_text",
        "lead_units",
        "partner_text",
        "partner_units",
        "timeline_text",
        "timeline_kind",
        "due_date",
        "inherited",
    ]
    fields = [*readonly_fields]  # the same names; a list of the type ModelAdmin.fields declares

    @admin.display(description="tiêu chí", ordering="criterion__code")
    def criterion_display(self, obj: PlanTask) -> str:
        return obj.criterion.code or obj.criterion.ordinal

    @admin.display(description="nhiệm vụ, giải pháp")
    def short_task(self, obj: PlanTask) -> str:
        return obj.task if len(obj.task) <= 120 else obj.task[:117] + "…"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PlanTask], search_term: str
    ) -> tuple[QuerySet[PlanTask], bool]:
        # search_text is stored folded: fold the term too, so "dien" and "điện" both work.
        return super().get_search_results(request, queryset, fold(search_term))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # workflow runs reference tasks; removal goes through a re-import

from django.contrib import admin

from documents.models import IssuedDocument, Register


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    list_display = ("symbol", "year", "last_number")
    readonly_fields = ("symbol", "year", "last_number")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(IssuedDocument)
class IssuedDocumentAdmin(admin.ModelAdmin):
    """Read-only: an issued document is never edited; a correction is a new document."""

    list_display = ("number", "register", "issued_on", "kind", "state", "signer_name", "sha256")
    list_filter = ("state", "kind", "register")
    search_fields = ("sha256", "title", "signer_name")

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).select_related("register").defer("pdf")

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in self.model._meta.fields if f.name != "pdf"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

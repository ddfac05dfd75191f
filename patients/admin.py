from django.contrib import admin

from clinic.admin import SafeHistoryAdmin

from .models import Patient


@admin.register(Patient)
class PatientAdmin(SafeHistoryAdmin):
    list_display = ("full_name", "email", "date_of_birth", "phone", "created_at")
    search_fields = ("user__first_name", "user__last_name", "user__email", "phone")
    list_select_related = ("user",)
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)

    @admin.display(description="Email", ordering="user__email")
    def email(self, obj: Patient) -> str:
        return obj.user.email

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Patient records are kept for the legally required period; closing an
        # account is a separate, audited workflow.
        return False

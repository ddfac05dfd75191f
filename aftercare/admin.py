"""Aftercare in the admin: read-only, with the reminder outbox's failures easy to find.

Plans, check-ins and flags are clinical records: they are read here, with their history,
and change only through the aftercare pages and their services. Reminders are the outbox:
read-only too, except the clinic admins' "try again" on failed ones.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin import RelatedOnChangePage
from clinic.roles import Role, has_role
from treatments.admin import ReadOnlyAdminMixin, ReadOnlyHistoryAdmin

from .models import AftercarePlan, CheckIn, CourseFlag, Reminder, ReminderPreference
from .preferences import reminders_retry


class ClinicAdminsMayRead:
    """Clinic admins may read these pages whatever their model permissions say: the
    outbox's failures are theirs to follow up."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or has_role(  # type: ignore[misc]
            request.user, Role.CLINIC_ADMIN
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or has_role(  # type: ignore[misc]
            request.user, Role.CLINIC_ADMIN
        )


class AftercareReadOnlyAdmin(ClinicAdminsMayRead, ReadOnlyHistoryAdmin):
    pass


# --- the outbox -------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """The reminder's status, failed ones first."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        order = [Reminder.Status.FAILED, *(s for s in Reminder.Status if s != "failed")]
        return [(status.value, status.label) for status in order]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in Reminder.Status.values:
            return queryset.filter(status=value)
        return queryset


@admin.register(Reminder)
class ReminderAdmin(ClinicAdminsMayRead, RelatedOnChangePage, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_select_related = (
        "patient__user",
        "appointment__treatment",
        "appointment__patient__user",
    )
    list_display = (
        "due_local",
        "patient_email",
        "kind",
        "channel",
        "status_shown",
        "attempts",
        "error_short",
        "sent_local",
    )
    list_filter = (StatusFilter, "kind", "channel")
    search_fields = ("patient__user__email",)
    search_help_text = "Search by the patient's email address."
    list_select_related = ("patient__user",)
    date_hierarchy = "due_at"
    ordering = ("-due_at",)
    actions = ["try_again"]
    readonly_fields = (
        "patient",
        "kind",
        "channel",
        "status",
        "due_at",
        "attempts",
        "last_error",
        "claimed_at",
        "sent_at",
        "provider_id",
        "idempotency_key",
        "appointment",
        "plan",
        "waiting_entry",
        "day",
        "created_at",
    )
    raw_id_fields = ("patient", "appointment", "plan", "waiting_entry")

    @admin.display(description="Due (UK time)", ordering="due_at")
    def due_local(self, obj: Reminder) -> str:
        return f"{timezone.localtime(obj.due_at):%a %d %b %Y %H:%M}"

    @admin.display(description="Sent", ordering="sent_at")
    def sent_local(self, obj: Reminder) -> str:
        return f"{timezone.localtime(obj.sent_at):%d %b %H:%M}" if obj.sent_at else "—"

    @admin.display(description="Patient", ordering="patient__user__email")
    def patient_email(self, obj: Reminder) -> str:
        return obj.patient.user.email

    @admin.display(description="Status", ordering="status")
    def status_shown(self, obj: Reminder) -> str:
        if obj.status == Reminder.Status.FAILED:
            return format_html('<strong style="color:#b02a37">{}</strong>', "Failed")
        return obj.get_status_display()

    @admin.display(description="Last error")
    def error_short(self, obj: Reminder) -> str:
        return obj.last_error[:80]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.CLINIC_ADMIN)

    @admin.action(description="Try again (failed reminders only)", permissions=["retry"])
    def try_again(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        count = reminders_retry(reminder_ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - count
        text = f"{count} failed reminder{'s' if count != 1 else ''} will be tried again."
        if skipped:
            text += f" {skipped} not failed, so left as they were."
        self.message_user(request, text)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        failed = Reminder.objects.filter(status=Reminder.Status.FAILED).count()
        title = "Reminders"
        if failed:
            title = f"Reminders: {failed} failed"
        extra_context = {**(extra_context or {}), "title": title}
        if failed:
            extra_context["subtitle"] = format_html(
                '<a href="{}?status=failed">Show the {} failed reminder{}</a>',
                reverse("admin:aftercare_reminder_changelist"),
                failed,
                "s" if failed != 1 else "",
            )
        return super().changelist_view(request, extra_context)


@admin.register(ReminderPreference)
class ReminderPreferenceAdmin(ClinicAdminsMayRead, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("patient", "walk_time", "walk_reminders", "sms_kinds", "unsubscribed_kinds")
    list_filter = ("walk_reminders",)
    search_fields = ("patient__user__email",)
    list_select_related = ("patient__user",)


# --- plans, check-ins and flags --------------------------------------------------------


@admin.register(AftercarePlan)
class AftercarePlanAdmin(AftercareReadOnlyAdmin):
    change_select_related = (
        "patient__user",
        "session__course__treatment",
        "session__course__patient__user",
        "course__treatment",
        "course__patient__user",
    )
    list_display = ("patient", "starts_on", "stockings_until", "walk_until", "daily_walk_minutes")
    date_hierarchy = "starts_on"
    search_fields = ("patient__user__email", "patient__user__last_name")
    list_select_related = ("patient__user",)
    raw_id_fields = ("session", "patient", "course")


@admin.register(CheckIn)
class CheckInAdmin(AftercareReadOnlyAdmin):
    change_select_related = ("plan__patient__user",)
    patient_path = "plan__patient"
    list_display = ("plan", "day", "walked", "stockings_on", "pain_score", "warning_symptoms")
    list_filter = ("walked", "stockings_on")
    date_hierarchy = "day"
    search_fields = ("plan__patient__user__email",)
    list_select_related = ("plan__patient__user",)
    raw_id_fields = ("plan",)


class OpenFilter(admin.SimpleListFilter):
    title = "open or closed"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(CourseFlag)
class CourseFlagAdmin(AftercareReadOnlyAdmin):
    change_select_related = (
        "course__treatment",
        "course__patient__user",
        "check_in__plan__patient__user",
        "resolved_by__user",
    )
    patient_path = "course__patient"
    list_display = ("course", "reason", "raised_at", "resolved_at", "resolved_by")
    list_filter = (OpenFilter,)
    search_fields = ("course__patient__user__email",)
    list_select_related = ("course__patient__user", "course__treatment", "resolved_by__user")
    raw_id_fields = ("course", "check_in", "resolved_by")

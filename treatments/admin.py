"""The admin's tools for the catalogue and the consent form versions; clinical records are
shown read-only.

Clinical records (courses, sessions, consents, stockings, adverse events) change only
through the clinical screens and their services, so here they can be read, with their
history, but never added, changed or deleted. A published consent form is never edited:
a change is a new version.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from clinic.admin import RelatedOnChangePage, SafeHistoryAdmin
from clinic.errors import DomainError

from .models import (
    AdverseEvent,
    ConsentForm,
    Course,
    CourseExtension,
    Faq,
    Price,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)
from .services import (
    consent_form_new_version,
    consent_form_publish,
    price_check,
    price_delete,
    price_save,
)


class ReadOnlyAdminMixin:
    """View only: no add, no change, no delete, not even for superusers."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AccessLoggedAdmin(SafeHistoryAdmin):
    """Opening a record about one patient, or its history, is written to the patient's
    record-access log like any staff page about one patient."""

    # The lookup from this model to its patient, e.g. "course__patient".
    patient_path = "patient"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            self._note_access(request, object_id, "admin record")
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        if response.status_code == 200:
            self._note_access(request, object_id, "admin history")
        return response

    def _note_access(self, request: HttpRequest, object_id: str, what: str) -> None:
        from patients.audit import record_viewed

        if not str(object_id).isdigit():
            return
        patient_id = (
            self.model._default_manager.filter(pk=int(object_id))
            .values_list(self.patient_path, flat=True)
            .first()
        )
        if patient_id is not None:
            ref = f"{self.model._meta.model_name}:{int(object_id)}"
            record_viewed(request, patient=patient_id, what=what, ref=ref)


class ReadOnlyHistoryAdmin(ReadOnlyAdminMixin, AccessLoggedAdmin):
    """A clinical record with its history visible, and no way to change it here
    (not even by reverting to a past version)."""


# --- the catalogue --------------------------------------------------------------------


@admin.register(Treatment)
class TreatmentAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "kind",
        "bookable_online",
        "is_active",
        "planned_sessions_range",
        "gap_range",
    )
    list_filter = ("kind", "bookable_online", "is_active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "summary", "description")}),
        ("Booking", {"fields": ("bookable_online", "is_active", "requires_consultation")}),
        (
            "Course rules",
            {
                "description": "The gap between sessions must lie within 28–42 days (4 to 6 "
                "weeks), with the default inside the range.",
                "fields": (
                    ("min_planned_sessions", "max_planned_sessions"),
                    ("min_gap_days_lowest", "default_min_gap_days", "min_gap_days_highest"),
                    "session_lengths",
                ),
            },
        ),
        (
            "Aftercare",
            {
                "fields": (
                    "stocking_days",
                    "daily_walk_minutes",
                    "discharge_walk_minutes",
                    "default_sclerosant",
                )
            },
        ),
        (
            "Public page",
            {
                "description": "Shown at /treatments/<slug>/ when ticked. Plain text; leave a "
                "blank line between paragraphs.",
                "fields": (
                    "has_public_page",
                    "page_what_it_is",
                    "page_before",
                    "page_during",
                    "page_after",
                    "page_recovery",
                    "page_risks",
                ),
            },
        ),
    )

    @admin.display(description="Planned sessions")
    def planned_sessions_range(self, obj: Treatment) -> str:
        if not obj.is_treatment:
            return "—"
        return f"{obj.min_planned_sessions}–{obj.max_planned_sessions}"

    @admin.display(description="Gap (days)")
    def gap_range(self, obj: Treatment) -> str:
        if not obj.is_treatment:
            return "—"
        low, high = obj.min_gap_days_lowest, obj.min_gap_days_highest
        return f"{low}–{high}, default {obj.default_min_gap_days}"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Courses and appointments point at treatments: retire one by making it inactive.
        return False


# --- consent form versions ----------------------------------------------------------


class LinesField(forms.CharField):
    """A list of short texts edited as one per line."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 90})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return [line.strip() for line in str(text).splitlines() if line.strip()]


class ConsentFormAdminForm(forms.ModelForm):
    risks = LinesField(help_text="One risk per line.")
    statements = LinesField(
        help_text="One statement per line; the patient ticks each one before signing."
    )

    class Meta:
        model = ConsentForm
        fields = ("treatment", "title", "body", "risks", "statements", "effective_from")
        widgets = {"title": forms.TextInput(attrs={"size": 80})}


DRAFT_FIELDS = ("treatment", "version", "title", "body", "risks", "statements", "effective_from")
PUBLISHED_FIELDS = (
    "treatment",
    "version",
    "title",
    "body_text",
    "risks_list",
    "statements_list",
    "effective_from",
    "published_at",
    "created_at",
)


@admin.register(ConsentForm)
class ConsentFormAdmin(admin.ModelAdmin):
    form = ConsentFormAdminForm
    list_display = ("title", "treatment", "version", "is_published_flag", "effective_from")
    list_filter = ("treatment", ("published_at", admin.EmptyFieldListFilter))
    list_select_related = ("treatment",)
    ordering = ("treatment__name", "-version")
    actions = ("publish_selected", "new_version_from_selected")

    # Published versions are shown as they were signed; drafts are edited as forms.
    def get_fields(self, request: HttpRequest, obj: ConsentForm | None = None) -> Any:
        if obj is None:
            return ("treatment", "title", "body", "risks", "statements", "effective_from")
        return PUBLISHED_FIELDS if obj.is_published else DRAFT_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: ConsentForm | None = None) -> Any:
        if obj is None:
            return ()
        if obj.is_published:
            return PUBLISHED_FIELDS
        return ("treatment", "version")

    def has_change_permission(self, request: HttpRequest, obj: ConsentForm | None = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Signatures point at versions, and version numbers must not leave gaps.
        return False

    def save_model(
        self, request: HttpRequest, obj: ConsentForm, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            # Only drafts reach here (published versions have no change permission).
            obj.save()
            return
        created = consent_form_new_version(
            treatment=obj.treatment,
            title=obj.title,
            body=obj.body,
            risks=obj.risks,
            statements=obj.statements,
            effective_from=obj.effective_from,
        )
        obj.pk, obj.version, obj.created_at = created.pk, created.version, created.created_at

    @admin.display(description="Published", boolean=True, ordering="published_at")
    def is_published_flag(self, obj: ConsentForm) -> bool:
        return obj.is_published

    @admin.display(description="Text")
    def body_text(self, obj: ConsentForm) -> str:
        return format_html_join("", "<p>{}</p>", ((p,) for p in obj.body.split("\n\n")))

    @admin.display(description="Risks")
    def risks_list(self, obj: ConsentForm) -> str:
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", _rows(obj.risks)))

    @admin.display(description="Statements the patient ticks")
    def statements_list(self, obj: ConsentForm) -> str:
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", _rows(obj.statements))
        )

    # --- publish and new version: an action on the list, a button on the page ---------

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[ConsentForm]) -> None:
        for consent_form in queryset.select_related("treatment"):
            self._publish(request, consent_form)

    @admin.action(description="Make a new version from the selected one", permissions=["add"])
    def new_version_from_selected(
        self, request: HttpRequest, queryset: QuerySet[ConsentForm]
    ) -> HttpResponse | None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(
                request, "Choose exactly one version to copy.", level=messages.WARNING
            )
            return None
        return self._new_version(request, chosen[0])

    def _publish(self, request: HttpRequest, consent_form: ConsentForm) -> None:
        try:
            consent_form = consent_form_publish(form=consent_form)
        except DomainError as error:
            self.message_user(request, f"{consent_form}: {error.message}", level=messages.ERROR)
            return
        effective = timezone.localtime(consent_form.effective_from)
        self.message_user(
            request,
            f"{consent_form} is published. Patients sign it from {effective:%d/%m/%Y %H:%M}; "
            "it can no longer be changed.",
            level=messages.SUCCESS,
        )

    def _new_version(self, request: HttpRequest, source: ConsentForm) -> HttpResponse:
        draft = consent_form_new_version(
            treatment=source.treatment,
            title=source.title,
            body=source.body,
            risks=list(source.risks),
            statements=list(source.statements),
            effective_from=max(source.effective_from, timezone.now()),
        )
        self.message_user(
            request,
            f"Version {draft.version} is a draft copied from version {source.version}. "
            "Edit it, then publish it.",
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:treatments_consentform_change", args=[draft.pk]))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/publish/",
                wrap(require_POST(self.publish_view)),
                name="treatments_consentform_publish",
            ),
            path(
                "<int:pk>/new-version/",
                wrap(require_POST(self.new_version_view)),
                name="treatments_consentform_new_version",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        consent_form = get_object_or_404(ConsentForm, pk=pk)
        if not self.has_change_permission(request, consent_form):
            if consent_form.is_published:
                self.message_user(
                    request, "This version is already published.", level=messages.ERROR
                )
                return HttpResponseRedirect(
                    reverse("admin:treatments_consentform_change", args=[pk])
                )
            raise PermissionDenied
        self._publish(request, consent_form)
        return HttpResponseRedirect(reverse("admin:treatments_consentform_change", args=[pk]))

    def new_version_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        source = get_object_or_404(ConsentForm.objects.select_related("treatment"), pk=pk)
        return self._new_version(request, source)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ConsentForm | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["consent_form_is_published"] = obj.is_published
            context["can_publish"] = not obj.is_published and super().has_change_permission(
                request, obj
            )
            context["can_copy"] = self.has_add_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)


def _rows(items: list[Any]) -> Any:
    return ((str(item),) for item in items)


# --- clinical records: read-only ---------------------------------------------------


class TreatedAreasAdminMixin:
    """Show the leg-map zones by name rather than as stored codes."""

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        named = ("treated_areas_named" if f == "treated_areas" else f for f in fields)
        return list(dict.fromkeys(named))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "treated_areas_named")  # type: ignore[misc]

    @admin.display(description="Treated areas")
    def treated_areas_named(self, obj: Course | SessionRecord) -> str:
        return ", ".join(obj.treated_area_labels) or "—"


class CourseExtensionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CourseExtension
    extra = 0
    fields = ("extended_at", "extended_by", "from_sessions", "to_sessions", "reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CourseExtension]:
        # Each row names who extended the course (a staff member, by their user's name).
        return super().get_queryset(request).select_related("extended_by__user")


@admin.register(Course)
class CourseAdmin(TreatedAreasAdminMixin, ReadOnlyHistoryAdmin):
    change_select_related = (
        "patient__user",
        "treatment",
        "consultant__user",
        "consultation__treatment",
        "consultation__patient__user",
    )
    list_display = (
        "patient",
        "treatment",
        "consultant",
        "planned_sessions",
        "min_gap_days",
        "status",
        "created_at",
    )
    list_filter = ("status", "treatment")
    list_select_related = ("patient__user", "treatment", "consultant__user")
    search_fields = ("patient__user__first_name", "patient__user__last_name")
    date_hierarchy = "created_at"
    inlines = (CourseExtensionInline,)


@admin.register(SessionRecord)
class SessionRecordAdmin(TreatedAreasAdminMixin, ReadOnlyHistoryAdmin):
    change_select_related = (
        "course__treatment",
        "course__patient__user",
        "appointment__treatment",
        "appointment__patient__user",
        "consultant__user",
        "nurse__user",
        "consent__form",
    )
    patient_path = "course__patient"
    list_display = ("__str__", "appointment_start", "status", "consultant", "nurse")
    list_filter = ("status", "course__treatment")
    list_select_related = (
        "course__patient__user",
        "course__treatment",
        "appointment",
        "consultant__user",
        "nurse__user",
    )
    search_fields = ("course__patient__user__first_name", "course__patient__user__last_name")

    @admin.display(description="When", ordering="appointment__start")
    def appointment_start(self, obj: SessionRecord) -> str:
        return f"{timezone.localtime(obj.appointment.start):%d/%m/%Y %H:%M}"


@admin.register(SignedConsent)
class SignedConsentAdmin(ReadOnlyHistoryAdmin):
    change_select_related = (
        "form",
        "patient__user",
        "course__treatment",
        "course__patient__user",
        "witnessed_by__user",
    )
    list_display = ("typed_name", "form", "method", "signed_at", "withdrawn_at")
    list_filter = ("method", "form__treatment")
    list_select_related = ("form",)
    search_fields = ("typed_name",)


@admin.register(CourseExtension)
class CourseExtensionAdmin(RelatedOnChangePage, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_select_related = ("course__treatment", "course__patient__user", "extended_by__user")
    list_display = ("course", "from_sessions", "to_sessions", "extended_by", "extended_at")
    list_select_related = (
        "course__patient__user",
        "course__treatment",
        "extended_by__user",
    )


@admin.register(StockingFitting)
class StockingFittingAdmin(ReadOnlyHistoryAdmin):
    change_select_related = (
        "session__course__treatment",
        "session__course__patient__user",
        "fitted_by__user",
    )
    patient_path = "session__course__patient"
    list_display = ("session", "leg", "compression_class", "length", "fitted_by", "fitted_at")
    list_filter = ("compression_class", "length")
    list_select_related = (
        "session__course__patient__user",
        "session__course__treatment",
        "fitted_by__user",
    )


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyHistoryAdmin):
    change_select_related = (
        "session__course__treatment",
        "session__course__patient__user",
        "recorded_by__user",
    )
    patient_path = "session__course__patient"
    list_display = ("kind", "severity", "session", "recorded_by", "recorded_at")
    list_filter = ("kind", "severity")
    list_select_related = (
        "session__course__patient__user",
        "session__course__treatment",
        "recorded_by__user",
    )


# --- prices -----------------------------------------------------------------------------


class PriceAdminForm(forms.ModelForm):
    end_current = forms.BooleanField(
        required=False,
        initial=True,
        label="End the price in force before this one on the day before it starts",
    )

    class Meta:
        model = Price
        fields = (
            "treatment",
            "minutes",
            "package_sessions",
            "amount",
            "currency",
            "includes_vat",
            "effective_from",
            "effective_until",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["end_current"]  # only a new price ends the one before it

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        # The price as it would be saved: the stored row with this form's values on top.
        candidate = copy.copy(self.instance)
        for name in self._meta.fields or ():
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            price_check(price=candidate, end_current=bool(cleaned.get("end_current")))
        except DomainError as error:
            raise forms.ValidationError(error.message) from error
        return cleaned


@admin.register(Price)
class PriceAdmin(SafeHistoryAdmin):
    """Prices are scheduled, not rewritten: a price in force keeps its amount (only its last
    day can be set), a new one starts today or later, and periods never overlap. Every
    change is kept (who, when, old → new) and listed on the "Price changes" screen."""

    form = PriceAdminForm
    change_list_template = "admin/treatments/price/change_list.html"
    list_display = (
        "treatment",
        "length",
        "package",
        "amount_shown",
        "includes_vat",
        "effective_from",
        "effective_until",
        "state",
    )
    list_filter = ("treatment", "includes_vat")
    list_select_related = ("treatment",)
    ordering = (
        "treatment__kind",
        "treatment__name",
        "package_sessions",
        "minutes",
        "-effective_from",
    )
    date_hierarchy = "effective_from"
    actions = None  # no bulk delete: see price_delete

    @admin.display(description="Length")
    def length(self, obj: Price) -> str:
        return f"{obj.minutes} min" if obj.minutes else "any"

    @admin.display(description="Package")
    def package(self, obj: Price) -> str:
        return f"{obj.package_sessions} sessions" if obj.package_sessions else "—"

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, obj: Price) -> str:
        return f"{obj.currency} {obj.amount}"

    @admin.display(description="State")
    def state(self, obj: Price) -> str:
        today = timezone.localdate()
        if obj.in_force_on(today):
            return "in force"
        return "scheduled" if obj.effective_from > today else "ended"

    def get_fields(self, request: HttpRequest, obj: Price | None = None) -> Any:
        fields = list(PriceAdminForm.Meta.fields)
        return [*fields, "end_current"] if obj is None else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Price | None = None) -> Any:
        if obj is not None and obj.effective_from <= timezone.localdate():
            # In force or ended: what patients were quoted stays as it was.
            return [f for f in PriceAdminForm.Meta.fields if f != "effective_until"]
        return []

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        end_current = bool(form.cleaned_data.get("end_current")) and not change
        try:
            price_save(price=obj, end_current=end_current)
        except DomainError as error:
            # Only a race with another admin gets here (the form checked first).
            self.message_user(request, error.message, level=messages.ERROR)
            raise PermissionDenied(error.message) from error

    def has_delete_permission(self, request: HttpRequest, obj: Price | None = None) -> bool:
        if obj is not None and obj.effective_from <= timezone.localdate():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Price) -> None:
        price_delete(price=obj)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "changes/",
                self.admin_site.admin_view(self.changes_view),
                name="treatments_price_changes",
            ),
            *super().get_urls(),
        ]

    def changes_view(self, request: HttpRequest) -> HttpResponse:
        """Every change to the price list, newest first: who, when, and old → new."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        from django.core.paginator import Paginator
        from django.template.response import TemplateResponse

        from .selectors import price_change_rows, price_changes

        page = Paginator(price_changes(), 50).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Price changes",
            "opts": self.model._meta,
            "page": page,
            "changes": price_change_rows(page.object_list),
        }
        return TemplateResponse(request, "admin/treatments/price/changes.html", context)


@admin.register(Faq)
class FaqAdmin(SafeHistoryAdmin):
    list_display = ("question", "treatment", "order", "is_published")
    list_editable = ("order", "is_published")
    list_filter = ("is_published", "treatment")
    list_select_related = ("treatment",)
    search_fields = ("question", "answer")

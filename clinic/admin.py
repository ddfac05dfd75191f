from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Closure,
    Location,
    OpeningHours,
    Room,
    StaffException,
    StaffMember,
    User,
    WorkingPattern,
)
from .services import staff_member_save


class RelatedOnChangePage:
    """The change page names the rows its read-only fields point at (each is shown as
    text, or as a link): read them with the object, in one query, rather than one query
    for each field. ``change_select_related`` lists them as ``select_related`` paths."""

    change_select_related: tuple[str, ...] = ()

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # ModelAdmin.get_object, with the related rows joined in.
        queryset = self.get_queryset(request)  # type: ignore[attr-defined]
        if self.change_select_related:
            queryset = queryset.select_related(*self.change_select_related)
        model = queryset.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (model.DoesNotExist, ValidationError, ValueError):
            return None


# What each model's name is made of (its ``__str__``): a choice list of them reads these
# rows in the same query, not one query for each choice.
CHOICE_LABEL_RELATED: dict[str, tuple[str, ...]] = {
    "clinic.staffmember": ("user",),
    "clinic.room": ("location",),
    "patients.patient": ("user",),
    "bookings.appointment": ("treatment", "patient__user"),
    "treatments.course": ("treatment", "patient__user"),
    "treatments.sessionrecord": ("course__treatment", "course__patient__user"),
    "treatments.signedconsent": ("form",),
    "treatments.price": ("treatment",),
    "aftercare.aftercareplan": ("patient__user",),
    "aftercare.checkin": ("plan__patient__user",),
}


class SafeHistoryAdmin(RelatedOnChangePage, SimpleHistoryAdmin):
    """History is visible; reverting to a past version needs the change permission.

    simple_history's "view a past version" page saves a posted form for anyone who may
    view the record; a person who may only read must not be able to change it that way.
    That page is a whole form, so its choice lists read what their labels name up front.
    """

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = CHOICE_LABEL_RELATED.get(db_field.related_model._meta.label_lower)
        if related and "queryset" not in kwargs:
            kwargs["queryset"] = db_field.related_model._default_manager.select_related(*related)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied("You may read this record's history but not change it.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are deactivated, not deleted: clinical records point at them.
        return False


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        # Each row shows the room's name, which names its location: read them together.
        return super().get_queryset(request).select_related("location")


class OpeningHoursForm(forms.ModelForm):
    """Opening hours with a plain message when the times are the wrong way round (the
    model's constraint says the same; this puts the message on the field)."""

    class Meta:
        model = OpeningHours
        fields = ("location", "weekday", "opens", "closes")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        opens, closes = cleaned.get("opens"), cleaned.get("closes")
        if opens is not None and closes is not None and closes <= opens:
            self.add_error("closes", "The closing time must be after the opening time.")
        return cleaned


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    form = OpeningHoursForm
    extra = 0
    verbose_name_plural = "Opening hours (clinic time; add two rows for a lunch break)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OpeningHours]:
        return super().get_queryset(request).select_related("location")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "phone", "is_active")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [RoomInline, OpeningHoursInline]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "location", "kind", "is_active")
    list_filter = ("location", "kind", "is_active")
    list_select_related = ("location",)


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ("display_name", "email", "role", "registration_number", "is_active")
    list_filter = ("role", "is_active", "locations")
    list_select_related = ("user",)
    search_fields = ("user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user",)
    filter_horizontal = ("locations",)

    @admin.display(description="Email", ordering="user__email")
    def email(self, obj: StaffMember) -> str:
        return obj.user.email

    def save_model(self, request: HttpRequest, obj: StaffMember, form: Any, change: bool) -> None:
        # The role decides the user's group and admin-site access: the service keeps them in step.
        staff_member_save(staff_member=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # staff who leave are made inactive; their records stay attributed


# --- availability: opening hours, closures, working patterns, staff exceptions ---------


def _staff_choices() -> QuerySet[StaffMember]:
    """Nurses and consultants, the people whose time the slot search plans."""
    return (
        StaffMember.objects.filter(
            role__in=[StaffMember.StaffRole.NURSE, StaffMember.StaffRole.CONSULTANT]
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


class StaffChoiceMixin:
    """The staff select lists nurses and consultants with their names in one query."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "staff":
            kwargs["queryset"] = _staff_choices()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class StaffListFilter(admin.SimpleListFilter):
    title = "member of staff"
    parameter_name = "staff"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(s.pk), s.display_name) for s in _staff_choices()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(staff_id=int(value))


class CurrentPatternFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", "In force today"), ("ended", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = timezone.localdate()
        if self.value() == "now":
            return queryset.filter(valid_from__lte=today).exclude(valid_until__lt=today)
        if self.value() == "ended":
            return queryset.filter(valid_until__lt=today)
        return queryset


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin):
    form = OpeningHoursForm
    list_display = ("location", "weekday", "opens", "closes")
    list_filter = ("location", "weekday")
    list_select_related = ("location",)
    ordering = ("location__name", "weekday", "opens")


class ClosureForm(forms.ModelForm):
    class Meta:
        model = Closure
        fields = ("location", "date", "reason")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        day = cleaned.get("date")
        if day is not None and cleaned.get("location") is None:
            # The database lets two "every location" rows share a day (NULLs differ).
            others = Closure.objects.filter(location__isnull=True, date=day)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise ValidationError("Every location is already closed on that day.")
        return cleaned


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    form = ClosureForm
    list_display = ("date", "where", "reason")
    list_filter = ("location",)
    list_select_related = ("location",)
    date_hierarchy = "date"
    search_fields = ("reason",)

    @admin.display(description="Where", ordering="location__name")
    def where(self, obj: Closure) -> str:
        return obj.location.name if obj.location else "Every location"


class WorkingPatternForm(forms.ModelForm):
    class Meta:
        model = WorkingPattern
        fields = ("staff", "location", "weekday", "starts", "ends", "valid_from", "valid_until")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, ends = cleaned.get("starts"), cleaned.get("ends")
        if starts is not None and ends is not None and ends <= starts:
            self.add_error("ends", "The end time must be after the start time.")
        valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
        if valid_from is not None and valid_until is not None and valid_until < valid_from:
            self.add_error("valid_until", "The last day must not be before the first day.")
        return cleaned


@admin.register(WorkingPattern)
class WorkingPatternAdmin(StaffChoiceMixin, admin.ModelAdmin):
    form = WorkingPatternForm
    list_display = ("staff", "weekday", "starts", "ends", "location", "valid_from", "valid_until")
    list_filter = (StaffListFilter, "weekday", "location", CurrentPatternFilter)
    list_select_related = ("staff__user", "location")
    ordering = ("staff__user__last_name", "staff__user__first_name", "weekday", "starts")
    search_fields = ("staff__user__first_name", "staff__user__last_name")


class StaffExceptionForm(forms.ModelForm):
    class Meta:
        model = StaffException
        fields = ("staff", "kind", "location", "starts_at", "ends_at", "reason")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            self.add_error("ends_at", "The end must be after the start.")
        extra = cleaned.get("kind") == StaffException.Kind.EXTRA
        if extra and cleaned.get("location") is None and "location" not in self.errors:
            self.add_error("location", "An extra clinic needs a location.")
        return cleaned


@admin.register(StaffException)
class StaffExceptionAdmin(StaffChoiceMixin, admin.ModelAdmin):
    form = StaffExceptionForm
    list_display = ("staff", "kind", "local_start", "local_end", "location", "reason")
    list_filter = ("kind", StaffListFilter, "location")
    list_select_related = ("staff__user", "location")
    date_hierarchy = "starts_at"
    ordering = ("-starts_at",)

    @admin.display(description="From (clinic time)", ordering="starts_at")
    def local_start(self, obj: StaffException) -> str:
        return f"{timezone.localtime(obj.starts_at):%d/%m/%Y %H:%M}"

    @admin.display(description="Until (clinic time)", ordering="ends_at")
    def local_end(self, obj: StaffException) -> str:
        return f"{timezone.localtime(obj.ends_at):%d/%m/%Y %H:%M}"

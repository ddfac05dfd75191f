from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from clinic.admin import RelatedOnChangePage, SafeHistoryAdmin
from clinic.errors import DomainError
from clinic.models import User
from treatments.admin import AccessLoggedAdmin

from .models import AccountClosureRequest, Patient, RecordAccess
from .services import account_closure_complete, retention_end


@admin.register(Patient)
class PatientAdmin(AccessLoggedAdmin):
    change_select_related = ("user",)
    patient_path = "pk"

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


class CloseAccountForm(forms.Form):
    note = forms.CharField(
        label="Note for the record (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )
    confirm = forms.BooleanField(
        label="I have checked who asked, and the account should be closed now.", required=True
    )


@admin.register(AccountClosureRequest)
class AccountClosureRequestAdmin(SafeHistoryAdmin):
    change_select_related = ("patient__user", "handled_by")
    """Patients ask from /my/close-account/; an admin closes the account here. Nothing is
    edited by hand: the only action is "close the account", which runs the service."""

    list_display = ("patient", "status", "requested_at", "handled_at", "retain_clinical_until")
    list_filter = ("status",)
    list_select_related = ("patient__user",)
    search_fields = ("patient__user__first_name", "patient__user__last_name")
    date_hierarchy = "requested_at"
    change_form_template = "admin/patients/accountclosurerequest/change_form.html"
    actions = None
    readonly_fields = (
        "patient",
        "status",
        "reason",
        "requested_at",
        "handled_at",
        "handled_by",
        "retain_clinical_until",
        "admin_note",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/close-account/",
                self.admin_site.admin_view(
                    require_http_methods(["GET", "POST"])(self.complete_view)
                ),
                name="patients_accountclosurerequest_complete",
            ),
            *super().get_urls(),
        ]

    def complete_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        closure = get_object_or_404(
            AccountClosureRequest.objects.select_related("patient__user"), pk=pk
        )
        if not self.has_change_permission(request, closure):
            raise PermissionDenied
        back = reverse("admin:patients_accountclosurerequest_change", args=[pk])
        form = CloseAccountForm(request.POST or None)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    account_closure_complete(
                        request=closure, by=cast(User, request.user), note=form.cleaned_data["note"]
                    )
                except DomainError as error:
                    form.add_error(None, error.message)
                    status = 409
                else:
                    self.message_user(
                        request, "The account is closed and its personal details erased."
                    )
                    return HttpResponseRedirect(back)
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "title": f"Close the account of {closure.patient}",
            "opts": self.model._meta,
            "closure": closure,
            "form": form,
            "retain_until": retention_end(patient=closure.patient),
            "back": back,
        }
        return TemplateResponse(
            request, "admin/patients/accountclosurerequest/complete.html", context, status=status
        )


@admin.register(RecordAccess)
class RecordAccessAdmin(RelatedOnChangePage, admin.ModelAdmin):
    change_select_related = ("user", "patient__user")
    """Read only: who opened which patient's record, and when."""

    list_display = ("at", "user", "patient", "what", "ref", "reason")
    list_filter = ("what",)
    list_select_related = ("user", "patient__user")
    search_fields = ("patient__user__last_name", "user__email", "ref")
    date_hierarchy = "at"
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""Appointments in the admin: a read-only list with its history. Appointments are booked,
moved and cancelled through the diary and its services, never edited here."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from treatments.admin import ReadOnlyHistoryAdmin

from .models import Appointment


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyHistoryAdmin):
    change_select_related = (
        "treatment",
        "patient__user",
        "consultant__user",
        "nurse__user",
        "room__location",
        "price__treatment",
    )
    list_display = (
        "local_start",
        "patient",
        "treatment",
        "consultant",
        "nurse",
        "room_name",
        "status",
    )
    list_filter = ("status", "treatment")
    list_select_related = (
        "patient__user",
        "treatment",
        "consultant__user",
        "nurse__user",
        "room",
    )
    date_hierarchy = "start"
    ordering = ("-start",)
    search_fields = (
        "patient__user__first_name",
        "patient__user__last_name",
        "patient__user__email",
    )

    @admin.display(description="Start (clinic time)", ordering="start")
    def local_start(self, obj: Appointment) -> str:
        return f"{timezone.localtime(obj.start):%d/%m/%Y %H:%M}"

    @admin.display(description="Room", ordering="room__name")
    def room_name(self, obj: Appointment) -> str:
        return obj.room.name

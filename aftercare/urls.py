"""Aftercare pages, mounted under /aftercare/."""

from django.urls import path

from . import views

app_name = "aftercare"

urlpatterns = [
    # The patient: today's aftercare and their reminder preferences.
    path("", views.today, name="today"),
    path("tick/", views.tick, name="tick"),
    path("side-effects/", views.side_effects, name="side_effects"),
    path("preferences/", views.reminder_preferences, name="preferences"),
    path("preferences/text-messages/", views.sms_preferences, name="preferences_sms"),
    path("preferences/start-again/", views.resubscribe, name="resubscribe"),
    # Nurses and consultants: everyone in aftercare today, and closing flags.
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/flags/<int:pk>/resolve/", views.flag_resolve, name="flag_resolve"),
    # Links in reminders, no login needed.
    path("check-in/<str:token>/", views.check_in_link, name="check_in_link"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

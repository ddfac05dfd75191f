"""The patient's booking pages, included at the site root: /book/..., /my/appointments/...,
/my/calendar/ and the private feed at /calendar/<token>.ics."""

from django.urls import path

from . import views_patient as views

app_name = "booking"

urlpatterns = [
    path("book/", views.start, name="start"),
    # Before book/<key>/, so that no key hides it.
    path("book/waiting-list/", views.waiting_list, name="waiting_list"),
    path("book/<str:key>/", views.calendar, name="calendar"),
    path("book/<str:key>/day/<str:day>/", views.day, name="day"),
    path("book/<str:key>/confirm/", views.confirm, name="confirm"),
    path("my/appointments/", views.appointments, name="appointments"),
    path("my/appointments/<int:pk>/", views.appointment, name="appointment"),
    path("my/appointments/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("my/appointments/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("my/appointments/<int:pk>.ics", views.appointment_ics, name="appointment_ics"),
    path("my/calendar/", views.feed_settings, name="feed_settings"),
    path("calendar/<str:token>.ics", views.feed, name="feed"),
]

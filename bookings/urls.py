"""Staff diary, mounted under /staff/diary/."""

from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("", views.diary, name="diary"),
    path("consultations/new/", views.consultation_new, name="consultation_new"),
    path("courses/<int:course_id>/sessions/new/", views.session_new, name="session_new"),
    path("appointments/<int:pk>/status/", views.appointment_status, name="appointment_status"),
]

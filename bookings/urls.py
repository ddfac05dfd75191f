"""Staff diary, mounted under /staff/diary/."""

from django.urls import path

from . import views, views_staff_feed

app_name = "bookings"

urlpatterns = [
    path("", views.diary, name="diary"),
    path("week/", views.week, name="week"),
    path("book/", views.book_for_patient, name="book_for_patient"),
    path("consultations/new/", views.consultation_new, name="consultation_new"),
    path("courses/<int:course_id>/sessions/new/", views.session_new, name="session_new"),
    path("appointments/<int:pk>/status/", views.appointment_status, name="appointment_status"),
    path("appointments/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("appointments/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("my-calendar/", views_staff_feed.staff_feed_settings, name="staff_feed_settings"),
    # The feed itself: no login, the secret token is the key.
    path("feed/<str:token>.ics", views_staff_feed.staff_feed, name="staff_feed"),
]

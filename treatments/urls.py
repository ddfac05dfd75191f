"""Staff pages of the clinical core, mounted under /staff/."""

from django.urls import path

from .views import consultant, nurse

app_name = "treatments"

urlpatterns = [
    # Nurse (and consultant): the day list and the session screen.
    path("today/", nurse.day_list, name="day_list"),
    path("sessions/<int:pk>/", nurse.session_detail, name="session_detail"),
    path(
        "sessions/<int:pk>/confirm-consent/",
        nurse.session_confirm_consent,
        name="session_confirm_consent",
    ),
    path(
        "sessions/<int:pk>/take-consent/", nurse.session_take_consent, name="session_take_consent"
    ),
    path("sessions/<int:pk>/start/", nurse.session_start, name="session_start"),
    path("sessions/<int:pk>/record/", nurse.session_record, name="session_record"),
    path("sessions/<int:pk>/stockings/", nurse.session_stockings, name="session_stockings"),
    path(
        "sessions/<int:pk>/adverse-events/",
        nurse.session_adverse_event,
        name="session_adverse_event",
    ),
    path("sessions/<int:pk>/complete/", nurse.session_complete, name="session_complete"),
    path("sessions/<int:pk>/abandon/", nurse.session_abandon, name="session_abandon"),
    # Consultant: consultations to plan, course review and its actions, screening review.
    path("consultant/", consultant.consultant_home, name="consultant_home"),
    path("consultations/<int:pk>/plan/", consultant.course_plan, name="course_plan"),
    path("courses/<int:pk>/", consultant.course_review, name="course_review"),
    path("courses/<int:pk>/extend/", consultant.course_extend, name="course_extend"),
    path("courses/<int:pk>/close/", consultant.course_close, name="course_close"),
    path("patients/<int:pk>/screening/", consultant.screening_review, name="screening_review"),
]

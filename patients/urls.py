"""The patient's own pages, mounted under /my/."""

from django.urls import path

from . import views

app_name = "patients"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("screening/", views.screening, name="screening"),
    path("courses/<int:course_id>/consent/", views.consent_sign, name="consent_sign"),
    path("consents/<int:pk>/", views.consent_detail, name="consent_detail"),
    path("profile/", views.profile, name="profile"),
    path("record/", views.record, name="record"),
    path("record/access/", views.access_log, name="access_log"),
    path("record/download.json", views.export_json, name="export_json"),
    path("record/print/", views.export_print, name="export_print"),
    path("close-account/", views.close_account, name="close_account"),
    path("close-account/withdraw/", views.close_account_withdraw, name="close_account_withdraw"),
    path("close-account/what-we-keep/", views.retention, name="retention"),
]

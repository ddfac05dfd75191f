"""The patient's own pages, mounted under /my/."""

from django.urls import path

from . import views

app_name = "patients"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("screening/", views.screening, name="screening"),
    path("courses/<int:course_id>/consent/", views.consent_sign, name="consent_sign"),
    path("consents/<int:pk>/", views.consent_detail, name="consent_detail"),
]

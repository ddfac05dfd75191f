from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .forms import EmailAuthenticationForm

urlpatterns = [
    path("", include("clinic.urls_public")),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("bookings.urls_patient")),
    path("my/", include("patients.urls")),
    path("aftercare/", include("aftercare.urls")),
    path("staff/diary/", include("bookings.urls")),
    path("staff/", include("treatments.urls")),
    path("admin/", admin.site.urls),
]

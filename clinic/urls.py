from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views, views_security
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
    path(
        "accounts/password_reset/",
        views_security.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password_change/",
        views_security.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path("accounts/two-factor/", views_security.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", views_security.two_factor_setup, name="two_factor_setup"),
    path(
        "accounts/two-factor/manage/",
        views_security.two_factor_manage,
        name="two_factor_manage",
    ),
    path("accounts/sessions/", views_security.sessions_list, name="sessions_list"),
    path("accounts/sessions/end/", views_security.sessions_end, name="sessions_end"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("bookings.urls_patient")),
    path("my/", include("patients.urls")),
    path("aftercare/", include("aftercare.urls")),
    path("staff/diary/", include("bookings.urls")),
    path("staff/", include("treatments.urls")),
    path("admin/", admin.site.urls),
]

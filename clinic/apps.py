from typing import Any

from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_on_login, dispatch_uid="clinic.remember_devices")


def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Note at log-in whether this person has two-step log-in on, and start a member of
    staff's idle clock."""
    import time

    from .middleware import note_seen
    from .security import is_staff_user, remember_devices

    if request is not None and hasattr(request, "session"):
        remember_devices(request, user)
        if is_staff_user(user):
            note_seen(request, time.time())

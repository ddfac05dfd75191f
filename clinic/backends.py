"""The log-in backend: Django's own, reading the user's roles with the user.

Every signed-in request reads its user (``get_user``), and nearly every one then asks for
the user's roles (the staff checks of the middleware, the menus): one query each. Here the
roles come with the user, as one ``EXISTS`` per role in the same query, and are remembered
on the user object as ``roles_of`` would remember them (clinic/roles.py). A change of
groups counts from the next request, as before: nothing is kept between requests.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef

from .models import User
from .roles import Role, remember_roles

_FLAG = "_holds_role_{}"


def _role_flags() -> dict[str, Exists]:
    holds = User.groups.through.objects.filter(user_id=OuterRef("pk"))
    return {
        _FLAG.format(number): Exists(holds.filter(group__name=role.value))
        for number, role in enumerate(Role)
    }


class ModelBackendWithRoles(ModelBackend):
    """Authenticates as Django's ``ModelBackend``; ``get_user`` also reads the roles."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User._default_manager.annotate(**_role_flags()).get(pk=user_id)
        except (User.DoesNotExist, ValueError, TypeError):
            return None
        if not self.user_can_authenticate(user):
            return None
        remember_roles(
            user,
            {role.value for number, role in enumerate(Role) if getattr(user, _FLAG.format(number))},
        )
        return user

"""The log-in backend: Django's own, reading the user's roles with the user.

Every signed-in request reads its user (``get_user``), and nearly every one then asks for
the user's roles (the staff checks of the middleware, the menus): one query each. Here the
roles come with the user, in one short query written once (a query built by the ORM for
each request, with one ``EXISTS`` per role, cost more in Python and in PostgreSQL's
planner than the two queries it replaced: docs/performance.md), and are remembered on the
user object as ``roles_of`` would remember them (clinic/roles.py). A change of groups
counts from the next request, as before: nothing is kept between requests.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import connection

from .models import User
from .roles import remember_roles

_SEPARATOR = "\x1f"  # the unit separator: never in a group's name


@cache
def _user_with_roles_sql(vendor: str) -> str:
    """Names from the model only, never from input; the user's key is a parameter."""
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(str(field.column))}" for field in User._meta.concrete_fields)
    key = quote(str(User._meta.pk.column))
    groups = quote(User.groups.through._meta.db_table)
    names = (
        f"SELECT g.{quote('name')} FROM {groups} ug "  # noqa: S608  # nosec B608
        f"JOIN {quote(Group._meta.db_table)} g ON g.{quote('id')} = ug.{quote('group_id')} "
        f"WHERE ug.{quote('user_id')} = u.{key}"
    )
    if vendor == "postgresql":
        role_names = f"ARRAY({names})"
    else:  # SQLite: the names in one string
        concat = f"group_concat(n.{quote('name')}, char(31))"
        role_names = f"(SELECT {concat} FROM ({names}) n)"  # noqa: S608  # nosec B608
    table = quote(User._meta.db_table)
    return (
        f"SELECT {columns}, {role_names} AS role_names "  # noqa: S608  # nosec B608
        f"FROM {table} u WHERE u.{key} = %s"
    )


def _names(value: Any) -> set[str]:
    if not value:
        return set()
    if isinstance(value, str):
        return set(value.split(_SEPARATOR))
    return set(value)


class ModelBackendWithRoles(ModelBackend):
    """Authenticates as Django's ``ModelBackend``; ``get_user`` also reads the roles."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        found = list(User._default_manager.raw(_user_with_roles_sql(connection.vendor), [pk]))
        if not found:
            return None
        user = found[0]
        if not self.user_can_authenticate(user):
            return None
        remember_roles(user, _names(getattr(user, "role_names", None)))
        return user

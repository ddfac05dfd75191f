"""Who may do what: the clinic's rules in one table, and the decorators that apply them.

``RULES`` says, for each thing a person can do in the clinic's own pages, which roles may
do it. Views use ``action_required(Action.X)`` (or one of the role-family decorators
below, which say the same thing in fewer words); ``tests/security/test_role_matrix.py``
checks every row against the pages themselves. The admin site has its own gate: only a
clinic admin's account may enter it (``is_staff``, kept in step with the role by
``clinic.services.staff_member_save``), and the model permissions of the role groups
decide what an admin may change there.

Anonymous visitors are sent to the login page; a signed-in user without the role gets
403. Object-level scoping lives in each app's selectors, which take the acting patient:
another patient's record is "not found" (404), never "forbidden". Staff are scoped to the
clinic (one deployment is one clinic; its locations are where it sees patients, not
separate practices), so a nurse or consultant may open any patient's record that their
role needs, and every such opening is written to the access log (``patients.audit``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .roles import STAFF_ROLES, Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User

View = Callable[..., HttpResponse]


class Action(enum.StrEnum):
    """Things people do in the clinic's own pages (not the admin site)."""

    # The patient's own pages: portal, booking, aftercare.
    USE_OWN_PAGES = "use their own patient pages"
    # The nurse's day.
    SEE_DAY_LIST = "see the day list"
    OPEN_SESSION = "open a session"
    CONFIRM_CONSENT = "confirm consent"
    TAKE_CONSENT = "take consent in clinic"
    RUN_SESSION = "start, record, fit stockings, note adverse events, complete or abandon"
    # The consultant's desk.
    SEE_CONSULTANT_DESK = "see consultations awaiting a plan"
    PLAN_COURSE = "plan a course"
    SEE_COURSE_REVIEW = "see the course review"
    EXTEND_COURSE = "extend a course"
    CLOSE_COURSE = "close a course"
    REVIEW_SCREENING = "review a screening"
    # The diary: seeing it, booking, moving and cancelling for patients, status moves.
    USE_DIARY = "use the diary"
    # Aftercare.
    SEE_AFTERCARE_LIST = "see the staff aftercare list"
    RESOLVE_FLAG = "resolve a flag"


NURSE_AND_CONSULTANT = frozenset({Role.NURSE, Role.CONSULTANT})
CONSULTANT_ONLY = frozenset({Role.CONSULTANT})

RULES: dict[Action, frozenset[str]] = {
    Action.USE_OWN_PAGES: frozenset({Role.PATIENT}),
    Action.SEE_DAY_LIST: NURSE_AND_CONSULTANT,
    Action.OPEN_SESSION: NURSE_AND_CONSULTANT,
    Action.CONFIRM_CONSENT: NURSE_AND_CONSULTANT,
    Action.TAKE_CONSENT: NURSE_AND_CONSULTANT,
    Action.RUN_SESSION: NURSE_AND_CONSULTANT,
    Action.SEE_CONSULTANT_DESK: CONSULTANT_ONLY,
    Action.PLAN_COURSE: CONSULTANT_ONLY,
    # Nurses read the course (previous sessions, consent, screening) to run a session
    # safely; only a consultant changes the plan.
    Action.SEE_COURSE_REVIEW: NURSE_AND_CONSULTANT,
    Action.EXTEND_COURSE: CONSULTANT_ONLY,
    Action.CLOSE_COURSE: CONSULTANT_ONLY,
    Action.REVIEW_SCREENING: CONSULTANT_ONLY,
    # Clinic admins run the front desk too: they book, move and cancel for patients, but
    # open no clinical screen (session, course, screening, aftercare).
    Action.USE_DIARY: frozenset(STAFF_ROLES),
    Action.SEE_AFTERCARE_LIST: NURSE_AND_CONSULTANT,
    Action.RESOLVE_FLAG: NURSE_AND_CONSULTANT,
}


def can(user: User | AnonymousUser, action: Action) -> bool:
    """Whether the user's role allows the action (for showing or hiding a button)."""
    return has_role(user, *RULES[action])


def role_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def action_required(action: Action) -> Callable[[View], View]:
    """The view does ``action``: visitors log in, other roles get 403."""
    return role_required(*sorted(RULES[action]))


patient_required = action_required(Action.USE_OWN_PAGES)
staff_required = role_required(*STAFF_ROLES)
nurse_or_consultant_required = role_required(*sorted(NURSE_AND_CONSULTANT))
consultant_required = role_required(*sorted(CONSULTANT_ONLY))
clinic_admin_required = role_required(Role.CLINIC_ADMIN)
diary_staff_required = action_required(Action.USE_DIARY)

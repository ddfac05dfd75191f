"""The access audit: staff pages note each opening of a patient's record, and patients
read who opened theirs.

A staff view that shows ONE patient's record calls ``record_viewed`` once it has loaded
that record. Only a full-page GET is noted:

- a POST is an action on the record, and the service it calls keeps its own history
  (who recorded, extended, cancelled what); every form is posted from a page whose GET
  was already noted;
- an htmx request refreshes part of a page whose GET was already noted (pass
  ``partials=True`` where the partial is itself the first sight of a patient, as on the
  diary's "book for a patient" panel);
- the same member of staff opening the same record again within ``REPEAT_WINDOW`` (the
  redirect after each action on the session screen, a reload) is the same look, so it
  adds no row. A first look always adds one; so does any look that gives a reason.

The rows hold a short label of the page and an id (``course:12``), never names or
health data; the reason comes from an optional ``?reason=`` the member of staff typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import StaffMember, User

from .models import Patient, RecordAccess
from .services import record_access_log

REPEAT_WINDOW = timedelta(minutes=10)
REASON_MAX = 255
PER_PAGE = 50

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def reason_from(request: HttpRequest) -> str:
    """The ``?reason=`` the member of staff gave, on one line and at most 255 characters."""
    raw = request.GET.get("reason", "")
    text = _SPACES.sub(" ", _CONTROL.sub(" ", raw)).strip()
    return text[:REASON_MAX]


def record_viewed(
    request: HttpRequest,
    *,
    patient: Patient | int,
    what: str,
    ref: str,
    partials: bool = False,
) -> RecordAccess | None:
    """Note that the signed-in member of staff is looking at this patient's record.

    ``what`` is a short label of the page ("course review"), ``ref`` which record
    ("course:12"): neither may hold names or health data. Returns the new row, or None
    when nothing was noted (not a full-page GET, a repeat look, or the patient's own).
    """
    if request.method != "GET":
        return None
    if getattr(request, "htmx", False) and not partials:
        return None
    user = cast(User, request.user)
    patient_id = patient if isinstance(patient, int) else patient.pk
    reason = reason_from(request)
    if not reason and _seen_lately(user=user, patient_id=patient_id, what=what, ref=ref):
        return None
    return record_access_log(user=user, patient=patient_id, what=what, ref=ref, reason=reason)


def _seen_lately(*, user: User, patient_id: int, what: str, ref: str) -> bool:
    since = timezone.now() - REPEAT_WINDOW
    return RecordAccess.objects.filter(
        patient_id=patient_id, user_id=user.pk, what=what, ref=ref, at__gte=since
    ).exists()


# --- what the patient reads ------------------------------------------------------------------


@dataclass(frozen=True)
class AccessLine:
    """One row of "who looked at my record", in words a patient can read."""

    at: datetime
    who: str
    role: str
    what: str
    reason: str


def access_log_for(*, patient: Patient) -> QuerySet[RecordAccess]:
    """Every look at this patient's record, newest first, with who looked (one query)."""
    return (
        RecordAccess.objects.filter(patient=patient)
        .select_related("user__staff_member")
        .order_by("-at", "-pk")
    )


def access_log_page(*, patient: Patient, page: str | int | None) -> tuple[Page, list[AccessLine]]:
    """One page of the patient's access log (50 rows; two queries whatever its length).

    A page number that is not a number, or past the end, gives the nearest real page.
    """
    paginator = Paginator(access_log_for(patient=patient), PER_PAGE)
    page_obj = paginator.get_page(page)
    return page_obj, [_line(row) for row in page_obj.object_list]


def _line(row: RecordAccess) -> AccessLine:
    user = row.user
    staff: StaffMember | None = getattr(user, "staff_member", None)
    if staff is not None:
        who, role = staff.display_name, staff.get_role_display()
    else:
        who, role = (user.get_full_name() or "A member of the clinic's staff"), "Clinic staff"
    return AccessLine(at=row.at, who=who, role=role, what=row.what, reason=row.reason)

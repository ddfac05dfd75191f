"""A private calendar address for each member of staff: their appointments (as consultant
or as nurse) for a calendar app to subscribe to, and the page that shows and resets it.

The address holds a secret token instead of a login, so anyone who has it can read the
diary it shows: the page says so, and resetting makes a new token at once, after which the
old address answers 404. Patients' feeds use the same ``CalendarFeed`` row of a user.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import icalendar
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic.models import StaffMember, User
from treatments.selectors import staff_member_for

from .feeds import TOKEN_PATTERN, calendar_feed_reset
from .models import Appointment, CalendarFeed
from .views import diary_staff_required

DAYS_BACK = 30
DAYS_AHEAD = 180


# --- writes and reads (small enough to live with their only pages) -----------------------


def staff_feed_appointments(*, staff: StaffMember) -> list[Appointment]:
    """The staff member's appointments as consultant or nurse, from 30 days back to 180
    days ahead; cancelled ones are left out so that they disappear from the calendar."""
    now = timezone.now()
    return list(
        Appointment.objects.filter(Q(consultant=staff) | Q(nurse=staff))
        .filter(
            start__gte=now - timedelta(days=DAYS_BACK),
            start__lt=now + timedelta(days=DAYS_AHEAD),
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient__user", "treatment", "consultant__user", "nurse__user", "room")
        .select_related("room__location")
        .order_by("start", "pk")
    )


def _patient_short_name(appointment: Appointment) -> str:
    """First name and the initial of the surname: enough to recognise the patient, less
    than a calendar service needs to hold."""
    user = appointment.patient.user
    first, last = user.first_name.strip(), user.last_name.strip()
    if first and last:
        return f"{first} {last[0]}."
    return first or last or "Patient"


def staff_calendar(*, staff: StaffMember, appointments: list[Appointment]) -> bytes:
    """The appointments as an iCalendar file (times in UTC)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Veinline//Staff diary//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{settings.CLINIC_NAME}: {staff.display_name}")
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    stamp = timezone.now()
    for appointment in appointments:
        with_whom = [appointment.consultant.display_name]
        if appointment.nurse is not None:
            with_whom.append(appointment.nurse.display_name)
        where = f"{appointment.room.name}, {appointment.room.location.name}"
        event = icalendar.Event()
        event.add("uid", f"appointment-{appointment.pk}@veinline")
        event.add("dtstamp", stamp)
        event.add("dtstart", appointment.start)
        event.add("dtend", appointment.end)
        event.add("summary", f"{appointment.treatment.name}: {_patient_short_name(appointment)}")
        event.add("location", where)
        event.add(
            "description",
            f"{appointment.treatment.name} with {' and '.join(with_whom)}.\n"
            f"Room: {where}.\nStatus: {appointment.get_status_display()}.",
        )
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return cast(bytes, calendar.to_ical())


# --- pages --------------------------------------------------------------------------------


def _feed_url(request: HttpRequest, feed: CalendarFeed | None) -> str:
    if feed is None:
        return ""
    return request.build_absolute_uri(reverse("bookings:staff_feed", args=[feed.token]))


@diary_staff_required
@require_http_methods(["GET", "POST"])
def staff_feed_settings(request: HttpRequest) -> HttpResponse:
    """The member of staff's private calendar address, and a button that makes a new one."""
    user = cast(User, request.user)
    staff = staff_member_for(user)
    if staff is None:
        return render(
            request,
            "bookings/staff_feed_settings.html",
            {"no_staff_record": True},
            status=403,
        )
    if request.method == "POST":
        had_one = CalendarFeed.objects.filter(user=user).exists()
        calendar_feed_reset(user=user)
        messages.success(
            request,
            "Here is your new calendar address. The old one no longer works: give the new "
            "one to your calendar app."
            if had_one
            else "Your calendar address is ready. Add it to your calendar app.",
        )
        return redirect("bookings:staff_feed_settings")
    feed = CalendarFeed.objects.filter(user=user).first()
    context = {
        "staff": staff,
        "feed_url": _feed_url(request, feed),
        "days_back": DAYS_BACK,
        "days_ahead": DAYS_AHEAD,
    }
    return render(request, "bookings/staff_feed_settings.html", context)


@require_GET
def staff_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The calendar itself. No login: the token is the key. Unknown token → 404."""
    if not TOKEN_PATTERN.fullmatch(token):  # not a token of ours (a NUL byte, too long)
        raise Http404("No such calendar.")
    feed = (
        CalendarFeed.objects.select_related("user__staff_member__user")
        .filter(token=token, user__is_active=True)
        .first()
    )
    staff = getattr(feed.user, "staff_member", None) if feed is not None else None
    if staff is None or not staff.is_active:
        raise Http404("No such calendar.")
    body = staff_calendar(staff=staff, appointments=staff_feed_appointments(staff=staff))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="veinline-diary.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

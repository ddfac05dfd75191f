"""Calendar files (iCalendar, RFC 5545) for appointments: one appointment as an attachment
or a download, or a patient's whole diary as a subscribed feed.

Each appointment keeps one UID for life, so a calendar that already holds it replaces it
when the time moves or it is cancelled; SEQUENCE grows with every saved change (the
appointment's history), which tells the calendar which copy is newer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from .models import Appointment
from .selectors import session_of

PRODID = "-//Veinline//Bookings//EN"
UID_DOMAIN = "veinline"

Status = Appointment.Status

LinkFor = Callable[[Appointment], str]


def appointment_uid(appointment: Appointment) -> str:
    return f"appointment-{appointment.pk}@{UID_DOMAIN}"


def appointment_sequence(appointment: Appointment) -> int:
    """How many times the appointment changed since it was made (0 when never).

    Lists annotate ``history_count`` so that a feed does not count per row.
    """
    count = getattr(appointment, "history_count", None)
    if count is None:
        count = appointment.history.count()
    return max(int(count or 0) - 1, 0)


def appointment_title(appointment: Appointment) -> str:
    session = session_of(appointment)
    what = appointment.treatment.name
    if session is not None:
        what = f"{what}, session {session.number}"
    return f"{what} ({settings.CLINIC_NAME})"


def appointment_place(appointment: Appointment) -> str:
    location = appointment.room.location
    lines = [line.strip() for line in location.address.splitlines() if line.strip()]
    return ", ".join([location.name, *lines])


def _description(appointment: Appointment, link: str) -> str:
    when = timezone.localtime(appointment.start)
    parts = [
        f"{appointment.treatment.name} with {appointment.consultant.display_name}, "
        f"{when:%A} {when.day} {when:%B %Y at %H:%M} ({appointment.minutes} minutes).",
        f"Where: {appointment.room.location.name}, {appointment.room.name}.",
    ]
    if appointment.status == Status.CANCELLED:
        parts.insert(0, "This appointment is cancelled.")
    elif session_of(appointment) is not None:
        parts.append(
            "Afterwards you will wear compression stockings and walk for a little while "
            "before going home, so wear loose, comfortable clothes."
        )
    phone = appointment.room.location.phone
    if phone:
        parts.append(f"To change it, call the clinic on {phone}" + (" or visit:" if link else "."))
    elif link:
        parts.append("To see or change it, visit:")
    if link:
        parts.append(link)
    return "\n".join(parts)


def appointment_event(appointment: Appointment, *, link: str = "") -> Event:
    """One VEVENT: times in UTC, the place, a short description, cancelled or confirmed."""
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", datetime.now(tz=UTC))
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("summary", appointment_title(appointment))
    event.add("location", appointment_place(appointment))
    event.add("description", _description(appointment, link))
    event.add("sequence", appointment_sequence(appointment))
    event.add("status", "CANCELLED" if appointment.status == Status.CANCELLED else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if appointment.status == Status.CANCELLED else "OPAQUE")
    if link:
        event.add("url", link)
    return event


def _calendar(name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def appointment_ics(appointment: Appointment, *, link: str = "") -> bytes:
    """A calendar file holding one appointment (for an email attachment or a download).

    The appointment should come with its treatment, room and location, consultant and
    session record loaded.
    """
    calendar = _calendar()
    calendar.add_component(appointment_event(appointment, link=link))
    return calendar.to_ical()


def feed_ics(
    appointments: Iterable[Appointment], *, name: str, link_for: LinkFor | None = None
) -> bytes:
    """A calendar holding many appointments: the body of a subscribed feed."""
    calendar = _calendar(name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for appointment in appointments:
        link = link_for(appointment) if link_for is not None else ""
        calendar.add_component(appointment_event(appointment, link=link))
    return calendar.to_ical()

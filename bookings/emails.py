"""The emails a patient gets about their appointment: booked, moved, cancelled.

Each has the appointment's calendar file attached. They are sent by a Celery task after
the change is committed (``bookings.tasks.send_appointment_email``), so a slow or broken
mail server never holds up or undoes a booking; ``email_after_commit`` hands them over.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from . import ics
from .models import Appointment
from .selectors import appointment_for_email, session_of

logger = logging.getLogger(__name__)

KINDS = ("booked", "moved", "cancelled")


def email_body(appointment: Appointment, link: str, kind: str) -> tuple[str, str]:
    when = timezone.localtime(appointment.start)
    location = appointment.room.location
    session = session_of(appointment)
    what = appointment.treatment.name
    if session is not None:
        what = f"{what} (session {session.number} of {session.course.planned_sessions})"
    when_text = f"{when:%A} {when.day} {when:%B %Y at %H:%M} ({appointment.minutes} minutes)"
    name = appointment.patient.user.first_name or appointment.patient.full_name
    if kind == "cancelled":
        subject = f"Your appointment on {when:%A} {when.day} {when:%B} is cancelled"
        opening = "Your appointment below is cancelled. The attached calendar file removes it "
        opening += "from your calendar."
    elif kind == "moved":
        subject = f"Your appointment has moved to {when:%A} {when.day} {when:%B}"
        opening = "Your appointment has moved. Here are the new details; the attached calendar "
        opening += "file updates your calendar."
    else:
        subject = f"Your appointment on {when:%A} {when.day} {when:%B} is booked"
        opening = "Thank you for booking with us. Here are the details; the attached calendar "
        opening += "file adds the appointment to your calendar."
    address = "\n".join(
        f"  {line.strip()}" for line in location.address.splitlines() if line.strip()
    )
    lines = [
        f"Dear {name},",
        "",
        opening,
        "",
        f"What:  {what}",
        f"When:  {when_text}, UK time",
        f"With:  {appointment.consultant.display_name}",
        f"Where: {location.name}",
        address,
        "",
    ]
    if kind != "cancelled":
        lines += [
            "To see, move or cancel your appointment, go to:",
            link,
            f"You can change it online up to {settings.PATIENT_CHANGE_CUTOFF_HOURS} hours "
            "before it starts; after that, please call the clinic"
            + (f" on {location.phone}." if location.phone else "."),
            "",
        ]
        if session is not None:
            treatment = appointment.treatment
            lines += [
                "Before and after your session:",
                "- Wear loose, comfortable clothes. After the treatment a nurse fits "
                "compression stockings, which you wear for "
                f"{treatment.stocking_days} days.",
                f"- Please plan to walk for at least {treatment.discharge_walk_minutes} "
                "minutes straight after the session, before you go home.",
                f"- Walking for {treatment.daily_walk_minutes} minutes or more every day "
                "helps your legs recover. You will get full aftercare advice on the day.",
                "",
            ]
    lines += [
        "If you feel unwell after treatment, call the clinic. In an emergency, call 999.",
        "",
        f"{settings.CLINIC_NAME}",
    ]
    return subject, "\n".join(lines)


def appointment_email(pk: int, link: str, *, kind: str) -> EmailMultiAlternatives | None:
    """The email about one appointment, or None when there is no one to send it to."""
    appointment = appointment_for_email(pk=pk)
    if appointment is None or not appointment.patient.user.email:
        return None
    subject, body = email_body(appointment, link, kind)
    message = EmailMultiAlternatives(
        subject=subject, body=body, to=[appointment.patient.user.email]
    )
    message.attach(
        f"appointment-{appointment.pk}.ics",
        ics.appointment_ics(appointment, link=link),
        "text/calendar",
    )
    return message


def send_appointment_email(pk: int, link: str, *, kind: str) -> None:
    """Send it now; a failure of the mail server is raised (the task tries again)."""
    message = appointment_email(pk, link, kind=kind)
    if message is not None:
        message.send()


def email_after_commit(pk: int, link: str, *, kind: str) -> None:
    """Hand the email to the Celery worker once the change is committed. If the broker
    cannot take it, it is sent at once instead; if that fails too, it is logged: the
    appointment stands either way."""
    transaction.on_commit(lambda: _hand_over(pk, link, kind))


def _hand_over(pk: int, link: str, kind: str) -> None:
    from . import tasks

    try:
        tasks.send_appointment_email.apply_async(args=(pk, link, kind), retry=False)
        return
    except Exception:
        logger.warning("Could not queue the %s email for appointment %s", kind, pk, exc_info=True)
    try:
        send_appointment_email(pk, link, kind=kind)
    except Exception:
        logger.exception("Could not send the %s email for appointment %s", kind, pk)

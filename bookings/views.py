"""Staff diary pages, under /staff/diary/: the day's appointments and their status moves,
putting a consultation in the diary, and booking the next session of a course."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError
from clinic.permissions import role_required
from clinic.roles import Role
from treatments.models import Course
from treatments.services import local_date, session_schedule

from . import selectors
from .forms import AppointmentStatusForm, ConsultationForm, SessionForm
from .models import Appointment
from .services import appointment_create, appointment_set_status

# Nurses and consultants run the diary; clinic admins may use it too.
diary_staff_required = role_required(Role.NURSE, Role.CONSULTANT, Role.CLINIC_ADMIN)

# The diary covers these years; anything else in ?day= is a mistake, not a day to show.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _parse_day(raw: str | None) -> date:
    if raw is None or raw == "":
        return timezone.localdate()
    if not DAY_PATTERN.fullmatch(raw):
        raise ValueError(raw)
    day = date.fromisoformat(raw)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(raw)
    return day


def _diary_url(day: date) -> str:
    return f"{reverse('bookings:diary')}?day={day.isoformat()}"


def _render_diary(request: HttpRequest, day: date, *, status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {
        "day": day,
        "entries": selectors.diary_day(day=day),
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "is_today": day == timezone.localdate(),
    }
    return render(request, "bookings/diary.html", context, status=status)


@diary_staff_required
@require_GET
def diary(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("day")
    try:
        day = _parse_day(raw)
    except ValueError:
        return render(
            request,
            "bookings/diary.html",
            {"day_error": "Give the day as year-month-day, for example 2026-03-02."},
            status=400,
        )
    return _render_diary(request, day)


@diary_staff_required
@require_POST
def appointment_status(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        appointment = selectors.appointment_for_status(pk=pk)
    except Appointment.DoesNotExist as exc:
        raise Http404("No such appointment.") from exc
    day = local_date(appointment.start)
    form = AppointmentStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the buttons to change the appointment's status.")
        return _render_diary(request, day, status=400)
    status = form.cleaned_data["status"]
    offered = {value for value, _ in selectors.diary_moves(appointment)}
    is_session = selectors.session_of(appointment) is not None
    if is_session and status != appointment.status and status not in offered:
        messages.error(
            request,
            "A treatment session is completed or called off from its session screen, "
            "where the stockings, the walk and any reason are recorded.",
        )
        return _render_diary(request, day, status=409)
    try:
        appointment = appointment_set_status(appointment=appointment, status=status)
    except DomainError as error:
        messages.error(request, error.message)
        return _render_diary(request, day, status=409)
    messages.success(
        request,
        f"{appointment.patient.full_name} at {timezone.localtime(appointment.start):%H:%M}: "
        f"{appointment.get_status_display().lower()}.",
    )
    return redirect(_diary_url(day))


@diary_staff_required
@require_http_methods(["GET", "POST"])
def consultation_new(request: HttpRequest) -> HttpResponse:
    form = ConsultationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = appointment_create(
                patient=data["patient"],
                treatment=data["treatment"],
                start=data["start"],
                minutes=data["minutes"],
                consultant=data["consultant"],
                room=data["room"],
                notes=data["notes"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            start = timezone.localtime(appointment.start)
            messages.success(
                request,
                f"{appointment.treatment} booked for {appointment.patient.full_name} on "
                f"{start:%A} {start.day} {start:%B at %H:%M}.",
            )
            return redirect(_diary_url(start.date()))
    status = 400 if request.method == "POST" else 200
    return render(request, "bookings/consultation_new.html", {"form": form}, status=status)


@diary_staff_required
@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest, course_id: int) -> HttpResponse:
    try:
        booking = selectors.session_booking(course_id=course_id)
    except Course.DoesNotExist as exc:
        raise Http404("No such course.") from exc
    course = booking.course
    form = SessionForm(request.POST or None, course=course)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = session_schedule(
                course=course,
                start=data["start"],
                minutes=data["minutes"],
                consultant=data["consultant"],
                nurse=data["nurse"],
                room=data["room"],
                music_request=data["music_request"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            start = timezone.localtime(session.appointment.start)
            messages.success(
                request,
                f"Session {session.number} of {course.planned_sessions} booked for "
                f"{course.patient.full_name} on {start:%A} {start.day} {start:%B at %H:%M}.",
            )
            return redirect(_diary_url(start.date()))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "bookings/session_new.html", {"form": form, "booking": booking}, status=status
    )

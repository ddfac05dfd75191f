"""Staff diary pages, under /staff/diary/: the day and week calendars, status moves,
booking, moving and cancelling on a patient's behalf, putting a consultation in the
diary and booking the next session of a course. The staff calendar feed is in
``views_staff_feed``."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError
from clinic.models import Closure, Location, OpeningHours, Room, StaffMember, User
from clinic.permissions import diary_staff_required
from patients.audit import record_viewed
from patients.models import Patient
from treatments.models import Course, Treatment
from treatments.selectors import local_day_bounds, staff_member_for
from treatments.services import local_date, session_schedule

from . import selectors
from .availability import Slot, free_slots
from .forms import (
    AppointmentStatusForm,
    BookingChoiceForm,
    BookSlotForm,
    CancelForm,
    ConsultationForm,
    DayForm,
    LocationFilterForm,
    PatientPickForm,
    SessionForm,
    SlotForm,
)
from .models import Appointment
from .selectors import BookingOption, booking_options_among
from .services import (
    appointment_book,
    appointment_cancel,
    appointment_create,
    appointment_reschedule,
    appointment_set_status,
)

Status = Appointment.Status

# Nurses and consultants run the diary; clinic admins may use it too.

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


def _diary_url(day: date, location: Location | None = None) -> str:
    url = f"{reverse('bookings:diary')}?day={day.isoformat()}"
    return f"{url}&location={location.pk}" if location is not None else url


def _week_url(monday: date, location: Location | None = None) -> str:
    url = f"{reverse('bookings:week')}?start={monday.isoformat()}"
    return f"{url}&location={location.pk}" if location is not None else url


def _acting_staff(request: HttpRequest) -> StaffMember:
    """The member of staff acting, from the login (never from the form)."""
    staff = staff_member_for(cast(User, request.user))
    if staff is None:
        raise PermissionDenied(
            "Your account has no active staff record, so it cannot book or change "
            "appointments. Please ask the clinic's administrator."
        )
    return staff


def _location_filter(request: HttpRequest) -> Location | None:
    """The ``?location=`` filter: raises ValueError for an unknown or hostile value."""
    form = LocationFilterForm(request.GET)
    if not form.is_valid():
        raise ValueError(form.errors.get("location"))
    location: Location | None = form.cleaned_data.get("location")
    return location


def _inside_cutoff(appointment: Appointment) -> bool:
    """Inside the window in which only the clinic may change it (a late change)."""
    cutoff = timedelta(hours=settings.PATIENT_CHANGE_CUTOFF_HOURS)
    return appointment.start - timezone.now() < cutoff


@dataclass
class RoomGroup:
    room: Room
    location_name: str
    entries: list[selectors.DiaryEntry]


def _by_room(
    entries: list[selectors.DiaryEntry], location_names: dict[int, str]
) -> list[RoomGroup]:
    groups: dict[int, RoomGroup] = {}
    for entry in entries:
        room = entry.appointment.room
        if room.pk not in groups:
            groups[room.pk] = RoomGroup(room, location_names.get(room.location_id, ""), [])
        groups[room.pk].entries.append(entry)
    return sorted(groups.values(), key=lambda g: (g.location_name, g.room.name, g.room.pk))


def _render_diary(
    request: HttpRequest,
    day: date,
    *,
    location: Location | None = None,
    status: int = 200,
) -> HttpResponse:
    entries = selectors.diary_day(day=day)
    if location is not None:
        entries = [e for e in entries if e.appointment.room.location_id == location.pk]
    locations = list(Location.objects.filter(is_active=True))
    names = {loc.pk: loc.name for loc in locations}
    context: dict[str, Any] = {
        "day": day,
        "entries": entries,
        "rooms": _by_room(entries, names),
        "location": location,
        "locations": locations,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "is_today": day == timezone.localdate(),
        "week_url": _week_url(day - timedelta(days=day.weekday()), location),
        "location_query": f"&location={location.pk}" if location else "",
        "can_change": {e.appointment.pk for e in entries if e.appointment.status == Status.BOOKED},
    }
    return render(request, "bookings/diary.html", context, status=status)


def _bad_request(request: HttpRequest, template: str, message: str) -> HttpResponse:
    return render(request, template, {"day_error": message}, status=400)


DAY_HELP = "Give the day as year-month-day, for example 2026-03-02."


@diary_staff_required
@require_GET
def diary(request: HttpRequest) -> HttpResponse:
    try:
        day = _parse_day(request.GET.get("day"))
    except ValueError:
        return _bad_request(request, "bookings/diary.html", DAY_HELP)
    try:
        location = _location_filter(request)
    except ValueError:
        return _bad_request(
            request, "bookings/diary.html", "That location is not one of the clinic's."
        )
    return _render_diary(request, day, location=location)


# --- the week ---------------------------------------------------------------------------


@dataclass
class WeekDay:
    """One day of the week calendar: the location's hours or closure, the appointments."""

    day: date
    hours: list[str] = field(default_factory=list)
    closures: list[str] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)

    @property
    def is_today(self) -> bool:
        return self.day == timezone.localdate()


def _hours_text(rows: list[OpeningHours]) -> str:
    return ", ".join(
        f"{r.opens:%H:%M}–{r.closes:%H:%M}" for r in sorted(rows, key=lambda r: r.opens)
    )


def week_calendar(*, monday: date, location: Location | None) -> list[WeekDay]:
    """Monday to Sunday (local days) with each day's appointments in time order, the
    opening hours of the location (or of every location) and its closures.

    A fixed number of queries, whatever the number of appointments. Days are bounded by
    local midnights, so the 23- and 25-hour days when the clocks change are whole.
    """
    sunday = monday + timedelta(days=6)
    start, _ = local_day_bounds(monday)
    _, end = local_day_bounds(sunday)
    appointments = Appointment.objects.filter(start__gte=start, start__lt=end).select_related(
        "patient__user",
        "treatment",
        "consultant__user",
        "nurse__user",
        "room__location",
        "session_record__course",
    )
    hours = OpeningHours.objects.filter(location__is_active=True).select_related("location")
    closures = Closure.objects.filter(date__gte=monday, date__lte=sunday).select_related("location")
    if location is not None:
        appointments = appointments.filter(room__location=location)
        hours = hours.filter(location=location)
        closures = closures.filter(Q(location=location) | Q(location__isnull=True))
    days = [WeekDay(monday + timedelta(days=n)) for n in range(7)]
    by_weekday: dict[int, dict[str, list[OpeningHours]]] = defaultdict(lambda: defaultdict(list))
    for row in hours:
        by_weekday[row.weekday][row.location.name].append(row)
    closed: dict[date, list[Closure]] = defaultdict(list)
    for closure in closures:
        closed[closure.date].append(closure)
    for week_day in days:
        closed_today = closed.get(week_day.day, [])
        shut = {c.location.name for c in closed_today if c.location is not None}
        everywhere = any(c.location is None for c in closed_today)
        for closure in closed_today:
            where = closure.location.name if closure.location and location is None else ""
            week_day.closures.append(f"{where}: {closure.reason}" if where else closure.reason)
        if everywhere:
            continue
        for name, rows in sorted(by_weekday.get(week_day.day.weekday(), {}).items()):
            if name in shut:
                continue
            text = _hours_text(rows)
            week_day.hours.append(text if location is not None else f"{name}: {text}")
    for appointment in appointments.order_by("start", "room__name", "pk"):
        offset = (timezone.localtime(appointment.start).date() - monday).days
        days[offset].appointments.append(appointment)
    return days


@diary_staff_required
@require_GET
def week(request: HttpRequest) -> HttpResponse:
    try:
        day = _parse_day(request.GET.get("start"))
    except ValueError:
        return _bad_request(request, "bookings/week.html", DAY_HELP)
    try:
        location = _location_filter(request)
    except ValueError:
        return _bad_request(
            request, "bookings/week.html", "That location is not one of the clinic's."
        )
    monday = day - timedelta(days=day.weekday())
    this_monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    context: dict[str, Any] = {
        "monday": monday,
        "sunday": monday + timedelta(days=6),
        "days": week_calendar(monday=monday, location=location),
        "location": location,
        "locations": list(Location.objects.filter(is_active=True)),
        "previous_url": _week_url(monday - timedelta(days=7), location),
        "next_url": _week_url(monday + timedelta(days=7), location),
        "this_week_url": None if monday == this_monday else _week_url(this_monday, location),
        "location_query": f"&location={location.pk}" if location else "",
    }
    return render(request, "bookings/week.html", context)


# --- status moves -----------------------------------------------------------------------


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
        if status == Status.CANCELLED and appointment.status == Status.BOOKED:
            # A cancellation frees the time, records why and offers it to the waiting list.
            appointment = appointment_cancel(
                appointment=appointment, by_staff=_acting_staff(request)
            )
        else:
            appointment = appointment_set_status(appointment=appointment, status=status)
    except DomainError as error:
        messages.error(request, error.message)
        return _render_diary(request, day, status=409)
    messages.success(
        request,
        f"{appointment.patient.full_name} at {timezone.localtime(appointment.start):%H:%M}: "
        f"{appointment.get_status_display().lower()}."
        + (" Marked as a late cancellation." if appointment.late_change else ""),
    )
    return redirect(_diary_url(day))


# --- booking, moving and cancelling on a patient's behalf -------------------------------


def staff_booking_options(*, patient: Patient) -> list[BookingOption]:
    """What staff may book for a patient: every active treatment (also those booked only
    through the clinic), each with the same rules the patient's own booking follows."""
    treatments = Treatment.objects.filter(is_active=True).order_by("kind", "name")
    return booking_options_among(patient=patient, treatments=list(treatments))


@dataclass
class SlotView:
    """A free time with the names of the team and room the booking would get."""

    slot: Slot
    consultant: StaffMember
    nurse: StaffMember | None
    room: Room

    @property
    def value(self) -> str:
        return self.slot.start.isoformat()


def _slot_views(slots: list[Slot]) -> list[SlotView]:
    """Free times still ahead, with names (two queries whatever the number of slots)."""
    now = timezone.now()
    slots = [s for s in slots if s.start > now]
    staff_ids = {s.consultant_id for s in slots} | {s.nurse_id for s in slots if s.nurse_id}
    staff = StaffMember.objects.select_related("user").in_bulk(staff_ids) if slots else {}
    rooms = (
        Room.objects.select_related("location").in_bulk({s.room_id for s in slots}) if slots else {}
    )
    return [
        SlotView(
            slot=s,
            consultant=staff[s.consultant_id],
            nurse=staff[s.nurse_id] if s.nurse_id else None,
            room=rooms[s.room_id],
        )
        for s in slots
    ]


def _book_query(data: QueryDict, options: list[BookingOption]) -> dict[str, str]:
    """The GET of the booking page, made consistent after the patient or the treatment
    changed: an option the patient does not have, or a length the treatment does not
    offer, falls back to the first one rather than showing an error."""
    query = {k: str(data.get(k, "")) for k in ("patient", "option", "minutes", "day")}
    allowed = {o.key: o for o in options if o.allowed}
    if query["option"] not in allowed:
        query["option"] = next(iter(allowed), "")
    option = allowed.get(query["option"])
    lengths = [str(n) for n in ((option.treatment.session_lengths if option else None) or [30])]
    if query["minutes"] not in lengths:
        query["minutes"] = lengths[0]
    return query


def _book(
    request: HttpRequest,
    patient: Patient,
    choice: BookingOption,
    minutes: int,
    data: dict[str, Any],
) -> Appointment:
    appointment = appointment_book(
        patient=patient,
        treatment=choice.treatment,
        start=data["start"],
        minutes=minutes,
        course=choice.course,
        payer=data["payer"],
        preauthorisation_code=data["preauthorisation_code"],
        music_request=data["music_request"],
        by_staff=_acting_staff(request),
    )
    start = timezone.localtime(appointment.start)
    messages.success(
        request,
        f"{appointment.treatment} booked for {patient.full_name} on {start:%A} {start.day} "
        f"{start:%B at %H:%M} with {appointment.consultant}, {appointment.room.name}.",
    )
    return appointment


BOOK_TEMPLATE = "bookings/book_for_patient.html"
BOOK_PANEL_TEMPLATE = "bookings/_book_panel.html"


@diary_staff_required
@require_http_methods(["GET", "POST"])
def book_for_patient(request: HttpRequest) -> HttpResponse:
    """Choose a patient, what to book and a day; see the free times; book one. Staff have
    no minimum notice or horizon; every other rule of the patient's own booking holds."""
    posting = request.method == "POST"
    data = request.POST if posting else request.GET
    patient_form = PatientPickForm(data if data.get("patient") or posting else None)
    context: dict[str, Any] = {"patient_form": patient_form}
    status = 200
    patient: Patient | None = None
    if patient_form.is_bound:
        if patient_form.is_valid():
            patient = patient_form.cleaned_data["patient"]
        else:
            status = 400
    form: BookingChoiceForm | None = None
    if patient is not None:
        # The panel is redrawn by htmx as the patient is chosen: that partial is the first
        # sight of the patient here, so it is noted too (a repeat within minutes is not).
        record_viewed(
            request, patient=patient, what="booking", ref=f"patient:{patient.pk}", partials=True
        )
        options = staff_booking_options(patient=patient)
        context.update(patient=patient, options=options)
        if posting:
            form = BookSlotForm(request.POST, options=options)
        else:
            query = _book_query(request.GET, options)
            form = BookingChoiceForm(
                query if query["day"] else None,
                options=options,
                initial={"option": query["option"], "minutes": query["minutes"]},
            )
        context["form"] = form
        context["book_form"] = BookSlotForm(
            options=options,
            initial={
                "payer": patient.payer,
                "preauthorisation_code": patient.preauthorisation_code,
            },
        )
    if form is not None and form.is_bound:
        form.is_valid()
        choice = form.cleaned_data.get("booking_option")
        day = form.cleaned_data.get("day")
        minutes = form.cleaned_data.get("minutes")
        if patient is None or choice is None or day is None or minutes is None:
            status = 400
        else:
            context.update(choice=choice, day=day, minutes=minutes)
            if posting:
                if form.is_valid():
                    try:
                        appointment = _book(request, patient, choice, minutes, form.cleaned_data)
                    except DomainError as error:
                        context["error"] = error.message
                        status = 409 if error.code == "conflict" else 400
                    else:
                        return redirect(_diary_url(local_date(appointment.start)))
                else:
                    status = 400
                    context["book_form"] = form
            slots = free_slots(
                treatment=choice.treatment,
                minutes=minutes,
                first_day=day,
                last_day=day,
                patient=patient,
                course=choice.course,
                window=None,  # staff: no minimum notice, no horizon
            ).get(day, [])
            context["slots"] = _slot_views(slots)
    template = BOOK_PANEL_TEMPLATE if getattr(request, "htmx", False) else BOOK_TEMPLATE
    return render(request, template, context, status=status)


def _appointment_or_404(pk: int) -> Appointment:
    try:
        return Appointment.objects.select_related(
            "patient__user",
            "treatment",
            "consultant__user",
            "nurse__user",
            "room__location",
            "session_record__course",
        ).get(pk=pk)
    except Appointment.DoesNotExist as exc:
        raise Http404("No such appointment.") from exc


def _late_note(appointment: Appointment) -> str:
    if not appointment.late_change:
        return ""
    return (
        f" It was less than {settings.PATIENT_CHANGE_CUTOFF_HOURS} hours ahead, so it is "
        "marked as a late change."
    )


@diary_staff_required
@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a booked appointment: pick a day, see its free times (its own time left out of
    the busy times), choose one. Staff may move it at any time; a session keeps its gap."""
    appointment = _appointment_or_404(pk)
    record_viewed(
        request,
        patient=appointment.patient_id,
        what="appointment (to move)",
        ref=f"appointment:{pk}",
    )
    session = selectors.session_of(appointment)
    status = 200
    error = ""
    shown_day = max(local_date(appointment.start), timezone.localdate())
    if request.method == "POST":
        slot_form = SlotForm(request.POST)
        if slot_form.is_valid():
            start = slot_form.cleaned_data["start"]
            shown_day = local_date(start)
            try:
                moved = appointment_reschedule(
                    appointment=appointment, start=start, by_staff=_acting_staff(request)
                )
            except DomainError as exc:
                error = exc.message
                state_conflict = appointment.status != Status.BOOKED
                status = 409 if exc.code == "conflict" or state_conflict else 400
            else:
                when = timezone.localtime(moved.start)
                messages.success(
                    request,
                    f"{moved.patient.full_name}'s {moved.treatment.name.lower()} moved to "
                    f"{when:%A} {when.day} {when:%B at %H:%M}.{_late_note(moved)}",
                )
                return redirect(_diary_url(when.date()))
        else:
            error = " ".join(str(e) for e in slot_form.errors.get("start", [])) or (
                "Choose one of the free times."
            )
            status = 400
        # Show the free times of the day that was tried again, with the reason.
        day_form = DayForm({"day": shown_day})
    else:
        day_form = DayForm(request.GET if request.GET.get("day") else {"day": shown_day})
        if not day_form.is_valid():
            status = 400
    slots: list[SlotView] = []
    day = day_form.cleaned_data["day"] if day_form.is_valid() else None
    if day is not None and appointment.status == Status.BOOKED:
        found = free_slots(
            treatment=appointment.treatment,
            minutes=appointment.minutes,
            first_day=day,
            last_day=day,
            patient=appointment.patient,
            window=None,
            ignore_appointment_id=appointment.pk,
        ).get(day, [])
        if session is not None:  # a session stays with its course's consultant
            found = [s for s in found if s.consultant_id == session.course.consultant_id]
        slots = _slot_views([s for s in found if s.start != appointment.start])
    context = {
        "appointment": appointment,
        "session": session,
        "day_form": day_form,
        "day": day,
        "slots": slots,
        "error": error,
        "late": _inside_cutoff(appointment),
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
    }
    return render(request, "bookings/reschedule.html", context, status=status)


@diary_staff_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel on the patient's behalf, with the reason. The time is free at once and the
    waiting list is offered it; inside the patient cut-off it is flagged as late."""
    appointment = _appointment_or_404(pk)
    record_viewed(
        request,
        patient=appointment.patient_id,
        what="appointment (to cancel)",
        ref=f"appointment:{pk}",
    )
    form = CancelForm(request.POST or None)
    status = 200
    error = ""
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                cancelled = appointment_cancel(
                    appointment=appointment,
                    by_staff=_acting_staff(request),
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                error = exc.message
                status = 409
            else:
                start = timezone.localtime(cancelled.start)
                messages.success(
                    request,
                    f"{cancelled.patient.full_name}'s {cancelled.treatment.name.lower()} on "
                    f"{start:%A} {start.day} {start:%B at %H:%M} is cancelled; the time is free "
                    "again."
                    f"{_late_note(cancelled)}",
                )
                return redirect(_diary_url(start.date()))
    context = {
        "appointment": appointment,
        "session": selectors.session_of(appointment),
        "form": form,
        "error": error,
        "late": _inside_cutoff(appointment),
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
    }
    return render(request, "bookings/cancel.html", context, status=status)


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
    record_viewed(
        request, patient=course.patient_id, what="session booking", ref=f"course:{course_id}"
    )
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

"""The patient's booking pages: choose what to book, a month of free days, the free times
of a day (htmx), confirm and book; their own appointments with change, cancel and a
calendar file each; a private calendar feed; the waiting list.

Every page but the feed is for patients only (staff get 403, visitors the login page) and
reads only the acting patient's records: someone else's appointment is a 404. The feed
has no login; its secret address is the key, and an unknown address is a 404.

The reads these pages need are the small ``*_for_patient`` functions at the top, each
scoped to the patient and with a fixed number of queries.
"""

from __future__ import annotations

import calendar as month_calendar
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from clinic.errors import DomainError
from clinic.models import Location, Room, StaffMember
from clinic.permissions import patient_required
from patients.models import Patient
from patients.selectors import patient_for_user
from treatments.models import Course, SessionRecord, Treatment

from . import ics
from .availability import BookingWindow, Slot
from .emails import email_after_commit
from .feeds import calendar_feed_by_token, calendar_feed_for, calendar_feed_reset
from .forms_patient import (
    DAY_HELP,
    MONTH_HELP,
    CancelForm,
    ConfirmForm,
    RescheduleForm,
    SlotForm,
    WaitingListForm,
    format_instant,
    parse_day,
    parse_month,
)
from .models import Appointment, WaitingListEntry
from .selectors import BookingOption, booking_option_for, booking_options, session_of
from .services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    price_for,
    waiting_list_join,
)
from .slot_cache import free_counts, free_slots

logger = logging.getLogger(__name__)

Status = Appointment.Status

# What a patient's calendar feed shows, and how far back.
FEED_STATUSES = [Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED, Status.CANCELLED]
FEED_DAYS_BACK = 90

# A key is a treatment's slug, with ":<course id>" for a session of a planned course.
KEY_PATTERN = re.compile(r"(?P<slug>[-a-zA-Z0-9_]{1,60})(?::(?P<course>[0-9]{1,18}))?", re.ASCII)

INSURANCE_NOTE = (
    "Insurers rarely pay for thread-vein treatment, because most of them class it as "
    "cosmetic. Please check with your insurer before you book: if they agree to pay, they "
    "will give you a pre-authorisation code, which we need at booking. If they do not, you "
    "can still book and pay for yourself."
)


# --- reads, scoped to the acting patient --------------------------------------------------


def _acting_patient(request: HttpRequest) -> Patient:
    patient = patient_for_user(user=request.user)
    if patient is None:
        # The Patient role without a patient record: nothing of theirs to show.
        raise PermissionDenied("There is no patient record for this account.")
    return patient


def booking_option_for_key(*, patient: Patient, key: str) -> BookingOption:
    """What the patient may book under a key (``slug`` or ``slug:course``), with the
    clinic's rules applied; an unknown key, or a course of someone else, is a 404."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        raise Http404("No such treatment.")
    treatment = Treatment.objects.filter(
        slug=match["slug"], is_active=True, bookable_online=True
    ).first()
    if treatment is None:
        raise Http404("No such treatment.")
    course = None
    if match["course"]:
        course = Course.objects.filter(
            pk=int(match["course"]), patient=patient, treatment=treatment
        ).first()
        if course is None:
            raise Http404("No such course.")
    return booking_option_for(patient=patient, treatment=treatment, course=course)


def _with_history_count(queryset):
    history = (
        Appointment.history.model.objects.filter(id=OuterRef("pk"))  # type: ignore[attr-defined]
        .order_by()
        .values("id")
        .annotate(n=Count("history_id"))
        .values("n")
    )
    return queryset.annotate(history_count=Subquery(history, output_field=IntegerField()))


def _patient_appointments_qs(patient: Patient):
    return Appointment.objects.filter(patient=patient).select_related(
        "treatment",
        "room__location",
        "consultant__user",
        "session_record__course",
    )


@dataclass
class AppointmentLine:
    appointment: Appointment
    session: SessionRecord | None
    can_change: bool

    @property
    def is_upcoming(self) -> bool:
        return self.appointment.end >= timezone.now() and self.appointment.status in (
            Status.BOOKED,
            Status.CHECKED_IN,
        )


def _can_change(appointment: Appointment, now: datetime) -> bool:
    """Booked, and still further away than the cut-off for changes online."""
    return appointment.status == Status.BOOKED and appointment.start - now >= timedelta(
        hours=settings.PATIENT_CHANGE_CUTOFF_HOURS
    )


def _line(appointment: Appointment, now: datetime) -> AppointmentLine:
    return AppointmentLine(appointment, session_of(appointment), _can_change(appointment, now))


def appointments_for_patient(
    *, patient: Patient
) -> tuple[list[AppointmentLine], list[AppointmentLine]]:
    """The patient's appointments: upcoming (soonest first) and the rest (latest first)."""
    now = timezone.now()
    lines = [_line(a, now) for a in _patient_appointments_qs(patient).order_by("start", "pk")]
    upcoming = [line for line in lines if line.is_upcoming]
    past = [line for line in reversed(lines) if not line.is_upcoming]
    return upcoming, past


def appointment_for_patient(*, patient: Patient, pk: int) -> AppointmentLine:
    """One of the patient's own appointments (raises Http404 for anyone else's)."""
    appointment = _patient_appointments_qs(patient).filter(pk=pk).first()
    if appointment is None:
        raise Http404("No such appointment.")
    return _line(appointment, timezone.now())


def feed_appointments_for_patient(*, patient: Patient) -> list[Appointment]:
    """What a patient's calendar feed holds: from 90 days back, cancelled ones too."""
    since = timezone.now() - timedelta(days=FEED_DAYS_BACK)
    return list(
        _with_history_count(
            _patient_appointments_qs(patient).filter(start__gte=since, status__in=FEED_STATUSES)
        ).order_by("start", "pk")
    )


def open_waiting_entries_for_patient(*, patient: Patient) -> list[WaitingListEntry]:
    return list(
        WaitingListEntry.objects.filter(
            patient=patient,
            status__in=[WaitingListEntry.Status.WAITING, WaitingListEntry.Status.OFFERED],
        )
        .select_related("treatment")
        .order_by("earliest_date", "pk")
    )


# --- small helpers ------------------------------------------------------------------------


class BadRequest(Exception):
    """A request we cannot read; the message says what to send instead."""


def _problem(
    request: HttpRequest,
    message: str,
    *,
    status: int,
    title: str = "We could not show that page",
    back_url: str = "",
    back_label: str = "",
) -> HttpResponse:
    return render(
        request,
        "bookings/patient/problem.html",
        {
            "title": title,
            "message": message,
            "back_url": back_url or reverse("booking:start"),
            "back_label": back_label or "Back to booking",
        },
        status=status,
    )


def _form_message(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _lengths(treatment: Treatment) -> list[int]:
    return sorted(set(treatment.session_lengths or [30]))


def _minutes(request: HttpRequest, treatment: Treatment) -> int:
    lengths = _lengths(treatment)
    raw = request.GET.get("minutes")
    if raw in (None, ""):
        return lengths[0]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3 or int(raw) not in lengths:
        offered = " or ".join(str(n) for n in lengths)
        raise BadRequest(f"{treatment.name} is booked for {offered} minutes.")
    return int(raw)


def _local_day(instant: datetime) -> date:
    return timezone.localtime(instant).date()


def _first_allowed_day(option: BookingOption, window: BookingWindow) -> date:
    first = max(timezone.localdate(), _local_day(window.earliest))
    if option.earliest_day is not None:
        first = max(first, option.earliest_day)
    return first


def _month_end(first: date) -> date:
    return first.replace(day=month_calendar.monthrange(first.year, first.month)[1])


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_from(request: HttpRequest, default: date, lowest: date, highest: date) -> date:
    raw = request.GET.get("month")
    if raw in (None, ""):
        return default
    try:
        month = parse_month(raw)
    except ValueError as exc:
        raise BadRequest(MONTH_HELP) from exc
    if not lowest <= month <= highest:
        raise BadRequest(
            f"We can show free times from {lowest:%B %Y} to {highest:%B %Y}. "
            "Please choose a month in between."
        )
    return month


def _with_query(url: str, **params: Any) -> str:
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{url}?{urlencode(params)}" if params else url


@dataclass
class DayCell:
    day: date
    in_month: bool
    free: int = 0
    url: str = ""

    # The cell's words, made here once rather than by template filters for every cell of
    # the month: the month page is the busiest page of the booking flow.
    @property
    def iso(self) -> str:
        return self.day.isoformat()

    @property
    def label(self) -> str:
        times = "time" if self.free == 1 else "times"
        return f"{self.day:%A} {self.day.day} {self.day:%B}: {self.free} free {times}"

    @property
    def nothing_free(self) -> str:
        return f"{self.day.day} {self.day:%B}: nothing free"


WEEKDAY_NAMES = [
    (day[:3], day)
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
]


@dataclass
class MonthView:
    month: date
    weeks: list[list[DayCell]]
    previous_url: str = ""
    next_url: str = ""
    free_days: int = 0
    weekday_names: list[tuple[str, str]] = field(default_factory=lambda: WEEKDAY_NAMES)


@dataclass
class SlotChoice:
    start: datetime
    value: str  # the start as it travels in links and forms
    url: str = ""


@dataclass
class DayView:
    day: date
    slots: list[SlotChoice] = field(default_factory=list)
    first_allowed: date | None = None
    last_allowed: date | None = None


def _month_view(
    month: date,
    counts: dict[date, int],
    *,
    day_url,
    month_url,
    lowest: date,
    highest: date,
) -> MonthView:
    weeks = []
    for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            cell = DayCell(day=day, in_month=day.month == month.month)
            if cell.in_month and counts.get(day):
                cell.free = counts[day]
                cell.url = day_url(day)
            row.append(cell)
        weeks.append(row)
    previous, following = _add_months(month, -1), _add_months(month, 1)
    return MonthView(
        month=month,
        weeks=weeks,
        previous_url=month_url(previous) if previous >= lowest else "",
        next_url=month_url(following) if following <= highest else "",
        free_days=sum(1 for day, free in counts.items() if free and day.month == month.month),
    )


# --- choosing what to book ----------------------------------------------------------------


def _start_page(
    request: HttpRequest, patient: Patient, *, status: int = 200, **extra: Any
) -> HttpResponse:
    options = booking_options(patient=patient)
    context = {
        "patient": patient,
        "options": options,
        "allowed": [o for o in options if o.allowed],
        "refused": [o for o in options if not o.allowed],
        "waiting": open_waiting_entries_for_patient(patient=patient),
        "is_insured": patient.payer == Patient.Payer.INSURED,
        "insurance_note": INSURANCE_NOTE,
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
        **extra,
    }
    return render(request, "bookings/patient/start.html", context, status=status)


@patient_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    return _start_page(request, _acting_patient(request))


# --- the calendar: a month of free days, then the free times of a day ---------------------


def _not_allowed(request: HttpRequest, option: BookingOption) -> HttpResponse:
    return _problem(
        request,
        option.reason or f"{option.treatment.name} cannot be booked online at the moment.",
        status=409,
        title=f"{option.treatment.name} cannot be booked just now",
    )


def _calendar_urls(option: BookingOption, minutes: int, lengths: list[int]):
    calendar_url = reverse("booking:calendar", args=[option.key])
    shown_minutes = minutes if len(lengths) > 1 else None

    # Each address is reversed once and the day filled in: a month has 30 days and a day
    # 30 times or more, and reversing is the dearer part.
    placeholder = "2000-01-01"
    # The day is the address's last part (a treatment's slug could look like a date).
    day_head, day_tail = reverse("booking:day", args=[option.key, placeholder]).rsplit(
        placeholder, 1
    )
    confirm_base = reverse("booking:confirm", args=[option.key])

    def day_url(day: date) -> str:
        return _with_query(f"{day_head}{day.isoformat()}{day_tail}", minutes=shown_minutes)

    def month_url(month: date) -> str:
        return _with_query(calendar_url, month=f"{month:%Y-%m}", minutes=shown_minutes)

    def confirm_url(slot: Slot) -> str:
        return _with_query(confirm_base, start=format_instant(slot.start), minutes=minutes)

    return day_url, month_url, confirm_url


@patient_required
@require_GET
def calendar(request: HttpRequest, key: str) -> HttpResponse:
    patient = _acting_patient(request)
    option = booking_option_for_key(patient=patient, key=key)
    if not option.allowed:
        return _not_allowed(request, option)
    treatment = option.treatment
    window = BookingWindow()
    first_allowed = _first_allowed_day(option, window)
    last_allowed = _local_day(window.latest)
    lowest, highest = first_allowed.replace(day=1), last_allowed.replace(day=1)
    try:
        minutes = _minutes(request, treatment)
        month = _month_from(request, lowest, lowest, highest)
    except BadRequest as error:
        return _problem(
            request,
            str(error),
            status=400,
            back_url=reverse("booking:calendar", args=[option.key]),
            back_label="Back to the calendar",
        )
    lengths = _lengths(treatment)
    day_url, month_url, _ = _calendar_urls(option, minutes, lengths)
    counts = (
        free_counts(
            treatment=treatment,
            minutes=minutes,
            first_day=max(month, first_allowed),
            last_day=_month_end(month),
            patient=patient,
            course=option.course,
            window=window,
        )
        if first_allowed <= last_allowed
        else {}
    )
    view = _month_view(
        month, counts, day_url=day_url, month_url=month_url, lowest=lowest, highest=highest
    )
    length_links = [
        (
            n,
            _with_query(
                reverse("booking:calendar", args=[option.key]), month=f"{month:%Y-%m}", minutes=n
            ),
        )
        for n in lengths
    ]
    waiting_form = WaitingListForm(
        initial={
            "key": option.key,
            "earliest_date": first_allowed,
            "latest_date": min(first_allowed + timedelta(days=28), last_allowed),
        }
    )
    return render(
        request,
        "bookings/patient/calendar.html",
        {
            "option": option,
            "treatment": treatment,
            "minutes": minutes,
            "length_links": length_links if len(lengths) > 1 else [],
            "month_view": view,
            "first_allowed": first_allowed,
            "last_allowed": last_allowed,
            "waiting_form": waiting_form,
            "is_insured": patient.payer == Patient.Payer.INSURED,
            "insurance_note": INSURANCE_NOTE,
        },
    )


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _vary_on_htmx(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


@patient_required
@require_GET
def day(request: HttpRequest, key: str, day: str) -> HttpResponse:
    patient = _acting_patient(request)
    option = booking_option_for_key(patient=patient, key=key)
    if not option.allowed:
        return _not_allowed(request, option)
    treatment = option.treatment
    try:
        minutes = _minutes(request, treatment)
        try:
            the_day = parse_day(day)
        except ValueError as exc:
            raise BadRequest(DAY_HELP) from exc
    except BadRequest as error:
        return _vary_on_htmx(
            _problem(
                request,
                str(error),
                status=400,
                back_url=reverse("booking:calendar", args=[option.key]),
                back_label="Back to the calendar",
            )
        )
    window = BookingWindow()
    _, _, confirm_url = _calendar_urls(option, minutes, _lengths(treatment))
    found = free_slots(
        treatment=treatment,
        minutes=minutes,
        first_day=the_day,
        last_day=the_day,
        patient=patient,
        course=option.course,
        window=window,
    ).get(the_day, [])
    view = DayView(
        day=the_day,
        slots=[SlotChoice(s.start, format_instant(s.start), confirm_url(s)) for s in found],
        first_allowed=_first_allowed_day(option, window),
        last_allowed=_local_day(window.latest),
    )
    context = {
        "option": option,
        "treatment": treatment,
        "minutes": minutes,
        "day_view": view,
        "mode": "book",
        "calendar_url": _with_query(
            reverse("booking:calendar", args=[option.key]),
            month=f"{the_day:%Y-%m}",
            minutes=minutes if len(_lengths(treatment)) > 1 else None,
        ),
    }
    template = "bookings/patient/_day.html" if _htmx(request) else "bookings/patient/day.html"
    return _vary_on_htmx(render(request, template, context))


# --- confirm and book ---------------------------------------------------------------------


@dataclass
class Offer:
    """The time being confirmed, with who and where (as the slot search found them)."""

    start: datetime
    minutes: int
    slot: Slot | None
    consultant: StaffMember | None = None
    room: Room | None = None
    location: Location | None = None
    price: Any = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


def _offer(patient: Patient, option: BookingOption, start: datetime, minutes: int) -> Offer:
    """Whether the time is (still) free for the patient, and the team and price for it."""
    the_day = _local_day(start)
    found = free_slots(
        treatment=option.treatment,
        minutes=minutes,
        first_day=the_day,
        last_day=the_day,
        patient=patient,
        course=option.course,
        window=BookingWindow(),
    ).get(the_day, [])
    slot = next((s for s in found if s.start == start), None)
    offer = Offer(start=start, minutes=minutes, slot=slot)
    if slot is not None:
        offer.consultant = StaffMember.objects.select_related("user").get(pk=slot.consultant_id)
        offer.room = Room.objects.select_related("location").get(pk=slot.room_id)
        offer.location = offer.room.location
        offer.price = price_for(treatment=option.treatment, minutes=minutes, on=the_day)
    return offer


def _calendar_url_for(option: BookingOption, when: datetime | None = None) -> str:
    url = reverse("booking:calendar", args=[option.key])
    return _with_query(url, month=f"{timezone.localtime(when):%Y-%m}") if when else url


def _time_gone(request: HttpRequest, option: BookingOption, message: str, when: datetime):
    return _problem(
        request,
        message,
        status=409,
        title="That time is no longer free",
        back_url=_calendar_url_for(option, when),
        back_label="Choose another time",
    )


def _confirm_page(
    request: HttpRequest,
    patient: Patient,
    option: BookingOption,
    start: datetime,
    minutes: int,
    form: forms.Form,
    *,
    status: int = 200,
    offer: Offer | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "option": option,
        "treatment": option.treatment,
        "patient": patient,
        "is_insured": patient.payer == Patient.Payer.INSURED,
        "insurance_note": INSURANCE_NOTE,
        "calendar_url": _calendar_url_for(option, start),
        "is_session": option.treatment.is_treatment,
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
        "offer": offer or _offer(patient, option, start, minutes),
        "form": form,
    }
    return render(request, "bookings/patient/confirm.html", context, status=status)


@patient_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, key: str) -> HttpResponse:
    patient = _acting_patient(request)
    option = booking_option_for_key(patient=patient, key=key)
    if not option.allowed:
        return _not_allowed(request, option)
    treatment = option.treatment
    lengths = _lengths(treatment)
    data = request.POST if request.method == "POST" else request.GET
    chosen = SlotForm(data, lengths=lengths)
    if not chosen.is_valid():
        message = _form_message(chosen)
        return _problem(
            request,
            message,
            status=400,
            back_url=_calendar_url_for(option),
            back_label="Back to the calendar",
        )
    start, minutes = chosen.cleaned_data["start"], chosen.cleaned_data["minutes"]
    if request.method == "GET":
        offer = _offer(patient, option, start, minutes)
        if offer.slot is None:
            return _time_gone(
                request,
                option,
                "Sorry, that time is no longer free, or it is not one you can book. "
                "Please choose another time from the calendar.",
                start,
            )
        form = ConfirmForm(
            lengths=lengths,
            initial={
                "start": format_instant(start),
                "minutes": minutes,
                "payer": patient.payer,
                "preauthorisation_code": patient.preauthorisation_code,
            },
        )
        return _confirm_page(request, patient, option, start, minutes, form, offer=offer)

    form = ConfirmForm(request.POST, lengths=lengths)
    if form.is_valid():
        try:
            # The rules were worked out above for this page: the service takes them as they
            # are (it works them out itself when called without). It commits on its own;
            # the email is handed over once it has.
            appointment = appointment_book(
                patient=patient,
                treatment=treatment,
                start=start,
                minutes=minutes,
                course=option.course,
                payer=form.cleaned_data["payer"],
                preauthorisation_code=form.cleaned_data["preauthorisation_code"],
                music_request=form.cleaned_data["music_request"],
                option=option,
            )
        except DomainError as error:
            if error.code == "conflict":
                return _time_gone(request, option, error.message, start)
            form.add_error(None, error.message)
        else:
            page = reverse("booking:appointment", args=[appointment.pk])
            email_after_commit(appointment.pk, request.build_absolute_uri(page), kind="booked")
            when = timezone.localtime(appointment.start)
            messages.success(
                request,
                f"Thank you: your {treatment.name.lower()} is booked for {when:%A} {when.day} "
                f"{when:%B at %H:%M}. We have emailed you the details.",
            )
            return redirect(page)
    return _confirm_page(request, patient, option, start, minutes, form, status=400)


# --- the patient's appointments ---------------------------------------------------------


@patient_required
@require_GET
def appointments(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    upcoming, past = appointments_for_patient(patient=patient)
    return render(
        request,
        "bookings/patient/appointments.html",
        {
            "upcoming": upcoming,
            "past": past,
            "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
        },
    )


def _appointment_page(
    request: HttpRequest,
    line: AppointmentLine,
    *,
    status: int = 200,
    cancel_form: CancelForm | None = None,
    error: str = "",
) -> HttpResponse:
    return render(
        request,
        "bookings/patient/appointment.html",
        {
            "line": line,
            "appointment": line.appointment,
            "cancel_form": cancel_form or CancelForm(),
            "error": error,
            "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
        },
        status=status,
    )


@patient_required
@require_GET
def appointment(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _acting_patient(request)
    return _appointment_page(request, appointment_for_patient(patient=patient, pk=pk))


def _refusal_status(error: DomainError, appointment: Appointment) -> int:
    """409 when the diary changed under the patient (the time went, or the appointment is
    no longer booked); 400 for a rule the request broke (cut-off, gap, notice)."""
    if error.code == "conflict" or appointment.status != Status.BOOKED:
        return 409
    return 400


@patient_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _acting_patient(request)
    line = appointment_for_patient(patient=patient, pk=pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _appointment_page(request, line, status=400, cancel_form=form)
    try:
        with transaction.atomic():
            cancelled = appointment_cancel(
                appointment=line.appointment, reason=form.cleaned_data["reason"]
            )
            link = request.build_absolute_uri(reverse("booking:appointment", args=[pk]))
            email_after_commit(pk, link, kind="cancelled")
    except DomainError as error:
        return _appointment_page(
            request,
            line,
            status=_refusal_status(error, line.appointment),
            cancel_form=form,
            error=error.message,
        )
    when = timezone.localtime(cancelled.start)
    messages.success(
        request,
        f"Your appointment on {when:%A} {when.day} {when:%B at %H:%M} is cancelled. "
        "You can book a new time whenever you are ready.",
    )
    return redirect("booking:appointments")


@dataclass
class RescheduleLimits:
    """For a course session: the days the gap to its neighbours allows, and its consultant."""

    earliest: date | None = None
    latest: date | None = None
    consultant_id: int | None = None
    note: str = ""


def reschedule_limits_for(appointment: Appointment) -> RescheduleLimits:
    """The gap rule for moving a course session, against the sessions on both sides
    (the same rule the reschedule service checks), so that the calendar offers no day
    the service would refuse."""
    session = session_of(appointment)
    if session is None:
        return RescheduleLimits()
    course = session.course
    gap = timedelta(days=course.min_gap_days)
    others = (
        SessionRecord.objects.filter(course=course)
        .exclude(pk=session.pk)
        .exclude(status=SessionRecord.Status.ABANDONED)
        .select_related("appointment")
    )
    limits = RescheduleLimits(consultant_id=course.consultant_id)
    notes = []
    for other in others:
        other_day = _local_day(other.appointment.start)
        if other.number < session.number:
            earliest = other_day + gap
            if limits.earliest is None or earliest > limits.earliest:
                limits.earliest = earliest
        elif other.number > session.number:
            latest = other_day - gap
            if limits.latest is None or latest < limits.latest:
                limits.latest = latest
    if limits.earliest and limits.earliest > timezone.localdate():
        notes.append(f"from {limits.earliest:%A} {limits.earliest.day} {limits.earliest:%B %Y}")
    if limits.latest:
        notes.append(f"until {limits.latest:%A} {limits.latest.day} {limits.latest:%B %Y}")
    if notes:
        limits.note = (
            f"Sessions of your course need at least {course.min_gap_days} days between them, "
            f"so session {session.number} can move to a day " + " and ".join(notes) + "."
        )
    return limits


def _reschedule_page(
    request: HttpRequest,
    line: AppointmentLine,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    appointment = line.appointment
    reschedule_url = reverse("booking:reschedule", args=[appointment.pk])
    window = BookingWindow()
    limits = reschedule_limits_for(appointment)
    first_allowed = max(timezone.localdate(), _local_day(window.earliest))
    last_allowed = _local_day(window.latest)
    if limits.earliest:
        first_allowed = max(first_allowed, limits.earliest)
    if limits.latest:
        last_allowed = min(last_allowed, limits.latest)
    context: dict[str, Any] = {
        "line": line,
        "appointment": appointment,
        "limits": limits,
        "error": error,
        "mode": "reschedule",
        "reschedule_url": reschedule_url,
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
    }
    if not line.can_change or first_allowed > last_allowed:
        context["nothing_to_offer"] = first_allowed > last_allowed
        return render(request, "bookings/patient/reschedule.html", context, status=status)

    def search(first: date, last: date) -> dict[date, list[Slot]]:
        return free_slots(
            treatment=appointment.treatment,
            minutes=appointment.minutes,
            first_day=max(first, first_allowed),
            last_day=min(last, last_allowed),
            patient=appointment.patient,
            window=window,
            ignore_appointment_id=appointment.pk,
            # A session stays with its course's consultant.
            consultant_id=limits.consultant_id,
        )

    lowest, highest = first_allowed.replace(day=1), last_allowed.replace(day=1)
    current_month = _local_day(appointment.start).replace(day=1)
    default = min(max(current_month, lowest), highest)
    try:
        month = _month_from(request, default, lowest, highest)
        raw_day = request.GET.get("day")
        try:
            the_day = parse_day(raw_day) if raw_day else None
        except ValueError as exc:
            raise BadRequest(DAY_HELP) from exc
    except BadRequest as problem:
        return _problem(
            request,
            str(problem),
            status=400,
            back_url=reschedule_url,
            back_label="Back to choosing a new time",
        )
    day_view = None
    if the_day is not None:
        found = search(the_day, the_day).get(the_day, [])
        day_view = DayView(
            day=the_day,
            slots=[SlotChoice(s.start, format_instant(s.start)) for s in found],
            first_allowed=first_allowed,
            last_allowed=last_allowed,
        )
        if _htmx(request):
            return _vary_on_htmx(
                render(request, "bookings/patient/_day.html", {**context, "day_view": day_view})
            )
    month_view = _month_view(
        month,
        {day: len(slots) for day, slots in search(month, _month_end(month)).items()},
        day_url=lambda d: _with_query(reschedule_url, day=d.isoformat()),
        month_url=lambda m: _with_query(reschedule_url, month=f"{m:%Y-%m}"),
        lowest=lowest,
        highest=highest,
    )
    context.update({"month_view": month_view, "day_view": day_view})
    return _vary_on_htmx(
        render(request, "bookings/patient/reschedule.html", context, status=status)
    )


@patient_required
@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _acting_patient(request)
    line = appointment_for_patient(patient=patient, pk=pk)
    if request.method == "GET":
        return _reschedule_page(request, line)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        message = _form_message(form)
        return _reschedule_page(request, line, status=400, error=message)
    try:
        with transaction.atomic():
            moved = appointment_reschedule(
                appointment=line.appointment, start=form.cleaned_data["start"]
            )
            link = request.build_absolute_uri(reverse("booking:appointment", args=[pk]))
            email_after_commit(pk, link, kind="moved")
    except DomainError as error:
        return _reschedule_page(
            request, line, status=_refusal_status(error, line.appointment), error=error.message
        )
    when = timezone.localtime(moved.start)
    messages.success(
        request,
        f"Done: your appointment is now on {when:%A} {when.day} {when:%B at %H:%M}. "
        "We have emailed you the new details.",
    )
    return redirect("booking:appointment", pk=pk)


def _ics_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@patient_required
@require_safe
def appointment_ics(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _acting_patient(request)
    line = appointment_for_patient(patient=patient, pk=pk)
    link = request.build_absolute_uri(reverse("booking:appointment", args=[pk]))
    return _ics_response(ics.appointment_ics(line.appointment, link=link), f"appointment-{pk}.ics")


# --- the private calendar feed ----------------------------------------------------------


@patient_required
@require_http_methods(["GET", "POST"])
def feed_settings(request: HttpRequest) -> HttpResponse:
    _acting_patient(request)
    if request.method == "POST":
        calendar_feed_reset(user=request.user)  # type: ignore[arg-type]
        messages.success(
            request,
            "Your calendar has a new private address. The old address no longer works: "
            "please subscribe again with the new one.",
        )
        return redirect("booking:feed_settings")
    feed = calendar_feed_for(user=request.user)  # type: ignore[arg-type]
    url = request.build_absolute_uri(reverse("booking:feed", args=[feed.token]))
    webcal = re.sub(r"^https?://", "webcal://", url)
    return render(
        request,
        "bookings/patient/feed_settings.html",
        {"feed": feed, "feed_url": url, "webcal_url": webcal, "days_back": FEED_DAYS_BACK},
    )


@require_safe
def feed(request: HttpRequest, token: str) -> HttpResponse:
    found = calendar_feed_by_token(token=token)
    patient = Patient.objects.filter(user=found.user).first() if found is not None else None
    if patient is None:
        raise Http404("No such calendar.")
    appointments = feed_appointments_for_patient(patient=patient)
    body = ics.feed_ics(
        appointments,
        name=f"{settings.CLINIC_NAME} appointments",
        link_for=lambda a: request.build_absolute_uri(reverse("booking:appointment", args=[a.pk])),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- the waiting list ---------------------------------------------------------------------


@patient_required
@require_POST
def waiting_list(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    form = WaitingListForm(request.POST)
    if not form.is_valid():
        return _start_page(request, patient, status=400, waiting_form=form)
    option = booking_option_for_key(patient=patient, key=form.cleaned_data["key"])
    if not option.allowed:
        return _not_allowed(request, option)
    try:
        entry = waiting_list_join(
            patient=patient,
            treatment=option.treatment,
            earliest_date=form.cleaned_data["earliest_date"],
            latest_date=form.cleaned_data["latest_date"],
            course=option.course,
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return _start_page(request, patient, status=400, waiting_form=form)
    messages.success(
        request,
        f"You are on the waiting list for {entry.treatment.name.lower()} between "
        f"{entry.earliest_date:%-d %B} and {entry.latest_date:%-d %B %Y}. If a time comes "
        "free, we will let you know.",
    )
    return redirect("booking:start")

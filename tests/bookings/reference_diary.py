"""A plain reading of the clinic's diary, for the slot search tests to check against.

Every row is read as it is and every rule is asked one at a time, by looking at all the
rows: none of the shortcuts of ``bookings/availability.py`` (no integer instants, no merged
intervals, no masks, no per-day rota, no hand-written SQL). Both
``test_availability_scale.py`` and ``test_availability_properties.py`` build their expected
slots on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from bookings.availability import local_instant
from bookings.models import Appointment
from clinic.models import Closure, OpeningHours, StaffException, WorkingPattern


def overlap(a: datetime, b: datetime, c: datetime, d: datetime) -> bool:
    """[a, b) and [c, d) share an instant."""
    return a < d and c < b


@dataclass
class ReferenceDiary:
    zone: ZoneInfo
    hours: list[OpeningHours]
    closures: set[tuple[int | None, date]]
    patterns: list[WorkingPattern]
    exceptions: list[StaffException]
    held: list[tuple[Appointment, timedelta]]  # appointments that hold time, with buffers

    @classmethod
    def read(cls, *, ignore_appointment_id: int | None = None) -> ReferenceDiary:
        """Everything as it stands; ``ignore_appointment_id`` is the appointment being moved
        (it holds nothing)."""
        return cls(
            zone=ZoneInfo(settings.CLINIC_TIME_ZONE),
            hours=list(OpeningHours.objects.all()),
            closures={(c.location_id, c.date) for c in Closure.objects.all()},
            patterns=list(WorkingPattern.objects.all()),
            exceptions=list(StaffException.objects.all()),
            held=[
                (a, timedelta(minutes=a.treatment.buffer_minutes))
                for a in Appointment.objects.exclude(
                    status=Appointment.Status.CANCELLED
                ).select_related("treatment")
                if a.pk != ignore_appointment_id
            ],
        )

    def is_closed(self, location_id: int, day: date) -> bool:
        return (location_id, day) in self.closures or (None, day) in self.closures

    def spans_on(self, location_id: int, weekday: int) -> set[tuple[time, time]]:
        """The location's opening hours on that weekday (equal rows count once)."""
        return {
            (h.opens, h.closes)
            for h in self.hours
            if h.location_id == location_id and h.weekday == weekday
        }

    def at_work(self, staff_id: int, location_id: int, start: datetime, end: datetime) -> bool:
        """At work at the location from ``start`` to ``end`` without a break: patterns of
        that day and extra clinics there, joined where they touch."""
        day = start.astimezone(self.zone).date()
        spans = [
            (e.starts_at, e.ends_at)
            for e in self.exceptions
            if e.staff_id == staff_id
            and e.kind == StaffException.Kind.EXTRA
            and e.location_id == location_id
        ]
        for p in self.patterns:
            if (
                p.staff_id == staff_id
                and p.location_id == location_id
                and p.weekday == day.weekday()
                and p.valid_from <= day
                and (p.valid_until is None or day <= p.valid_until)
            ):
                begins, ends = (local_instant(day, t, self.zone) for t in (p.starts, p.ends))
                if begins is not None and ends is not None:
                    spans.append((begins, ends))
        reached = start  # walk along spans that join up until the end is covered
        for begins, ends in sorted(spans):
            if begins <= reached < ends:
                reached = ends
        return reached >= end

    def on_leave(self, staff_id: int, start: datetime, end: datetime) -> bool:
        return any(
            e.staff_id == staff_id
            and e.kind == StaffException.Kind.LEAVE
            and overlap(start, end, e.starts_at, e.ends_at)
            for e in self.exceptions
        )

    def busy(
        self, kind: str, pk: int, start: datetime, until: datetime, *, buffers: bool = True
    ) -> bool:
        """Another appointment holds this member of staff, room or patient between
        ``start`` and ``until``: up to the end of its buffer, or without ``buffers`` up to
        its end."""
        for a, buffer in self.held:
            holds = {
                "staff": pk in (a.consultant_id, a.nurse_id),
                "room": pk == a.room_id,
                "patient": pk == a.patient_id,
            }[kind]
            if holds and overlap(start, until, a.start, a.end + buffer if buffers else a.end):
                return True
        return False

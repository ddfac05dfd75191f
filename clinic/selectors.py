"""Reads for the public site: where the clinic is, how to reach it and when it is open.

Each read runs a fixed number of queries, however many locations, hours or closures there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from django.db.models import Prefetch, Q

from .models import Closure, Location, OpeningHours, Weekday

# How far ahead the contact page lists days the clinic is closed.
CLOSURES_AHEAD_DAYS = 90


@dataclass(frozen=True)
class OpeningPeriod:
    opens: time
    closes: time


@dataclass(frozen=True)
class DayHours:
    weekday: int
    name: str
    periods: list[OpeningPeriod]

    @property
    def is_closed(self) -> bool:
        return not self.periods


@dataclass
class LocationContact:
    """One clinic location as the contact page shows it."""

    location: Location
    days: list[DayHours]
    closures: list[Closure] = field(default_factory=list)

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.location.address.splitlines() if line.strip()]

    @property
    def phone_href(self) -> str:
        return phone_href(self.location.phone)

    @property
    def has_hours(self) -> bool:
        return any(day.periods for day in self.days)


def phone_href(phone: str) -> str:
    """A ``tel:`` address for a number as people write it ("020 7946 0000")."""
    digits = re.sub(r"[^\d+]", "", phone or "")
    return f"tel:{digits}" if digits else ""


def contact_locations(*, on: date) -> list[LocationContact]:
    """Active locations, each with its week of opening hours (Monday first, closed days
    included) and the closures from ``on`` for the next few weeks, the clinic-wide ones
    included. Three queries."""
    locations = list(
        Location.objects.filter(is_active=True)
        .prefetch_related(
            Prefetch(
                "opening_hours",
                queryset=OpeningHours.objects.order_by("weekday", "opens"),
                to_attr="hours_in_order",
            )
        )
        .order_by("name")
    )
    if not locations:
        return []
    closures = list(
        Closure.objects.filter(
            Q(location__isnull=True) | Q(location__in=locations),
            date__gte=on,
            date__lte=on + timedelta(days=CLOSURES_AHEAD_DAYS),
        ).order_by("date")
    )
    contacts = []
    for location in locations:
        hours: list[OpeningHours] = location.hours_in_order  # type: ignore[attr-defined]
        days = [
            DayHours(
                weekday=weekday.value,
                name=weekday.label,
                periods=[
                    OpeningPeriod(row.opens, row.closes)
                    for row in hours
                    if row.weekday == weekday.value
                ],
            )
            for weekday in Weekday
        ]
        contacts.append(
            LocationContact(
                location=location,
                days=days,
                closures=[
                    c for c in closures if c.location_id is None or c.location_id == location.pk
                ],
            )
        )
    return contacts

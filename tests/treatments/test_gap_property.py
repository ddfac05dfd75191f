"""Property tests (hypothesis) of the gap rule: whatever the dates, the zone and the gap,
a session is accepted exactly when it falls at least the course's minimum gap after the
one before it, counted in the clinic's calendar days."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.errors import DomainError
from treatments import services

from ..factories import CourseFactory

LONDON = ZoneInfo("Europe/London")

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Each hypothesis example starts from the same empty diary."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
clock = st.times(min_value=time(7, 0), max_value=time(20, 0)).map(
    lambda t: t.replace(second=0, microsecond=0)
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first_day=days,
    first_time=clock,
    offset=st.integers(min_value=-10, max_value=70),
    second_time=clock,
    gap=st.integers(min_value=28, max_value=42),
)
def test_second_session_is_accepted_exactly_from_the_gap(
    schedule, first_day, first_time, offset, second_time, gap
):
    with rolled_back():
        _check_second_session(schedule, first_day, first_time, offset, second_time, gap)


def _check_second_session(schedule, first_day, first_time, offset, second_time, gap):
    course = CourseFactory(min_gap_days=gap, planned_sessions=4)
    first = datetime.combine(first_day, first_time, tzinfo=LONDON)
    second = datetime.combine(first_day + timedelta(days=offset), second_time, tzinfo=LONDON)
    schedule(course, first)
    if offset >= gap:
        session = schedule(course, second)
        assert session.number == 2
        assert services.earliest_next_session_date(course) == second.date() + timedelta(days=gap)
    else:
        with pytest.raises(DomainError) as refused:
            schedule(course, second)
        assert refused.value.code == "gap"
        earliest = first_day + timedelta(days=gap)
        assert f"{earliest:%-d %B %Y}" in refused.value.message


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    starts=st.lists(st.integers(min_value=0, max_value=400), min_size=2, max_size=4, unique=True),
    gap=st.integers(min_value=28, max_value=42),
)
def test_accepted_sessions_are_always_the_gap_apart(schedule, starts, gap):
    """Book in any order of attempts: whatever was accepted respects the gap pairwise."""
    with rolled_back():
        _check_pairwise(schedule, starts, gap)


def _check_pairwise(schedule, starts, gap):
    course = CourseFactory(min_gap_days=gap, planned_sessions=4)
    base = date(2026, 1, 5)
    for offset in starts:
        with suppress(DomainError):
            schedule(
                course, datetime.combine(base + timedelta(days=offset), time(10), tzinfo=LONDON)
            )
    accepted = sorted(
        s.appointment.start.astimezone(LONDON).date()
        for s in course.sessions.select_related("appointment")
    )
    assert accepted, "the first attempt always succeeds"
    for earlier, later in zip(accepted, accepted[1:], strict=False):
        assert (later - earlier).days >= gap

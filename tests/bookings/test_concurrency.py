"""No double booking under concurrency, on PostgreSQL.

Twenty threads, each with its own database connection, wait at a barrier and then book
at the same moment. Exactly one wins; every other gets the clear "that time was just
taken" refusal (a DomainError), never an unhandled database error. Each race runs ten
times. SQLite serialises writers and cannot hold the exclusion constraints, so these
tests run on PostgreSQL only.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, connections

from bookings.models import Appointment
from bookings.services import appointment_create, appointment_set_status
from clinic.errors import DomainError

from ..factories import (
    ConsultantFactory,
    ConsultingRoomFactory,
    PatientFactory,
    local,
    treatment,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises writers and has no exclusion constraints",
    ),
]

THREADS = 20
ROUNDS = 10


def race(book: Callable[[int], object]) -> Counter[str]:
    """Run ``book(i)`` in THREADS threads released together; count the outcomes."""
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            book(i)
            outcome = "booked"
        except DomainError as error:
            outcome = f"refused:{error.code}"
        except Exception as error:
            outcome = f"error:{type(error).__name__}:{error}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(outcomes)


@pytest.fixture
def team(reference_data):
    return {
        "consultant": ConsultantFactory(),
        "room": ConsultingRoomFactory(),
        "patients": PatientFactory.create_batch(THREADS),
        "consultation": treatment("initial-consultation"),
    }


def book_for(team, start, minutes=30, *, shared=("consultant", "room")):
    def book(i: int) -> Appointment:
        return appointment_create(
            patient=team["patients"][i],
            treatment=team["consultation"],
            start=start,
            minutes=minutes,
            consultant=team["consultant"] if "consultant" in shared else ConsultantFactory(),
            room=team["room"] if "room" in shared else ConsultingRoomFactory(),
        )

    return book


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_same_time_is_booked_once(team, round_):
    start = local(2026, 6, 1, 9) + timedelta(days=round_)
    outcomes = race(book_for(team, start))
    assert outcomes == Counter({"booked": 1, "refused:conflict": THREADS - 1}), outcomes
    assert Appointment.objects.filter(start=start).count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_partly_overlapping_times_give_one_booking(team, round_):
    base = local(2026, 7, 1, 9) + timedelta(days=round_)

    def book(i: int) -> Appointment:
        # Starts 0, 1, 2 ... 19 minutes past: every pair overlaps.
        return book_for(team, base + timedelta(minutes=i))(i)

    outcomes = race(book)
    assert outcomes == Counter({"booked": 1, "refused:conflict": THREADS - 1}), outcomes


def test_the_same_room_alone_is_enough_to_collide(team):
    start = local(2026, 8, 3, 9)
    outcomes = race(book_for(team, start, shared=("room",)))
    assert outcomes == Counter({"booked": 1, "refused:conflict": THREADS - 1}), outcomes


def test_back_to_back_bookings_all_succeed(team):
    base = local(2026, 8, 4, 9)

    def book(i: int) -> Appointment:
        return book_for(team, base + timedelta(minutes=30 * i))(i)

    outcomes = race(book)
    assert outcomes == Counter({"booked": THREADS}), outcomes


def test_a_cancelled_appointment_does_not_block(team):
    start = local(2026, 8, 5, 9)
    first = book_for(team, start)(0)
    appointment_set_status(appointment=first, status=Appointment.Status.CANCELLED)
    team["patients"] = team["patients"][1:] + [PatientFactory()]
    outcomes = race(book_for(team, start))
    assert outcomes == Counter({"booked": 1, "refused:conflict": THREADS - 1}), outcomes


def test_the_database_itself_refuses_an_overlap(team):
    """The exclusion constraint is the last guard, also for code that skips the service."""
    from django.db import IntegrityError, transaction

    first = book_for(team, local(2026, 8, 6, 9))(0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=team["patients"][1],
            treatment=first.treatment,
            start=first.start + timedelta(minutes=10),
            end=first.end + timedelta(minutes=10),
            consultant=first.consultant,
            room=ConsultingRoomFactory(),
        )

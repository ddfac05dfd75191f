"""The price list: what is in force on a day, scheduled changes, quoted prices kept,
overlapping periods refused (by the service, and on PostgreSQL by the database), and who
may change prices."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from bookings.models import Appointment
from bookings.services import appointment_book, price_for
from clinic.errors import DomainError
from clinic.models import User
from treatments.models import Price
from treatments.selectors import price_change_rows, price_changes, price_list
from treatments.services import price_check, price_delete, price_save

from ..factories import PatientFactory, local, treatment

pytestmark = pytest.mark.django_db

TODAY = date(2026, 5, 4)  # a Monday; the seeded list starts on 1 January 2026


def micro():
    return treatment("microsclerotherapy")


def new_price(**fields) -> Price:
    values = {
        "treatment": micro(),
        "minutes": 30,
        "amount": Decimal("280.00"),
        "effective_from": TODAY + timedelta(days=30),
    }
    values.update(fields)
    return Price(**values)


def seeded_30() -> Price:
    """The 30-minute price seeded from 1 January 2026 (migration treatments/0004)."""
    return Price.objects.get(treatment=micro(), minutes=30, effective_from=date(2026, 1, 1))


# --- the price in force on a day -------------------------------------------------------------


def test_the_price_in_force_on_a_day_is_the_one_whose_dates_hold_it():
    later = price_save(price=new_price(), end_current=True, today=TODAY)
    before = later.effective_from - timedelta(days=1)
    assert price_for(treatment=micro(), minutes=30, on=TODAY).amount == Decimal("260.00")
    assert price_for(treatment=micro(), minutes=30, on=before).amount == Decimal("260.00")
    assert price_for(treatment=micro(), minutes=30, on=later.effective_from) == later
    assert price_for(treatment=micro(), minutes=30, on=date(2030, 1, 1)) == later


def test_a_length_without_its_own_price_takes_the_any_length_price():
    reassessment = treatment("reassessment")
    assert price_for(treatment=reassessment, minutes=20, on=TODAY).minutes is None


def test_a_lengths_own_price_wins_over_a_newer_any_length_price():
    any_length = Price.objects.create(
        treatment=micro(), minutes=None, amount=Decimal("199.00"), effective_from=TODAY
    )
    assert price_for(treatment=micro(), minutes=30, on=TODAY) == seeded_30()
    assert price_for(treatment=micro(), minutes=25, on=TODAY) == any_length


def test_no_price_before_the_list_starts():
    assert price_for(treatment=micro(), minutes=30, on=date(2025, 12, 31)) is None


def test_a_course_package_is_not_the_price_of_one_session():
    price_save(
        price=new_price(
            minutes=None, package_sessions=3, amount=Decimal("700"), effective_from=TODAY
        ),
        today=TODAY,
    )
    assert price_for(treatment=micro(), minutes=45, on=TODAY).amount == Decimal("340.00")


# --- scheduling a change ---------------------------------------------------------------------


def test_scheduling_a_new_price_ends_the_current_one_the_day_before():
    start = TODAY + timedelta(days=30)
    price_save(price=new_price(effective_from=start), end_current=True, today=TODAY)
    assert Price.objects.filter(treatment=micro(), minutes=30).count() == 2
    ended = Price.objects.get(treatment=micro(), minutes=30, effective_from=date(2026, 1, 1))
    assert ended.effective_until == start - timedelta(days=1)


def test_the_public_list_shows_todays_price_and_the_scheduled_change():
    start = TODAY + timedelta(days=30)
    price_save(price=new_price(effective_from=start), end_current=True, today=TODAY)
    lines = {(line.treatment.slug, line.minutes): line for line in price_list(on=TODAY)}
    line = lines[("microsclerotherapy", 30)]
    assert line.current.amount == Decimal("260.00")
    assert [p.amount for p in line.upcoming] == [Decimal("280.00")]
    # On the day of the change the new price is current and nothing is upcoming.
    line = {(x.treatment.slug, x.minutes): x for x in price_list(on=start)}[
        ("microsclerotherapy", 30)
    ]
    assert line.current.amount == Decimal("280.00") and line.upcoming == []


def test_the_public_list_leaves_out_ended_prices_and_inactive_treatments():
    foam = treatment("foam-sclerotherapy")
    foam.is_active = False
    foam.save()
    slugs = {line.treatment.slug for line in price_list(on=TODAY)}
    assert "foam-sclerotherapy" not in slugs
    price_save(price=new_price(), end_current=True, today=TODAY)
    line = {(x.treatment.slug, x.minutes): x for x in price_list(on=date(2027, 1, 1))}[
        ("microsclerotherapy", 30)
    ]
    assert line.current.amount == Decimal("280.00")
    assert line.upcoming == []


def test_the_price_list_is_one_query_however_long(django_assert_num_queries):
    for n in range(30):
        price_save(
            price=new_price(
                minutes=None,
                package_sessions=2 + n % 10,
                amount=Decimal(500 + n),
                effective_from=TODAY + timedelta(days=40 * (n // 10)),
                effective_until=TODAY + timedelta(days=40 * (n // 10) + 39),
            ),
            today=TODAY,
        )
    with django_assert_num_queries(1):
        lines = price_list(on=TODAY)
        assert all(line.treatment.name for line in lines)  # no query per line


# --- the past does not change ----------------------------------------------------------------


def test_a_new_price_cannot_start_in_the_past():
    with pytest.raises(DomainError, match="today or later") as error:
        price_save(price=new_price(effective_from=TODAY - timedelta(days=1)), today=TODAY)
    assert error.value.code == "price_past"


def test_a_price_in_force_keeps_its_amount():
    current = seeded_30()
    current.amount = Decimal("1.00")
    with pytest.raises(DomainError, match="already in force"):
        price_save(price=current, today=TODAY)
    assert seeded_30().amount == Decimal("260.00")


def test_a_price_in_force_may_be_ended_but_not_before_yesterday():
    current = seeded_30()
    current.effective_until = TODAY - timedelta(days=2)
    with pytest.raises(DomainError, match="yesterday at the earliest"):
        price_save(price=current, today=TODAY)
    current.effective_until = TODAY - timedelta(days=1)
    price_save(price=current, today=TODAY)
    # No 30-minute price today, and no any-length price to fall back on.
    assert price_for(treatment=micro(), minutes=30, on=TODAY) is None


def test_a_scheduled_price_may_still_change_or_be_removed():
    scheduled = price_save(price=new_price(), end_current=True, today=TODAY)
    scheduled.amount = Decimal("275.00")
    price_save(price=scheduled, today=TODAY)
    price_delete(price=scheduled, today=TODAY)
    assert not Price.objects.filter(pk=scheduled.pk).exists()


def test_a_price_in_force_cannot_be_removed():
    with pytest.raises(DomainError, match="set its last day"):
        price_delete(price=seeded_30(), today=TODAY)


# --- quoted prices are kept ------------------------------------------------------------------


@time_machine.travel(local(2026, 5, 4, 8), tick=False)
def test_an_appointment_keeps_the_price_it_was_quoted(open_clinic):
    patient = PatientFactory()
    consultation = treatment("initial-consultation")
    appointment = appointment_book(
        patient=patient, treatment=consultation, start=local(2026, 5, 12, 10), minutes=30
    )
    assert appointment.price_amount == Decimal("195.00")
    # The price goes up from the day before the appointment.
    price_save(
        price=Price(
            treatment=consultation,
            amount=Decimal("225.00"),
            effective_from=date(2026, 5, 11),
        ),
        end_current=True,
        today=TODAY,
    )
    appointment.refresh_from_db()
    assert appointment.price_amount == Decimal("195.00")
    assert appointment.price.amount == Decimal("195.00")
    # A booking made now for the same day is quoted the new price.
    later = appointment_book(
        patient=PatientFactory(),
        treatment=consultation,
        start=local(2026, 5, 12, 11),
        minutes=30,
    )
    assert later.price_amount == Decimal("225.00")
    # The quoted price row can no longer be removed.
    with pytest.raises(DomainError):
        price_delete(price=appointment.price, today=date(2026, 1, 1) - timedelta(days=1))


def test_an_appointment_is_quoted_the_price_of_its_own_day_not_of_the_booking_day(open_clinic):
    consultation = treatment("initial-consultation")
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        price_save(
            price=Price(
                treatment=consultation, amount=Decimal("210.00"), effective_from=date(2026, 6, 1)
            ),
            end_current=True,
            today=TODAY,
        )
        may = appointment_book(
            patient=PatientFactory(),
            treatment=consultation,
            start=local(2026, 5, 29, 10),
            minutes=30,
        )
        june = appointment_book(
            patient=PatientFactory(),
            treatment=consultation,
            start=local(2026, 6, 1, 10),
            minutes=30,
        )
    assert may.price_amount == Decimal("195.00")
    assert june.price_amount == Decimal("210.00")
    assert Appointment.objects.count() == 2


# --- no overlapping periods ------------------------------------------------------------------


def test_an_overlapping_period_for_the_same_item_is_refused():
    with pytest.raises(DomainError, match="in force from 01/01/2026") as error:
        price_save(price=new_price(), end_current=False, today=TODAY)
    assert error.value.code == "price_overlap"
    with pytest.raises(DomainError):
        price_check(price=new_price(), end_current=False, today=TODAY)
    assert Price.objects.filter(treatment=micro(), minutes=30).count() == 1


def test_two_scheduled_prices_may_not_overlap_each_other():
    first = price_save(
        price=new_price(effective_until=TODAY + timedelta(days=60)), end_current=True, today=TODAY
    )
    with pytest.raises(DomainError, match="in force from"):
        price_save(
            price=new_price(effective_from=first.effective_until, amount=Decimal("300")),
            today=TODAY,
        )
    # The day after is fine.
    price_save(
        price=new_price(
            effective_from=first.effective_until + timedelta(days=1), amount=Decimal("300")
        ),
        today=TODAY,
    )


def test_other_items_do_not_clash():
    """A different length, a package and a different treatment are separate items."""
    start = TODAY
    for fields in [
        {"minutes": 45, "amount": Decimal("1")},
        {"minutes": None, "package_sessions": 3},
        {"minutes": None, "package_sessions": 4},
        {"treatment": treatment("reassessment"), "minutes": 30},
    ]:
        values = {"effective_from": start, **fields}
        if values.get("minutes") == 45:
            with pytest.raises(DomainError):  # 45 minutes already has a price
                price_save(price=new_price(**values), today=TODAY)
            continue
        price_save(price=new_price(**values), today=TODAY)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an exclusion constraint")
def test_postgresql_itself_refuses_overlapping_periods():
    """Even a write that skips the service (a race, a script) cannot overlap."""
    with pytest.raises(IntegrityError, match="price_no_overlapping_periods"), transaction.atomic():
        new_price().save()
    # Open-ended periods, and an empty length or package, are compared too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Price.objects.create(
            treatment=treatment("reassessment"),
            amount=Decimal("1"),
            effective_from=date(2030, 1, 1),
        )
    # Touching periods are fine: [1 Jan 2026, 31 May] then [1 Jun, …).
    seeded = seeded_30()
    seeded.effective_until = date(2026, 5, 31)
    seeded.save()
    new_price(effective_from=date(2026, 6, 1)).save()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_two_admins_scheduling_at_once_leave_one_price(reference_data):
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def schedule(i: int) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            price_save(
                price=new_price(
                    minutes=None,
                    package_sessions=3,
                    amount=Decimal(600 + i),
                    effective_from=TODAY + timedelta(days=10 + i),
                ),
                today=TODAY,
            )
            outcomes.append("saved")
        except DomainError:
            outcomes.append("refused")
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=schedule, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["saved"]
    assert Price.objects.filter(package_sessions=3).count() == 1


# --- the admin: who may change prices, and the audit -----------------------------------------


def admin_url(view: str, *args) -> str:
    return reverse(f"admin:treatments_price_{view}", args=args)


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin.user)
    return client


def form_data(price: Price | None = None, **overrides) -> dict[str, str]:
    data = {
        "treatment": str(micro().pk),
        "minutes": "30",
        "package_sessions": "",
        "amount": "280.00",
        "currency": "GBP",
        "effective_from": "",
        "effective_until": "",
        "end_current": "on",
    }
    data.update(overrides)
    return data


@time_machine.travel(local(2026, 5, 4, 12), tick=False)
def test_a_clinic_admin_schedules_a_price_change_and_it_is_audited(admin_client, clinic_admin):
    response = admin_client.post(
        admin_url("add"), form_data(effective_from="2026-06-01"), follow=True
    )
    assert response.status_code == 200
    assert Price.objects.get(treatment=micro(), minutes=30, effective_from=date(2026, 6, 1))
    ended = Price.objects.get(treatment=micro(), minutes=30, effective_from=date(2026, 1, 1))
    assert ended.effective_until == date(2026, 5, 31)
    # Who, when, old -> new.
    change = ended.history.latest()
    assert change.history_user == clinic_admin.user
    page = admin_client.get(admin_url("changes"))
    assert page.status_code == 200
    text = page.content.decode()
    assert str(clinic_admin.user) in text
    assert "GBP 280.00 from 01/06/2026" in text
    assert "Now GBP 260.00 from 01/01/2026 until 31/05/2026" in text
    # A second change ends the scheduled price: the screen shows old -> new.
    admin_client.post(admin_url("add"), form_data(effective_from="2026-07-01", amount="290"))
    text = admin_client.get(admin_url("changes")).content.decode()
    assert "In force until: — → 30/06/2026" in text


@time_machine.travel(local(2026, 5, 4, 12), tick=False)
def test_the_admin_form_refuses_an_overlap_and_a_past_start_with_a_message(admin_client):
    response = admin_client.post(
        admin_url("add"), form_data(effective_from="2026-06-01", end_current="")
    )
    assert response.status_code == 200  # the form again, with the message
    assert "is in force from 01/01/2026" in response.content.decode()
    response = admin_client.post(admin_url("add"), form_data(effective_from="2026-05-01"))
    assert "today or later" in response.content.decode()
    assert Price.objects.filter(treatment=micro(), minutes=30).count() == 1


@time_machine.travel(local(2026, 5, 4, 12), tick=False)
def test_in_the_admin_a_price_in_force_only_lets_its_last_day_change(admin_client):
    current = seeded_30()
    page = admin_client.get(admin_url("change", current.pk))
    form = page.context["adminform"].form
    assert list(form.fields) == ["effective_until"]
    response = admin_client.post(
        admin_url("change", current.pk), {"effective_until": "2026-05-10", "amount": "1"}
    )
    assert response.status_code == 302
    current.refresh_from_db()
    assert current.amount == Decimal("260.00")
    assert current.effective_until == date(2026, 5, 10)
    # And it cannot be deleted.
    assert admin_client.get(admin_url("delete", current.pk)).status_code == 403


@pytest.mark.parametrize("who", ["nurse", "consultant", "patient"])
def test_only_clinic_admins_change_prices(client, who, request):
    user = request.getfixturevalue(who).user
    client.force_login(user)
    response = client.post(admin_url("add"), form_data(effective_from="2027-01-01"))
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert not user.has_perm("treatments.change_price")
    assert not user.has_perm("treatments.add_price")
    assert Price.objects.count() == 5


@pytest.mark.parametrize("who", ["nurse", "consultant"])
def test_nurses_and_consultants_may_read_prices(who, request):
    user = User.objects.get(pk=request.getfixturevalue(who).user.pk)
    assert user.has_perm("treatments.view_price")


def test_the_changes_screen_costs_the_same_with_one_or_many_changes(
    admin_client, django_assert_max_num_queries
):
    def render() -> None:
        with django_assert_max_num_queries(12):
            assert admin_client.get(admin_url("changes")).status_code == 200

    render()
    for n in range(40):
        price = Price.objects.create(
            treatment=micro(),
            package_sessions=2 + n % 10,
            amount=Decimal(100 + n),
            effective_from=date(2030 + n // 10, 1, 1),
            effective_until=date(2030 + n // 10, 12, 31),
        )
        price.amount += 1
        price.save()
    render()
    rows = price_change_rows(price_changes()[:50])
    assert any(row["changes"] for row in rows)

"""The patient's booking pages: what to book, the month and day of free times, confirm and
book, their own appointments with change and cancel, calendar files and the private feed,
the waiting list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail
from django.urls import include, path, reverse
from icalendar import Calendar

from bookings.models import Appointment, CalendarFeed, Payer, WaitingListEntry
from bookings.services import appointment_book, appointment_cancel
from treatments.models import Price

from ..factories import (
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    local,
    treatment,
)

# The pages are tested through their own URLconf, whether or not the site includes it yet.
urlpatterns = [
    path("", include("bookings.urls_patient")),
    path("", include("clinic.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

Status = Appointment.Status

# A Monday morning in spring (BST, UTC+1); the clinic is open Mon–Fri 09:00–17:00 and
# online bookings need 24 hours' notice, so the first free time is Tuesday 09:00.
NOW = local(2026, 5, 4, 8)
CONSULTATION = "initial-consultation"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def url(name: str, *args) -> str:
    return reverse(f"booking:{name}", args=args)


def z(when: datetime) -> str:
    """A start time as the pages send it: UTC with a Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def confirm_url(key: str, when: datetime, minutes: int = 30) -> str:
    return f"{url('confirm', key)}?start={z(when)}&minutes={minutes}"


def book(patient, when: datetime, slug: str = CONSULTATION, minutes: int = 30) -> Appointment:
    return appointment_book(patient=patient, treatment=treatment(slug), start=when, minutes=minutes)


def htmx(client, address: str, **params):
    return client.get(address, params, HTTP_HX_REQUEST="true")


def free_starts(response) -> list[str]:
    return [s.value for s in response.context["day_view"].slots]


@pytest.fixture
def session_patient(client, course, consultant, open_clinic):
    """A patient mid-course: session 1 booked on Tuesday 5 May, so session 2 may be
    booked from Tuesday 2 June (28 days later). Logged in."""
    course.consultant = consultant
    course.save()
    book(course.patient, local(2026, 5, 5, 10), slug="microsclerotherapy")
    client.force_login(course.patient.user)
    return course.patient


def course_key(course) -> str:
    return f"microsclerotherapy:{course.pk}"


# --- who may see what ---------------------------------------------------------------


@pytest.fixture
def own_appointment(open_clinic, patient, consultant) -> Appointment:
    """A booked reassessment (so that a consultation may still be booked)."""
    start = local(2026, 5, 12, 10)
    return AppointmentFactory(
        patient=patient,
        treatment=treatment("reassessment"),
        start=start,
        end=start + timedelta(minutes=20),
        consultant=consultant,
        room=open_clinic.rooms.get(kind="consulting"),
    )


@pytest.fixture
def pages(own_appointment):
    pk = own_appointment.pk
    return [
        url("start"),
        url("calendar", CONSULTATION),
        url("day", CONSULTATION, "2026-05-06"),
        confirm_url(CONSULTATION, local(2026, 5, 6, 10)),
        url("appointments"),
        url("appointment", pk),
        url("reschedule", pk),
        url("appointment_ics", pk),
        url("feed_settings"),
    ]


def posts(appointment: Appointment) -> list[tuple[str, dict]]:
    return [
        (url("cancel", appointment.pk), {"reason": "x"}),
        (url("reschedule", appointment.pk), {"start": z(local(2026, 5, 13, 10))}),
        (
            url("confirm", CONSULTATION),
            {"start": z(local(2026, 5, 6, 10)), "minutes": 30, "payer": "self"},
        ),
        (
            url("waiting_list"),
            {"key": CONSULTATION, "earliest_date": "2026-05-10", "latest_date": "2026-05-20"},
        ),
        (url("feed_settings"), {}),
    ]


def _nothing_changed(appointment: Appointment) -> None:
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED
    assert appointment.start == local(2026, 5, 12, 10)
    assert Appointment.objects.count() == 1
    assert not WaitingListEntry.objects.exists()
    assert not CalendarFeed.objects.exists()


def test_visitors_are_sent_to_log_in(client, pages, own_appointment):
    for address in pages:
        response = client.get(address)
        assert response.status_code == 302, address
        assert response.url.startswith(reverse("login")), address
    for address, data in posts(own_appointment):
        response = client.post(address, data)
        assert response.status_code == 302, address
        assert response.url.startswith(reverse("login")), address
    _nothing_changed(own_appointment)


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory, ClinicAdminFactory])
def test_staff_are_refused(client, pages, own_appointment, factory):
    client.force_login(factory().user)
    for address in pages:
        assert client.get(address).status_code == 403, address
    for address, data in posts(own_appointment):
        assert client.post(address, data).status_code == 403, address
    _nothing_changed(own_appointment)


def test_another_patients_appointment_is_not_found(client, own_appointment):
    client.force_login(PatientFactory().user)
    pk = own_appointment.pk
    for address in [url("appointment", pk), url("reschedule", pk), url("appointment_ics", pk)]:
        assert client.get(address).status_code == 404, address
    assert client.post(url("cancel", pk), {}).status_code == 404
    response = client.post(url("reschedule", pk), {"start": z(local(2026, 5, 13, 10))})
    assert response.status_code == 404
    _nothing_changed(own_appointment)
    assert (
        own_appointment.patient.user.email not in client.get(url("appointments")).content.decode()
    )


def test_another_patients_course_is_not_found(client, session_patient, course):
    other = PatientFactory()
    client.force_login(other.user)
    key = course_key(course)
    assert client.get(url("calendar", key)).status_code == 404
    assert client.get(url("day", key, "2026-06-02")).status_code == 404
    assert client.get(confirm_url(key, local(2026, 6, 2, 10))).status_code == 404


def test_the_owner_sees_every_page(patient_client, pages):
    for address in pages:
        assert patient_client.get(address).status_code == 200, address


def test_the_single_step_routes_take_only_their_methods(patient_client, own_appointment):
    pk = own_appointment.pk
    assert patient_client.get(url("cancel", pk)).status_code == 405
    assert patient_client.get(url("waiting_list")).status_code == 405
    assert patient_client.post(url("appointments")).status_code == 405
    assert patient_client.post(url("appointment_ics", pk)).status_code == 405


def test_a_feed_with_an_unknown_token_is_not_found(client, patient):
    assert client.get(url("feed", "not-a-token")).status_code == 404
    assert client.get(url("feed", "x" * 500)).status_code == 404


# --- choosing what to book ----------------------------------------------------------


def test_book_lists_what_may_be_booked_and_why_not(patient_client, open_clinic):
    response = patient_client.get(url("start"))
    html = response.content.decode()
    assert response.status_code == 200
    assert [o.key for o in response.context["allowed"]] == [CONSULTATION]
    assert url("calendar", CONSULTATION) in html
    assert "Choose" in html
    assert "booked once the consultant has planned your course" in html
    assert "A reassessment can be booked after your first session." in html
    assert "class it as cosmetic" not in html  # not insured


def test_insured_patients_are_told_before_booking(client, open_clinic):
    insured = PatientFactory(payer="insured", preauthorisation_code="")
    client.force_login(insured.user)
    for address in [url("start"), url("calendar", CONSULTATION)]:
        html = client.get(address).content.decode()
        assert "Insurers rarely pay for thread-vein treatment" in html, address
        assert "class it as cosmetic" in html
        assert "pre-authorisation code" in html


def test_a_session_patient_is_told_when_the_next_session_opens(client, session_patient):
    html = client.get(url("start")).content.decode()
    assert "Your next session can be booked from Tuesday 2 June 2026." in html


# --- the month and the day ----------------------------------------------------------


def test_the_month_shows_days_with_free_times(patient_client, open_clinic):
    response = patient_client.get(url("calendar", CONSULTATION))
    assert response.status_code == 200
    month = response.context["month_view"]
    assert month.month == date(2026, 5, 1)
    free = {c.day for week in month.weeks for c in week if c.url}
    # Notice: nothing on Monday 4 May; weekends closed.
    assert date(2026, 5, 4) not in free
    assert date(2026, 5, 5) in free
    assert date(2026, 5, 9) not in free
    assert max(free) == date(2026, 5, 29)
    html = response.content.decode()
    day_url = url("day", CONSULTATION, "2026-05-05")
    assert f'hx-get="{day_url}"' in html
    assert 'hx-target="#day-times"' in html
    assert month.previous_url == ""
    assert "month=2026-06" in month.next_url


def test_the_month_moves_within_the_horizon(patient_client, open_clinic):
    response = patient_client.get(url("calendar", CONSULTATION), {"month": "2026-11"})
    assert response.status_code == 200
    month = response.context["month_view"]
    assert month.next_url == ""  # 183 days from 4 May is 3 November
    assert "month=2026-10" in month.previous_url
    free = {c.day for week in month.weeks for c in week if c.url}
    assert max(free) <= date(2026, 11, 3)


@pytest.mark.parametrize(
    "month",
    ["2026-13", "2026-00", "May", "2026-5", "2026-05-01", "<script>alert(1)</script>", "2026-04",
     "2027-06", "99999-01"],
)  # fmt: skip
def test_a_bad_or_unreachable_month_is_a_400(patient_client, open_clinic, month):
    response = patient_client.get(url("calendar", CONSULTATION), {"month": month})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "month" in html


@pytest.mark.parametrize("minutes", ["45", "abc", "99999999999999999999", "-30", "30.0"])
def test_a_length_the_treatment_does_not_offer_is_a_400(patient_client, open_clinic, minutes):
    response = patient_client.get(url("calendar", CONSULTATION), {"minutes": minutes})
    assert response.status_code == 400
    assert "booked for 30 minutes" in response.content.decode()


def test_a_treatment_with_two_lengths_offers_both(client, session_patient, course):
    response = client.get(url("calendar", course_key(course)), {"minutes": "45"})
    assert response.status_code == 200
    assert response.context["minutes"] == 45
    assert [n for n, _ in response.context["length_links"]] == [30, 45]
    day = next(c for week in response.context["month_view"].weeks for c in week if c.url)
    assert "minutes=45" in day.url


@pytest.mark.parametrize("key", ["no-such-thing", "foam-sclerotherapy", "<b>x<b>", "a:b",
                                 "microsclerotherapy:99999999999999999999999", "%00"])  # fmt: skip
def test_an_unknown_or_offline_treatment_is_not_found(patient_client, open_clinic, key):
    assert patient_client.get(f"/book/{quote(key, safe='')}/").status_code == 404


def test_a_treatment_the_patient_may_not_book_says_why(patient_client, open_clinic):
    response = patient_client.get(url("calendar", "microsclerotherapy"))
    assert response.status_code == 409
    assert "consultant has planned your course" in response.content.decode()


def test_the_day_partial_lists_free_times_linking_to_confirm(patient_client, open_clinic):
    response = htmx(patient_client, url("day", CONSULTATION, "2026-05-05"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a partial for htmx
    starts = free_starts(response)
    assert starts[0] == "2026-05-05T08:00:00Z"  # 09:00 BST
    assert starts[-1] == "2026-05-05T15:30:00Z"  # 16:30 BST
    assert "09:00" in html and "16:30" in html
    first = response.context["day_view"].slots[0].url
    assert first.replace("&", "&amp;") in html
    assert patient_client.get(first).context["offer"].start == local(2026, 5, 5, 9)
    assert "HX-Request" in response["Vary"]


def test_the_day_without_htmx_is_a_full_page(patient_client, open_clinic):
    response = patient_client.get(url("day", CONSULTATION, "2026-05-05"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert "Back to the calendar" in html
    assert len(free_starts(response)) == 31


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "today", "20260505",
                                 "<script>x<script>", "9999-12-31", "2026-05-05T10"])  # fmt: skip
def test_a_bad_day_is_a_400(patient_client, open_clinic, day):
    response = patient_client.get(f"/book/{CONSULTATION}/day/{quote(day, safe='')}/")
    assert response.status_code == 400
    html = response.content.decode()
    assert "year-month-day" in html
    assert "<script>x<script>" not in html


def test_no_time_is_offered_before_the_courses_earliest_day(client, session_patient, course):
    key = course_key(course)
    response = client.get(url("calendar", key))
    assert response.status_code == 200
    month = response.context["month_view"]
    assert month.month == date(2026, 6, 1)
    assert month.previous_url == ""
    free = sorted(c.day for week in month.weeks for c in week if c.url)
    assert free[0] == date(2026, 6, 2)
    assert client.get(url("calendar", key), {"month": "2026-05"}).status_code == 400

    early = htmx(client, url("day", key, "2026-06-01"))
    assert free_starts(early) == []
    assert "The first day you can book is Tuesday 2 June 2026" in early.content.decode()
    assert free_starts(htmx(client, url("day", key, "2026-06-02")))

    assert client.get(confirm_url(key, local(2026, 6, 1, 10))).status_code == 409
    response = client.post(
        url("confirm", key), {"start": z(local(2026, 6, 1, 10)), "minutes": 30, "payer": "self"}
    )
    # Refused by the gap rule, with the reason: a 400, not a "time was just taken" 409.
    assert response.status_code == 400
    assert "from Tuesday 2 June 2026" in response.content.decode()
    sessions = Appointment.objects.filter(
        patient=session_patient, treatment__slug="microsclerotherapy"
    )
    assert sessions.count() == 1


# --- confirm and book ---------------------------------------------------------------


def test_booking_end_to_end_sends_an_email_with_the_calendar_file(
    patient_client, patient, open_clinic, django_capture_on_commit_callbacks
):
    when = local(2026, 5, 5, 9)
    response = patient_client.get(confirm_url(CONSULTATION, when))
    html = response.content.decode()
    assert response.status_code == 200
    price = Price.objects.get(treatment__slug=CONSULTATION)
    expected = ["Tuesday 5 May 2026", "09:00 to 09:30", "30 minutes", open_clinic.name]
    expected += [f"£{price.amount}", "I am paying for myself", "Music during your appointment"]
    for text in expected:
        assert text in html, text

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(
            url("confirm", CONSULTATION),
            {"start": z(when), "minutes": 30, "payer": "self", "music_request": "Some jazz"},
        )

    appointment = Appointment.objects.get(patient=patient)
    assert response.status_code == 302
    assert response.url == url("appointment", appointment.pk)
    assert appointment.start == when
    assert appointment.booked_online
    assert appointment.music_request == "Some jazz"
    assert appointment.payer == Payer.SELF_FUNDED
    page = patient_client.get(response.url).content.decode()
    assert "is booked for Tuesday 5 May at 09:00" in page

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [patient.user.email]
    assert "Tuesday 5 May 2026 at 09:00" in email.body
    assert open_clinic.name in email.body
    assert f"/my/appointments/{appointment.pk}/" in email.body
    (name, content, mimetype) = email.attachments[0]
    assert mimetype == "text/calendar"
    assert name.endswith(".ics")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2026, 5, 5, 8, 0, tzinfo=UTC)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["uid"]) == f"appointment-{appointment.pk}@veinline"


def test_a_session_email_carries_aftercare_hints(
    client, session_patient, course, django_capture_on_commit_callbacks
):
    when = local(2026, 6, 2, 11)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("confirm", course_key(course)), {"start": z(when), "minutes": 45, "payer": "self"}
        )
    assert response.status_code == 302
    appointment = Appointment.objects.get(start=when)
    assert appointment.session_record.number == 2
    body = mail.outbox[0].body
    assert "session 2 of 3" in body
    assert "compression stockings" in body
    assert "walk for at least 10 minutes" in body


def test_a_time_taken_between_showing_and_posting_is_a_409(patient_client, patient, open_clinic):
    when = local(2026, 5, 5, 10)
    assert patient_client.get(confirm_url(CONSULTATION, when)).status_code == 200
    book(PatientFactory(), when)  # someone else was quicker

    response = patient_client.post(
        url("confirm", CONSULTATION), {"start": z(when), "minutes": 30, "payer": "self"}
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "that time was just taken" in html
    assert url("calendar", CONSULTATION) in html
    assert not Appointment.objects.filter(patient=patient).exists()
    assert not mail.outbox


def test_an_insured_booking_without_a_code_is_a_400(patient_client, patient, open_clinic):
    when = local(2026, 5, 5, 10)
    response = patient_client.post(
        url("confirm", CONSULTATION),
        {"start": z(when), "minutes": 30, "payer": "insured", "preauthorisation_code": "  "},
    )
    assert response.status_code == 400
    assert "pre-authorisation code" in response.content.decode()
    assert not Appointment.objects.exists()

    response = patient_client.post(
        url("confirm", CONSULTATION),
        {"start": z(when), "minutes": 30, "payer": "insured", "preauthorisation_code": "AB-123"},
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=patient)
    assert (appointment.payer, appointment.preauthorisation_code) == ("insured", "AB-123")


def test_the_confirm_page_warns_an_insured_patient(client, open_clinic):
    insured = PatientFactory(payer="insured", preauthorisation_code="PRE-9")
    client.force_login(insured.user)
    response = client.get(confirm_url(CONSULTATION, local(2026, 5, 5, 10)))
    html = response.content.decode()
    assert "class it as cosmetic" in html
    assert response.context["form"]["payer"].value() == "insured"
    assert 'value="PRE-9"' in html


@pytest.mark.parametrize(
    "start",
    ["", "tomorrow", "2026-05-05T10:00:00", "2026-05-05 09:00:00Z", "2026-02-30T09:00:00Z",
     "9999-12-31T09:00:00Z", "<b>2026</b>", "2026-05-05T09:00:00Z" + "0" * 50],
)  # fmt: skip
def test_a_bad_start_is_a_400(patient_client, open_clinic, start):
    response = patient_client.get(url("confirm", CONSULTATION), {"start": start, "minutes": 30})
    assert response.status_code == 400
    assert "not one we offered" in response.content.decode()
    response = patient_client.post(
        url("confirm", CONSULTATION), {"start": start, "minutes": 30, "payer": "self"}
    )
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_a_time_before_the_notice_is_not_offered(patient_client, open_clinic):
    response = patient_client.get(confirm_url(CONSULTATION, local(2026, 5, 4, 15)))
    assert response.status_code == 409
    assert "no longer free" in response.content.decode()


def test_a_service_refusal_is_a_400_with_its_message(patient_client, patient, open_clinic):
    book(patient, local(2026, 5, 6, 10))  # one consultation at a time
    response = patient_client.post(
        url("confirm", CONSULTATION),
        {"start": z(local(2026, 5, 7, 10)), "minutes": 30, "payer": "self"},
    )
    assert response.status_code == 409
    assert "You already have a consultation booked" in response.content.decode()
    assert Appointment.objects.filter(patient=patient).count() == 1


# --- my appointments ----------------------------------------------------------------


def test_my_appointments_splits_upcoming_and_past_with_the_right_actions(
    patient_client, patient, open_clinic
):
    later = book(patient, local(2026, 5, 12, 10))
    soon = AppointmentFactory(
        patient=patient, start=local(2026, 5, 5, 10), end=local(2026, 5, 5, 10, 30)
    )
    old = AppointmentFactory(
        patient=patient,
        start=local(2026, 4, 1, 10),
        end=local(2026, 4, 1, 10, 30),
        status=Status.COMPLETED,
    )
    other = AppointmentFactory(start=local(2026, 5, 13, 10), end=local(2026, 5, 13, 10, 30))

    response = patient_client.get(url("appointments"))

    upcoming = [line.appointment.pk for line in response.context["upcoming"]]
    past = [line.appointment.pk for line in response.context["past"]]
    assert upcoming == [soon.pk, later.pk]
    assert past == [old.pk]
    assert other.pk not in upcoming + past
    html = response.content.decode()
    assert url("reschedule", later.pk) in html
    assert url("reschedule", soon.pk) not in html  # inside the 48-hour cut-off
    assert "please call the clinic" in html
    assert "Completed" in html


def test_the_appointment_page_offers_change_and_cancel_until_the_cutoff(
    patient_client, patient, open_clinic
):
    later = book(patient, local(2026, 5, 12, 10))
    html = patient_client.get(url("appointment", later.pk)).content.decode()
    assert url("reschedule", later.pk) in html
    assert url("cancel", later.pk) in html
    assert url("appointment_ics", later.pk) in html

    soon = book(PatientFactory(), local(2026, 5, 5, 16))
    soon.patient = patient
    soon.save()
    html = patient_client.get(url("appointment", soon.pk)).content.decode()
    assert url("cancel", soon.pk) not in html
    assert "can no longer be changed online" in html


def test_cancelling_inside_the_cutoff_is_refused(patient_client, patient, open_clinic):
    soon = book(patient, local(2026, 5, 5, 16))
    response = patient_client.post(url("cancel", soon.pk), {"reason": "Busy"})
    assert response.status_code == 400
    assert "Please call the clinic" in response.content.decode()
    soon.refresh_from_db()
    assert soon.status == Status.BOOKED
    response = patient_client.post(url("reschedule", soon.pk), {"start": z(local(2026, 5, 12, 10))})
    assert response.status_code == 400
    assert "Please call the clinic" in response.content.decode()
    soon.refresh_from_db()
    assert soon.start == local(2026, 5, 5, 16)


def test_cancelling_frees_the_time(
    patient_client, patient, open_clinic, django_capture_on_commit_callbacks
):
    when = local(2026, 5, 8, 10)
    appointment = book(patient, when)
    day = url("day", CONSULTATION, "2026-05-08")
    other = PatientFactory()
    patient_client.force_login(other.user)
    assert z(when) not in free_starts(htmx(patient_client, day))
    patient_client.force_login(patient.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(url("cancel", appointment.pk), {"reason": "Feeling better"})

    assert response.status_code == 302
    assert response.url == url("appointments")
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancellation_reason == "Feeling better"
    patient_client.force_login(other.user)
    assert z(when) in free_starts(htmx(patient_client, day))
    event = Calendar.from_ical(mail.outbox[0].attachments[0][1]).walk("VEVENT")[0]
    assert event["status"] == "CANCELLED"


def test_cancelling_twice_is_a_409(patient_client, patient, open_clinic):
    appointment = book(patient, local(2026, 5, 8, 10))
    appointment_cancel(appointment=appointment)
    response = patient_client.post(url("cancel", appointment.pk), {})
    assert response.status_code == 409
    assert "cannot be cancelled" in response.content.decode()


def test_a_too_long_cancel_reason_is_a_400(patient_client, patient, open_clinic):
    appointment = book(patient, local(2026, 5, 8, 10))
    response = patient_client.post(url("cancel", appointment.pk), {"reason": "x" * 501})
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_rescheduling_moves_the_appointment(
    patient_client, patient, open_clinic, django_capture_on_commit_callbacks
):
    appointment = book(patient, local(2026, 5, 8, 10))
    page = patient_client.get(url("reschedule", appointment.pk))
    assert page.status_code == 200
    assert page.context["month_view"].month == date(2026, 5, 1)
    # Its own time is offered (it is ignored as busy), and the times link to a POST.
    own_day = htmx(patient_client, url("reschedule", appointment.pk), day="2026-05-08")
    assert "<html" not in own_day.content.decode()
    assert z(local(2026, 5, 8, 10)) in free_starts(own_day)
    partial = htmx(patient_client, url("reschedule", appointment.pk), day="2026-05-11")
    new = local(2026, 5, 11, 14)
    assert z(new) in free_starts(partial)
    assert f'action="{url("reschedule", appointment.pk)}"' in partial.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(url("reschedule", appointment.pk), {"start": z(new)})

    assert response.status_code == 302
    assert response.url == url("appointment", appointment.pk)
    appointment.refresh_from_db()
    assert appointment.start == new
    assert "now on Monday 11 May at 14:00" in patient_client.get(response.url).content.decode()
    event = Calendar.from_ical(mail.outbox[0].attachments[0][1]).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2026, 5, 11, 13, 0, tzinfo=UTC)
    assert event["sequence"] >= 1


def test_rescheduling_to_a_taken_time_is_a_409(patient_client, patient, open_clinic):
    appointment = book(patient, local(2026, 5, 8, 10))
    book(PatientFactory(), local(2026, 5, 11, 14))
    response = patient_client.post(
        url("reschedule", appointment.pk), {"start": z(local(2026, 5, 11, 14))}
    )
    assert response.status_code == 409
    assert "just taken" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.start == local(2026, 5, 8, 10)


def test_rescheduling_a_session_keeps_the_gap_and_names_the_neighbour(
    client, session_patient, course
):
    second = book(session_patient, local(2026, 6, 2, 10), slug="microsclerotherapy")
    page = client.get(url("reschedule", second.pk))
    assert "from Tuesday 2 June 2026" in page.content.decode()
    free = sorted(c.day for week in page.context["month_view"].weeks for c in week if c.url)
    assert free[0] == date(2026, 6, 2)
    assert page.context["month_view"].previous_url == ""

    response = client.post(url("reschedule", second.pk), {"start": z(local(2026, 5, 29, 10))})

    assert response.status_code == 400
    assert "at least 28 days after session 1" in response.content.decode()
    second.refresh_from_db()
    assert second.start == local(2026, 6, 2, 10)

    moved = client.post(url("reschedule", second.pk), {"start": z(local(2026, 6, 9, 10))})
    assert moved.status_code == 302
    second.refresh_from_db()
    assert second.start == local(2026, 6, 9, 10)


@pytest.mark.parametrize("start", ["", "soon", "2026-05-11T14:00"])
def test_rescheduling_with_a_bad_time_is_a_400(patient_client, patient, open_clinic, start):
    appointment = book(patient, local(2026, 5, 8, 10))
    response = patient_client.post(url("reschedule", appointment.pk), {"start": start})
    assert response.status_code == 400
    assert "not one we offered" in response.content.decode()


def test_a_huge_appointment_id_is_not_found(patient_client):
    assert patient_client.get("/my/appointments/99999999999999999999999/").status_code == 404


# --- calendar files and the feed ----------------------------------------------------


def test_the_ics_download_parses(patient_client, patient, open_clinic):
    appointment = book(patient, local(2026, 5, 8, 10))
    response = patient_client.get(url("appointment_ics", appointment.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime(2026, 5, 8, 9, 0, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 5, 8, 9, 30, tzinfo=UTC)
    assert "Leeds" in str(event["location"])


def test_the_feed_lists_the_patients_appointments_and_reset_kills_the_old_address(
    client, patient, open_clinic
):
    booked = book(patient, local(2026, 5, 8, 10))
    cancelled = AppointmentFactory(
        patient=patient, start=local(2026, 5, 12, 10), end=local(2026, 5, 12, 10, 30)
    )
    appointment_cancel(appointment=cancelled)
    AppointmentFactory(
        patient=patient,
        start=local(2026, 1, 5, 10),
        end=local(2026, 1, 5, 10, 30),
        status=Status.COMPLETED,
    )  # more than 90 days back
    someone_else = book(PatientFactory(), local(2026, 5, 13, 10))
    client.force_login(patient.user)

    page = client.get(url("feed_settings"))
    feed = CalendarFeed.objects.get(user=patient.user)
    assert page.context["feed_url"].endswith(url("feed", feed.token))
    assert len(feed.token) >= 40
    assert client.get(url("feed_settings")).context["feed_url"] == page.context["feed_url"]

    client.logout()
    response = client.get(url("feed", feed.token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = {str(e["uid"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert set(events) == {
        f"appointment-{booked.pk}@veinline",
        f"appointment-{cancelled.pk}@veinline",
    }
    assert events[f"appointment-{cancelled.pk}@veinline"]["status"] == "CANCELLED"
    assert events[f"appointment-{booked.pk}@veinline"]["status"] == "CONFIRMED"
    assert f"appointment-{someone_else.pk}@veinline" not in response.content.decode()

    client.force_login(patient.user)
    response = client.post(url("feed_settings"))
    assert response.status_code == 302
    client.logout()
    assert client.get(url("feed", feed.token)).status_code == 404
    new = CalendarFeed.objects.get(user=patient.user)
    assert new.token != feed.token
    assert client.get(url("feed", new.token)).status_code == 200


def test_a_staff_members_feed_token_shows_no_patient_diary(client, nurse):
    feed = CalendarFeed.objects.create(user=nurse.user, token="staff-token-123")
    assert client.get(url("feed", feed.token)).status_code == 404


# --- the waiting list ---------------------------------------------------------------


def test_joining_the_waiting_list(patient_client, patient, open_clinic):
    calendar_page = patient_client.get(url("calendar", CONSULTATION)).content.decode()
    assert "Tell me if a time comes free between" in calendar_page
    response = patient_client.post(
        url("waiting_list"),
        {"key": CONSULTATION, "earliest_date": "2026-05-10", "latest_date": "2026-05-20"},
    )
    assert response.status_code == 302
    entry = WaitingListEntry.objects.get(patient=patient)
    assert (entry.earliest_date, entry.latest_date) == (date(2026, 5, 10), date(2026, 5, 20))
    html = patient_client.get(url("start")).content.decode()
    assert "Your waiting list" in html
    assert "10 May 2026 to 20 May 2026" in html

    again = patient_client.post(
        url("waiting_list"),
        {"key": CONSULTATION, "earliest_date": "2026-05-11", "latest_date": "2026-05-21"},
    )
    assert again.status_code == 400
    assert "already on the waiting list" in again.content.decode()


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-05-20", "2026-05-10", "must not be before the first"),
        ("2026-05-01", "2026-05-10", "today or later"),
        ("2026-05-10", "2027-05-10", "at most six months"),
        ("2026-02-30", "2026-05-10", "year-month-day"),
        ("", "2026-05-10", "first date"),
    ],
)
def test_a_bad_waiting_list_range_is_a_400(patient_client, open_clinic, first, last, message):
    response = patient_client.post(
        url("waiting_list"), {"key": CONSULTATION, "earliest_date": first, "latest_date": last}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WaitingListEntry.objects.exists()


def test_the_waiting_list_for_an_unknown_treatment_is_not_found(patient_client, open_clinic):
    response = patient_client.post(
        url("waiting_list"),
        {"key": "nothing-here", "earliest_date": "2026-05-10", "latest_date": "2026-05-20"},
    )
    assert response.status_code == 404


# --- query counts -------------------------------------------------------------------


def _fill_diary(consultant, open_clinic, count: int, first_day: date) -> None:
    """``count`` consultations of other patients, half an hour each, through the month."""
    room = open_clinic.rooms.get(kind="consulting")
    day, hour = first_day, 9
    for _ in range(count):
        start = local(day.year, day.month, day.day, hour)
        AppointmentFactory(start=start, end=start + timedelta(minutes=30), consultant=consultant,
                           room=room)  # fmt: skip
        hour += 1
        if hour >= 16:
            day, hour = day + timedelta(days=1), 9
            while day.weekday() >= 5:
                day += timedelta(days=1)


def test_month_and_day_query_counts_do_not_grow_with_the_diary(
    patient_client, consultant, open_clinic, django_assert_max_num_queries
):
    _fill_diary(consultant, open_clinic, 1, date(2026, 5, 5))
    with django_assert_max_num_queries(30) as month_one:
        patient_client.get(url("calendar", CONSULTATION))
    with django_assert_max_num_queries(30) as day_one:
        htmx(patient_client, url("day", CONSULTATION, "2026-05-05"))

    _fill_diary(consultant, open_clinic, 60, date(2026, 5, 6))
    with django_assert_max_num_queries(30) as month_many:
        response = patient_client.get(url("calendar", CONSULTATION))
    with django_assert_max_num_queries(30) as day_many:
        day = htmx(patient_client, url("day", CONSULTATION, "2026-05-06"))
    assert date(2026, 5, 6) in {c.day for w in response.context["month_view"].weeks for c in w}
    assert z(local(2026, 5, 6, 9)) not in free_starts(day)  # the diary was read
    assert len(month_many.captured_queries) == len(month_one.captured_queries)
    assert len(day_many.captured_queries) == len(day_one.captured_queries)


def _my_appointments(patient, count: int, schedule, course, session_day: int) -> None:
    schedule(course, local(2026, 5, session_day, 10))  # one treatment session among them
    for n in range(count - 1):
        start = local(2026, 6, 1, 9) + timedelta(days=n)
        AppointmentFactory(patient=patient, start=start, end=start + timedelta(minutes=30))


def test_my_appointments_query_count_does_not_grow(
    client, course, schedule, django_assert_max_num_queries
):
    patient = course.patient
    client.force_login(patient.user)
    _my_appointments(patient, 1, schedule, course, 20)
    with django_assert_max_num_queries(15) as one:
        response = client.get(url("appointments"))
    assert len(response.context["upcoming"]) == 1

    other = CourseFactory(patient=patient)
    _my_appointments(patient, 30, schedule, other, 21)
    with django_assert_max_num_queries(15) as thirty:
        response = client.get(url("appointments"))
    assert len(response.context["upcoming"]) == 31
    assert "session 1 of 3" in response.content.decode()
    assert len(thirty.captured_queries) == len(one.captured_queries)


def test_feed_and_start_query_counts_do_not_grow(
    client, patient, open_clinic, django_assert_max_num_queries
):
    book(patient, local(2026, 5, 8, 10))
    feed = CalendarFeed.objects.create(user=patient.user, token="feed-token-abc")
    WaitingListEntry.objects.create(
        patient=patient,
        treatment=treatment("reassessment"),
        earliest_date=date(2026, 5, 10),
        latest_date=date(2026, 5, 20),
    )
    client.force_login(patient.user)
    with django_assert_max_num_queries(20) as start_one:
        client.get(url("start"))
    client.logout()
    with django_assert_max_num_queries(6) as feed_one:
        client.get(url("feed", feed.token))

    for n in range(30):
        start = local(2026, 6, 1, 9) + timedelta(days=n)
        AppointmentFactory(patient=patient, start=start, end=start + timedelta(minutes=30))
    WaitingListEntry.objects.create(
        patient=patient,
        treatment=treatment("foam-sclerotherapy"),
        earliest_date=date(2026, 5, 10),
        latest_date=date(2026, 5, 20),
    )
    with django_assert_max_num_queries(6) as feed_many:
        response = client.get(url("feed", feed.token))
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 31
    client.force_login(patient.user)
    with django_assert_max_num_queries(20) as start_many:
        response = client.get(url("start"))
    assert len(response.context["waiting"]) == 2
    assert len(feed_many.captured_queries) == len(feed_one.captured_queries)
    assert len(start_many.captured_queries) == len(start_one.captured_queries)

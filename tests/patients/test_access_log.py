"""The access audit: every staff page that shows one patient's record notes who opened it
(patients.audit.record_viewed), without health data; the patient reads the list at
/my/record/access/."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from patients.audit import PER_PAGE, REPEAT_WINDOW
from patients.models import Patient, RecordAccess
from treatments.models import Course, SessionRecord

from ..factories import (
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    ScreeningFactory,
    UserFactory,
    local,
)

pytestmark = pytest.mark.django_db

ACCESS_URL = reverse("patients:access_log")

# Health data and identity the fixtures put into the record; none may reach the audit rows.
SECRETS = [
    "Quillfeather",  # the patient's surname
    "Ottoline",  # the patient's first name
    "ottoline@example.org",
    "warfarin-XYZ",  # medicines on the screening
    "migraine-QRS",  # other conditions on the screening
    "hot-baths-PLAN",  # the consultant's plan notes
    "clotting",  # a screening question that was answered yes
    "Tolerated-NOTE",  # the nurse's notes on the session
    "Nina Simone",  # the music the patient asked for
]
RECORD = {
    "legs_treated": "both",
    "treated_areas": ["left_calf_back_medial", "right_knee_back"],
    "sclerosant": "Sodium tetradecyl sulphate (STS)",
    "concentration_percent": "0.5",
    "total_volume_ml": "2.5",
    "injections": "14",
    "discomfort": "3",
    "music_requested": "Nina Simone",
    "notes": "Tolerated-NOTE",
    "discharge_walk_minutes": "12",
}
LABELS = {
    "session record",
    "consent signing",
    "consultation",
    "course review",
    "screening",
    "booking",
    "session booking",
    "appointment (to move)",
    "appointment (to cancel)",
}
REF = re.compile(r"[a-z]+:\d+", re.ASCII)


def ahead(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def at(day: date, hour: int) -> datetime:
    return local(day.year, day.month, day.day, hour)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def record_patient(db) -> Patient:
    """A patient with a name, a flagged screening with notes, and a course with notes."""
    patient = PatientFactory(
        user=UserFactory(
            first_name="Ottoline",
            last_name="Quillfeather",
            email="ottoline@example.org",
            roles=["Patient"],
        )
    )
    ScreeningFactory(
        patient=patient,
        clotting_disorder=True,
        medicines="warfarin-XYZ",
        other_conditions="migraine-QRS",
    )
    return patient


@pytest.fixture
def planned(record_patient) -> Course:
    return CourseFactory(patient=record_patient, plan_notes="hot-baths-PLAN")


@pytest.fixture
def session(planned, schedule) -> SessionRecord:
    """Session 1 of the course, today at 10:00, consent not yet signed."""
    today = timezone.localdate()
    return schedule(planned, local(today.year, today.month, today.day, 10))


@pytest.fixture
def booked(record_patient) -> Appointment:
    """A consultation in the diary three days ahead."""
    day = ahead(3)
    return AppointmentFactory(
        patient=record_patient, start=at(day, 9), end=at(day, 9) + timedelta(minutes=30)
    )


def staff_pages(planned: Course, session: SessionRecord, booked: Appointment) -> list[tuple]:
    """(url, label, ref, roles that may open it) for every staff page about one patient."""
    patient = planned.patient
    screening = patient.screening
    return [
        (
            reverse("treatments:session_detail", args=[session.pk]),
            "session record",
            f"session:{session.pk}",
        ),
        (
            reverse("treatments:session_take_consent", args=[session.pk]),
            "consent signing",
            f"session:{session.pk}",
        ),
        (
            reverse("treatments:course_plan", args=[planned.consultation_id]),
            "consultation",
            f"consultation:{planned.consultation_id}",
        ),
        (
            reverse("treatments:course_review", args=[planned.pk]),
            "course review",
            f"course:{planned.pk}",
        ),
        (
            reverse("treatments:screening_review", args=[patient.pk]),
            "screening",
            f"screening:{screening.pk}",
        ),
        (
            reverse("bookings:book_for_patient") + f"?patient={patient.pk}",
            "booking",
            f"patient:{patient.pk}",
        ),
        (
            reverse("bookings:session_new", args=[planned.pk]),
            "session booking",
            f"course:{planned.pk}",
        ),
        (
            reverse("bookings:reschedule", args=[booked.pk]),
            "appointment (to move)",
            f"appointment:{booked.pk}",
        ),
        (
            reverse("bookings:cancel", args=[booked.pk]),
            "appointment (to cancel)",
            f"appointment:{booked.pk}",
        ),
    ]


PAGE_IDS = [
    "session_detail",
    "take_consent",
    "course_plan",
    "course_review",
    "screening_review",
    "book_for_patient",
    "session_new",
    "reschedule",
    "cancel",
]


@pytest.fixture
def pages(planned, session, booked) -> list[tuple]:
    return staff_pages(planned, session, booked)


# --- staff pages write one row each -----------------------------------------------------------


@pytest.mark.parametrize("index", range(len(PAGE_IDS)), ids=PAGE_IDS)
def test_each_staff_page_about_one_patient_writes_one_row(
    client: Client, consultant, pages, record_patient, index
):
    url, label, ref = pages[index]
    client.force_login(consultant.user)
    response = client.get(url)
    assert response.status_code == 200, url

    row = RecordAccess.objects.get()
    assert (row.user_id, row.patient_id, row.what, row.ref, row.reason) == (
        consultant.user.pk,
        record_patient.pk,
        label,
        ref,
        "",
    )
    assert abs(row.at - timezone.now()) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "name",
    ["session_detail", "take_consent", "course_review", "book_for_patient", "reschedule"],
)
def test_a_nurse_is_recorded_as_herself(client: Client, nurse, pages, record_patient, name):
    url, label, _ = pages[PAGE_IDS.index(name)]
    client.force_login(nurse.user)
    assert client.get(url).status_code == 200
    row = RecordAccess.objects.get()
    assert (row.user_id, row.patient_id, row.what) == (nurse.user.pk, record_patient.pk, label)


def test_the_rows_hold_no_names_and_no_health_data(client: Client, consultant, pages):
    client.force_login(consultant.user)
    for url, _, _ in pages:
        assert (
            client.get(url + ("&" if "?" in url else "?") + "reason=Clinic+audit").status_code
            == 200
        )
    rows = list(RecordAccess.objects.all())
    assert len(rows) == len(pages)
    for row in rows:
        text = " ".join([row.what, row.ref, row.reason]).lower()
        for secret in SECRETS:
            assert secret.lower() not in text, (secret, text)
        assert row.what in LABELS
        assert REF.fullmatch(row.ref), row.ref
        assert row.reason == "Clinic audit"


def test_a_reason_in_the_address_is_kept_on_one_line(consultant_client, planned, consultant):
    url = reverse("treatments:course_review", args=[planned.pk])
    reason = "Patient\r\nrang   about\tbruising " + "x" * 400
    consultant_client.get(url, {"reason": reason})
    row = RecordAccess.objects.get()
    assert row.reason.startswith("Patient rang about bruising xxx")
    assert len(row.reason) == 255
    assert "\n" not in row.reason and "\t" not in row.reason


def test_opening_the_same_page_again_soon_adds_no_row(consultant_client, planned):
    url = reverse("treatments:course_review", args=[planned.pk])
    for _ in range(5):
        assert consultant_client.get(url).status_code == 200
    assert RecordAccess.objects.count() == 1


def test_opening_it_again_after_the_window_adds_a_row(consultant_client, planned):
    url = reverse("treatments:course_review", args=[planned.pk])
    consultant_client.get(url)
    RecordAccess.objects.update(at=timezone.now() - REPEAT_WINDOW - timedelta(seconds=1))
    consultant_client.get(url)
    assert RecordAccess.objects.count() == 2


def test_a_reason_always_adds_a_row(consultant_client, planned):
    url = reverse("treatments:course_review", args=[planned.pk])
    consultant_client.get(url)
    consultant_client.get(url, {"reason": "Checking before the call"})
    assert list(RecordAccess.objects.order_by("pk").values_list("reason", flat=True)) == [
        "",
        "Checking before the call",
    ]


def test_another_member_of_staff_gets_their_own_row(client: Client, planned, consultant, nurse):
    url = reverse("treatments:course_review", args=[planned.pk])
    for member in (consultant, nurse, consultant):
        client.force_login(member.user)
        client.get(url)
    assert sorted(RecordAccess.objects.values_list("user_id", flat=True)) == sorted(
        [consultant.user.pk, nurse.user.pk]
    )


def test_a_different_page_of_the_same_patient_is_its_own_row(consultant_client, planned):
    consultant_client.get(reverse("treatments:course_review", args=[planned.pk]))
    consultant_client.get(reverse("treatments:screening_review", args=[planned.patient_id]))
    assert set(RecordAccess.objects.values_list("what", flat=True)) == {
        "course review",
        "screening",
    }


# --- actions do not flood the log -------------------------------------------------------------


def test_working_through_a_session_adds_one_row(client: Client, nurse, session, sign_consent):
    """Open the screen, then confirm consent, start, record, fit a stocking and complete it:
    each action posts and comes back to the screen, which is the same look."""
    sign_consent(session.course)
    client.force_login(nurse.user)
    screen = reverse("treatments:session_detail", args=[session.pk])
    assert client.get(screen).status_code == 200

    def act(name: str, data: dict | None = None) -> None:
        response = client.post(
            reverse(f"treatments:session_{name}", args=[session.pk]), data or {}, follow=True
        )
        assert response.status_code == 200, name

    act("confirm_consent")
    act("start")
    act("record", RECORD)
    for leg in ("left", "right"):
        act("stockings", {"leg": leg, "compression_class": "2", "length": "thigh"})
    act("complete")
    session.refresh_from_db()
    assert session.status == SessionRecord.Status.COMPLETED
    row = RecordAccess.objects.get()
    text = " ".join([row.what, row.ref, row.reason]).lower()
    assert not [secret for secret in SECRETS if secret.lower() in text]


def test_a_refused_post_adds_no_row(consultant_client, planned):
    response = consultant_client.post(
        reverse("treatments:course_extend", args=[planned.pk]), {"to_sessions": "", "reason": ""}
    )
    assert response.status_code == 400
    assert not RecordAccess.objects.exists()


@pytest.mark.parametrize("name", ["reschedule", "cancel"])
def test_diary_posts_add_no_row(nurse_client, booked, name):
    response = nurse_client.post(reverse(f"bookings:{name}", args=[booked.pk]), {})
    assert response.status_code == 400
    assert not RecordAccess.objects.exists()


def test_htmx_partials_of_a_noted_page_add_no_row(consultant_client, planned):
    url = reverse("treatments:course_review", args=[planned.pk])
    response = consultant_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert not RecordAccess.objects.exists()


def test_the_booking_panel_is_noted_once_as_it_is_redrawn(nurse_client, record_patient):
    """The panel is drawn by htmx when the patient is chosen, then again for each change of
    treatment or day: one row."""
    url = reverse("bookings:book_for_patient")
    htmx = {"HX-Request": "true"}
    assert nurse_client.get(url, headers=htmx).status_code == 200  # no patient yet
    assert not RecordAccess.objects.exists()
    for day in ("", ahead(1).isoformat(), ahead(2).isoformat()):
        query = {"patient": record_patient.pk, "day": day}
        assert nurse_client.get(url, query, headers=htmx).status_code == 200
    row = RecordAccess.objects.get()
    assert (row.what, row.ref) == ("booking", f"patient:{record_patient.pk}")


def test_the_day_list_and_diary_add_no_rows(nurse_client, session, booked):
    """Lists of many patients are not a look at one record."""
    assert nurse_client.get(reverse("treatments:day_list")).status_code == 200
    assert (
        nurse_client.get(reverse("bookings:diary"), {"day": ahead(3).isoformat()}).status_code
        == 200
    )
    assert nurse_client.get(reverse("aftercare:staff_list")).status_code == 200
    assert not RecordAccess.objects.exists()


def test_a_missing_record_adds_no_row(consultant_client):
    assert (
        consultant_client.get(reverse("treatments:course_review", args=[999999])).status_code == 404
    )
    assert not RecordAccess.objects.exists()


# --- the patient's own pages are not logged ---------------------------------------------------


def test_a_patient_reading_their_own_pages_adds_no_row(client: Client, planned, booked):
    client.force_login(planned.patient.user)
    for name in ["dashboard", "screening", "record", "profile", "export_print", "access_log"]:
        assert client.get(reverse(f"patients:{name}")).status_code == 200, name
    assert client.get(reverse("booking:appointments")).status_code == 200
    assert not RecordAccess.objects.exists()


def test_staff_who_are_also_the_patient_are_not_logged(client: Client, planned):
    """A consultant who is treated at their own clinic reads their own record: no row (the
    service's rule)."""
    member = ConsultantFactory(user=planned.patient.user)
    client.force_login(member.user)
    assert client.get(reverse("treatments:course_review", args=[planned.pk])).status_code == 200
    assert not RecordAccess.objects.exists()


# --- the patient's page -----------------------------------------------------------------------


def _log(patient: Patient, user, *, what: str = "course review", ref: str = "course:1", **extra):
    return RecordAccess.objects.create(
        user=user, patient=patient, what=what, ref=ref, at=extra.pop("at", timezone.now()), **extra
    )


def test_the_page_lists_who_looked_newest_first_in_uk_time(client: Client, patient):
    nurse = NurseFactory(user=UserFactory(first_name="Wilhelmina", last_name="Ash"))
    consultant = ConsultantFactory(user=UserFactory(first_name="Barnaby", last_name="Rook"))
    # 13:05 UTC on a summer day is 14:05 in London.
    _log(patient, nurse.user, what="session record", at=datetime(2026, 6, 1, 13, 5, tzinfo=UTC))
    _log(
        patient,
        consultant.user,
        what="screening",
        reason="Before your consultation",
        at=datetime(2026, 6, 2, 8, 30, tzinfo=UTC),
    )
    client.force_login(patient.user)
    response = client.get(ACCESS_URL)
    assert response.status_code == 200
    page = response.content.decode()
    rows = page.split('data-testid="access-row"')[1:]
    assert len(rows) == 2
    assert "Dr Barnaby Rook" in rows[0] and "Consultant" in rows[0]
    assert "Screening" in rows[0] and "Before your consultation" in rows[0]
    assert "2 Jun 2026" in rows[0] and "09:30" in rows[0]
    assert "Wilhelmina Ash" in rows[1] and "Nurse" in rows[1]
    assert "Session record" in rows[1] and "No reason given" in rows[1]
    assert "1 Jun 2026" in rows[1] and "14:05" in rows[1]


def test_staff_without_a_staff_record_are_shown_by_name(client: Client, patient):
    admin = UserFactory(first_name="Sam", last_name="Keeper", is_staff=True, is_superuser=True)
    _log(patient, admin)
    client.force_login(patient.user)
    page = client.get(ACCESS_URL).content.decode()
    assert "Sam Keeper" in page and "Clinic staff" in page


def test_the_page_says_so_when_nobody_has_looked(patient_client):
    page = patient_client.get(ACCESS_URL).content.decode()
    assert 'data-testid="access-empty"' in page
    assert 'data-testid="access-row"' not in page


def test_a_patient_never_sees_another_patients_rows(client: Client, patient, consultant):
    other = PatientFactory()
    _log(other, consultant.user, what="screening", reason="OTHER-PATIENT-REASON")
    _log(patient, consultant.user, what="course review", reason="MINE")
    client.force_login(patient.user)
    page = client.get(ACCESS_URL).content.decode()
    assert page.count('data-testid="access-row"') == 1
    assert "MINE" in page and "OTHER-PATIENT-REASON" not in page
    # No parameter reaches another patient's list.
    for query in (f"?patient={other.pk}", f"?patient_id={other.pk}", f"?user={other.user_id}"):
        assert "OTHER-PATIENT-REASON" not in client.get(ACCESS_URL + query).content.decode()


def test_reasons_are_shown_as_text(client: Client, patient, consultant):
    _log(patient, consultant.user, reason="<script>alert(1)</script>")
    client.force_login(patient.user)
    page = client.get(ACCESS_URL).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_anonymous_visitors_are_sent_to_log_in(client: Client):
    response = client.get(ACCESS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory, ClinicAdminFactory])
def test_staff_are_refused(client: Client, factory):
    client.force_login(factory().user)
    assert client.get(ACCESS_URL).status_code == 403


def test_it_is_get_only(patient_client):
    assert patient_client.post(ACCESS_URL).status_code == 405


def test_the_record_page_links_to_it(patient_client):
    page = patient_client.get(reverse("patients:record")).content.decode()
    assert f'href="{ACCESS_URL}"' in page


def test_pages_of_fifty_newest_first(client: Client, patient, consultant):
    start = timezone.now() - timedelta(days=10)
    for n in range(PER_PAGE + 7):
        _log(
            patient,
            consultant.user,
            ref=f"course:{n}",
            reason=f"R{n:03d}",
            at=start + timedelta(minutes=n),
        )
    client.force_login(patient.user)
    first = client.get(ACCESS_URL).content.decode()
    assert first.count('data-testid="access-row"') == PER_PAGE
    assert "R056" in first and "R007" in first and "R006" not in first
    assert "page 1 of 2" in first
    assert 'href="?page=2"' in first
    second = client.get(ACCESS_URL, {"page": 2}).content.decode()
    assert second.count('data-testid="access-row"') == 7
    assert "R006" in second and "R000" in second and "R007" not in second
    # A page that is not there, or not a number, shows a real page instead of an error.
    for wrong in ("99", "abc", "-1", "1" * 40):
        response = client.get(ACCESS_URL, {"page": wrong})
        assert response.status_code == 200, wrong


def test_the_page_runs_the_same_queries_for_1_and_60_rows(
    client: Client, patient, django_assert_max_num_queries
):
    staff = [NurseFactory(), ConsultantFactory(), ClinicAdminFactory()]
    admin_without_record = UserFactory(is_superuser=True, is_staff=True)
    _log(patient, staff[0].user)
    client.force_login(patient.user)
    client.get(ACCESS_URL)  # warm up (session, caches)
    with django_assert_max_num_queries(12) as one:
        response = client.get(ACCESS_URL)
    assert response.content.decode().count('data-testid="access-row"') == 1

    users = [s.user for s in staff] + [admin_without_record]
    for n in range(59):
        _log(patient, users[n % len(users)], reason=f"reason {n}")
    with django_assert_max_num_queries(12) as sixty:
        response = client.get(ACCESS_URL, {"page": 2})
    assert response.content.decode().count('data-testid="access-row"') == 10
    assert len(sixty.captured_queries) == len(one.captured_queries)


def test_the_audit_costs_staff_pages_a_fixed_number_of_queries(
    consultant_client, planned, django_assert_max_num_queries
):
    """Three queries on a first look (was it seen lately, is it the reader's own record,
    the new row); one on a repeat look."""
    url = reverse("treatments:course_review", args=[planned.pk])
    consultant_client.get(url)
    RecordAccess.objects.all().delete()
    with django_assert_max_num_queries(100) as first:
        consultant_client.get(url)
    with django_assert_max_num_queries(100) as repeat:
        consultant_client.get(url)
    audit = [q["sql"] for q in first.captured_queries if "patients_recordaccess" in q["sql"]]
    assert len(first.captured_queries) - len(repeat.captured_queries) == 2
    assert len(audit) == 2  # the window check and the insert


# --- the admin's clinical pages ------------------------------------------------------------


def test_a_clinic_admin_opening_clinical_records_in_the_admin_is_logged(
    client, clinic_admin, session_today
):
    patient = session_today.course.patient
    client.force_login(clinic_admin.user)
    pages = [
        ("treatments_sessionrecord_change", session_today.pk, "admin record", "sessionrecord"),
        ("treatments_sessionrecord_history", session_today.pk, "admin history", "sessionrecord"),
        ("treatments_course_change", session_today.course.pk, "admin record", "course"),
        ("patients_patient_change", session_today.course.patient.pk, "admin record", "patient"),
    ]
    for name, pk, what, model in pages:
        assert client.get(reverse(f"admin:{name}", args=[pk])).status_code == 200
        row = RecordAccess.objects.get(what=what, ref=f"{model}:{pk}")
        assert row.user == clinic_admin.user and row.patient == patient
    # A repeat look soon after adds nothing; an unknown id adds nothing.
    client.get(reverse("admin:treatments_course_change", args=[session_today.course.pk]))
    client.get(reverse("admin:treatments_course_change", args=[999999]))
    assert RecordAccess.objects.count() == 4

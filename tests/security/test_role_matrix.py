"""What each role may do, as a table, checked against the pages and the services.

``MATRIX`` is the specification: one row per thing a person does, with the outcome for a
patient, a nurse, a consultant and a clinic admin. Each row is run for each role on a
fresh world (patient B part-way through a course), and checks the status code AND the
database: a refused request changes nothing, a write that is allowed changes what it
should. ``clinic.permissions.RULES`` (what the views enforce) must say the same as the
rows of this table; ``SERVICE_MATRIX`` checks that the services refuse the wrong role
too, whatever page calls them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare import flags
from aftercare.models import CourseFlag
from bookings.availability import free_slots
from bookings.forms_patient import format_instant
from bookings.models import Appointment
from bookings.services import appointment_cancel
from clinic.errors import PermissionRefused
from clinic.models import Room, StaffMember
from clinic.permissions import RULES, Action, can
from clinic.roles import Role
from patients.models import AccountClosureRequest, Patient, Screening
from patients.services import account_closure_complete, screening_review
from treatments import services as treatment_services
from treatments.models import Course, Legs, Price, SessionRecord

from ..factories import AppointmentFactory, PatientFactory, ScreeningFactory, treatment
from .conftest import PatientWorld, build_patient_world, database_fingerprint

pytestmark = pytest.mark.django_db

ROLES = ("patient", "nurse", "consultant", "clinic_admin")
ROLE_NAMES = {
    "patient": Role.PATIENT,
    "nurse": Role.NURSE,
    "consultant": Role.CONSULTANT,
    "clinic_admin": Role.CLINIC_ADMIN,
}


class Outcome(enum.Enum):
    SHOWN = "200"
    DONE = "302 saved"
    FORBIDDEN = "403"
    ADMIN_LOGIN = "admin login"

    @property
    def allowed(self) -> bool:
        return self in (Outcome.SHOWN, Outcome.DONE)


SHOWN, DONE, NO, ADMIN_LOGIN = Outcome.SHOWN, Outcome.DONE, Outcome.FORBIDDEN, Outcome.ADMIN_LOGIN


@dataclass
class RoleWorld:
    b: PatientWorld
    nurse: StaffMember
    consultant: StaffMember
    clinic_admin: StaffMember
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, role: str) -> Any:
        if role == "patient":
            return self.b.patient.user
        return getattr(self, role).user

    def staff(self, role: str) -> StaffMember | None:
        return None if role == "patient" else getattr(self, role)


@pytest.fixture
def rw(nurse, consultant, clinic_admin, treatment_room, open_clinic) -> RoleWorld:
    """Patient B's world in a clinic open Monday to Friday, with its staff."""
    return RoleWorld(
        b=build_patient_world(nurse=nurse, consultant=consultant, room=treatment_room, hour=12),
        nurse=nurse,
        consultant=consultant,
        clinic_admin=clinic_admin,
    )


# --- preparing the world for a row --------------------------------------------------------------


def session_in_progress(w: RoleWorld) -> None:
    """B's next session started, recorded and with stockings on: ready to complete."""
    session = w.b.next_session
    treatment_services.session_confirm_consent(session=session, nurse=w.nurse)
    treatment_services.session_start(session=session, by=w.nurse)
    treatment_services.session_record(session=session, by=w.nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(w.b.course.legs):
        treatment_services.session_fit_stocking(
            session=session, by=w.nurse, leg=leg, compression_class="2", length="thigh"
        )


def consent_withdrawn(w: RoleWorld) -> None:
    """B withdrew consent: the nurse takes it again in clinic."""
    treatment_services.consent_withdraw(consent=w.b.consent, reason="Wants to think again")


def consultation_to_plan(w: RoleWorld) -> None:
    """Patient C: screened (nothing flagged), consultation completed, no course yet."""
    patient = PatientFactory()
    ScreeningFactory(patient=patient)
    w.extra["c"] = patient
    w.extra["consultation"] = AppointmentFactory(
        patient=patient, consultant=w.consultant, status=Appointment.Status.COMPLETED
    )


def no_upcoming_appointments(w: RoleWorld) -> None:
    """An account is closed only once nothing is left in the diary."""
    appointment_cancel(appointment=w.b.appointment, by_staff=w.nurse, reason="Closing")


def free_time_to_move_to(w: RoleWorld) -> None:
    """A free time for B's next session on a weekday at least 36 days ahead."""
    appointment = w.b.appointment
    day = timezone.localdate() + timedelta(days=36)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slots = free_slots(
        treatment=appointment.treatment,
        minutes=appointment.minutes,
        first_day=day,
        last_day=day,
        patient=appointment.patient,
        window=None,
        ignore_appointment_id=appointment.pk,
        consultant_id=w.b.course.consultant_id,
    ).get(day, [])
    assert slots, "the open clinic has free times on a weekday"
    w.extra["start"] = format_instant(slots[0].start)


# --- reading what changed -------------------------------------------------------------------------


def session_of(w: RoleWorld) -> SessionRecord:
    return SessionRecord.objects.get(pk=w.b.next_session.pk)


def course_of(w: RoleWorld) -> Course:
    return Course.objects.get(pk=w.b.course.pk)


def appointment_of(w: RoleWorld) -> Appointment:
    return Appointment.objects.get(pk=w.b.appointment.pk)


def a_price_in_force(w: RoleWorld) -> None:
    """A price of the published list in force today with no end date: the admin ends it."""
    today = timezone.localdate()
    price = (
        Price.objects.filter(effective_from__lte=today, effective_until__isnull=True)
        .order_by("pk")
        .first()
    )
    assert price is not None, "the seeded price list has prices in force"
    w.extra["price"] = price.pk


def admin_form_data(url: str, admin_user: Any, **changes: Any) -> dict[str, Any]:
    """What the admin's change form would post back unchanged, with ``changes`` on top."""
    client = Client()
    client.force_login(admin_user)
    form = client.get(url).context["adminform"].form
    data: dict[str, Any] = {"_save": "Save"}
    for name, form_field in form.fields.items():
        value = form[name].value()
        if isinstance(form_field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    data.update(changes)
    return data


# --- the matrix -------------------------------------------------------------------------------


def roles(patient: Outcome, nurse: Outcome, consultant: Outcome, admin: Outcome) -> dict:
    return {"patient": patient, "nurse": nurse, "consultant": consultant, "clinic_admin": admin}


CLINICAL_READ = roles(NO, SHOWN, SHOWN, NO)
CLINICAL_WRITE = roles(NO, DONE, DONE, NO)
CONSULTANT_WRITE = roles(NO, NO, DONE, NO)
DIARY_WRITE = roles(NO, DONE, DONE, DONE)
ADMIN_READ = roles(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, SHOWN)
ADMIN_WRITE = roles(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, DONE)

W = RoleWorld


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    url: Callable[[W], str]
    expect: dict[str, Outcome]
    action: Action | None  # the RULES entry the row proves (None: the admin site)
    data: Callable[[W], dict[str, Any]] = field(default=lambda w: {})
    probe: Callable[[W], Any] | None = None  # writes: what the write changes
    prepare: Callable[[W], None] | None = None


def session_url(name: str) -> Callable[[W], str]:
    return lambda w: reverse(f"treatments:{name}", args=[w.b.next_session.pk])


def course_url(name: str) -> Callable[[W], str]:
    return lambda w: reverse(f"treatments:{name}", args=[w.b.course.pk])


def diary_url(name: str) -> Callable[[W], str]:
    return lambda w: reverse(f"bookings:{name}", args=[w.b.appointment.pk])


MATRIX: list[Row] = [
    Row(
        "see a patient's own pages",
        "GET",
        lambda w: reverse("patients:dashboard"),
        roles(SHOWN, NO, NO, NO),
        Action.USE_OWN_PAGES,
    ),
    Row(
        "see the day list",
        "GET",
        lambda w: reverse("treatments:day_list"),
        CLINICAL_READ,
        Action.SEE_DAY_LIST,
    ),
    Row("open a session", "GET", session_url("session_detail"), CLINICAL_READ, Action.OPEN_SESSION),
    Row(
        "confirm consent",
        "POST",
        session_url("session_confirm_consent"),
        CLINICAL_WRITE,
        Action.CONFIRM_CONSENT,
        probe=lambda w: session_of(w).status,
    ),
    Row(
        "take consent in clinic (the form)",
        "GET",
        session_url("session_take_consent"),
        CLINICAL_READ,
        Action.TAKE_CONSENT,
        prepare=consent_withdrawn,
    ),
    Row(
        "record a session",
        "POST",
        session_url("session_record"),
        CLINICAL_WRITE,
        Action.RUN_SESSION,
        data=lambda w: {
            "legs_treated": Legs.BOTH,
            "sclerosant": "STS 0.5%",
            "notes": "Patient comfortable throughout.",
        },
        probe=lambda w: session_of(w).notes,
    ),
    Row(
        "complete a session",
        "POST",
        session_url("session_complete"),
        CLINICAL_WRITE,
        Action.RUN_SESSION,
        probe=lambda w: session_of(w).status,
        prepare=session_in_progress,
    ),
    Row(
        "see consultations awaiting a plan",
        "GET",
        lambda w: reverse("treatments:consultant_home"),
        roles(NO, NO, SHOWN, NO),
        Action.SEE_CONSULTANT_DESK,
    ),
    Row(
        "plan a course",
        "POST",
        lambda w: reverse("treatments:course_plan", args=[w.extra["consultation"].pk]),
        CONSULTANT_WRITE,
        Action.PLAN_COURSE,
        data=lambda w: {
            "treatment": treatment("microsclerotherapy").pk,
            "planned_sessions": 3,
            "min_gap_days": 28,
            "legs": Legs.BOTH,
            "plan_notes": "",
        },
        probe=lambda w: Course.objects.filter(patient=w.extra["c"]).count(),
        prepare=consultation_to_plan,
    ),
    Row(
        "see the course review",
        "GET",
        course_url("course_review"),
        CLINICAL_READ,
        Action.SEE_COURSE_REVIEW,
    ),
    Row(
        "extend a course",
        "POST",
        course_url("course_extend"),
        CONSULTANT_WRITE,
        Action.EXTEND_COURSE,
        data=lambda w: {"to_sessions": 4, "reason": "More veins on the right calf."},
        probe=lambda w: course_of(w).planned_sessions,
    ),
    Row(
        "close a course",
        "POST",
        course_url("course_close"),
        CONSULTANT_WRITE,
        Action.CLOSE_COURSE,
        data=lambda w: {"status": Course.Status.DISCONTINUED, "reason": "Moving away."},
        probe=lambda w: course_of(w).status,
    ),
    Row(
        "review a screening",
        "POST",
        lambda w: reverse("treatments:screening_review", args=[w.b.patient.pk]),
        CONSULTANT_WRITE,
        Action.REVIEW_SCREENING,
        data=lambda w: {"notes": "Anticoagulant noted; fine to treat with care."},
        probe=lambda w: Screening.objects.get(patient=w.b.patient).reviewed_at,
    ),
    Row(
        "see the diary",
        "GET",
        lambda w: reverse("bookings:diary"),
        roles(NO, SHOWN, SHOWN, SHOWN),
        Action.USE_DIARY,
    ),
    Row(
        "book for a patient in the diary",
        "POST",
        lambda w: reverse("bookings:consultation_new"),
        DIARY_WRITE,
        Action.USE_DIARY,
        data=lambda w: {
            "patient": w.b.patient.pk,
            "treatment": treatment("initial-consultation").pk,
            "day": (timezone.localdate() + timedelta(days=1)).isoformat(),
            "time": "15:00",
            "minutes": 30,
            "consultant": w.consultant.pk,
            "room": Room.objects.filter(kind=Room.Kind.CONSULTING).order_by("pk").first().pk,  # type: ignore[union-attr]
        },
        probe=lambda w: Appointment.objects.filter(patient=w.b.patient).count(),
    ),
    Row(
        "move an appointment in the diary",
        "POST",
        diary_url("reschedule"),
        DIARY_WRITE,
        Action.USE_DIARY,
        data=lambda w: {"start": w.extra["start"]},
        probe=lambda w: appointment_of(w).start,
        prepare=free_time_to_move_to,
    ),
    Row(
        "cancel an appointment in the diary",
        "POST",
        diary_url("cancel"),
        DIARY_WRITE,
        Action.USE_DIARY,
        data=lambda w: {"reason": "The patient rang: unwell."},
        probe=lambda w: appointment_of(w).status,
    ),
    Row(
        "see the staff aftercare list",
        "GET",
        lambda w: reverse("aftercare:staff_list"),
        CLINICAL_READ,
        Action.SEE_AFTERCARE_LIST,
    ),
    Row(
        "resolve a flag",
        "POST",
        lambda w: reverse("aftercare:flag_resolve", args=[w.b.flag.pk]),
        CLINICAL_WRITE,
        Action.RESOLVE_FLAG,
        data=lambda w: {"resolution": "Rang her; seen today, no clot."},
        probe=lambda w: CourseFlag.objects.get(pk=w.b.flag.pk).resolved_at,
    ),
    Row(
        "change prices (admin)",
        "POST",
        lambda w: reverse("admin:treatments_price_change", args=[w.extra["price"]]),
        ADMIN_WRITE,
        None,
        data=lambda w: {
            "effective_until": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "_save": "Save",
        },
        probe=lambda w: Price.objects.get(pk=w.extra["price"]).effective_until,
        prepare=a_price_in_force,
    ),
    Row(
        "edit treatments (admin)",
        "POST",
        lambda w: reverse(
            "admin:treatments_treatment_change", args=[treatment("foam-sclerotherapy").pk]
        ),
        ADMIN_WRITE,
        None,
        data=lambda w: admin_form_data(
            reverse("admin:treatments_treatment_change", args=[treatment("foam-sclerotherapy").pk]),
            w.clinic_admin.user,
            summary="Larger varicose veins, treated with a foamed sclerosant.",
        ),
        probe=lambda w: treatment("foam-sclerotherapy").summary,
    ),
    Row(
        "close an account (admin)",
        "POST",
        lambda w: reverse("admin:patients_accountclosurerequest_complete", args=[w.b.closure.pk]),
        ADMIN_WRITE,
        None,
        data=lambda w: {"confirm": "on", "note": "Identity checked by phone."},
        probe=lambda w: AccountClosureRequest.objects.get(pk=w.b.closure.pk).status,
        prepare=no_upcoming_appointments,
    ),
    Row(
        "view the record-access log (admin)",
        "GET",
        lambda w: reverse("admin:patients_recordaccess_changelist"),
        ADMIN_READ,
        None,
    ),
]


# --- running a row -------------------------------------------------------------------------------


def is_admin_login(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.url).path == reverse("admin:login")


def is_login(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.url).path in (
        reverse("login"),
        reverse("admin:login"),
    )


def describe(response: Any) -> str:
    return (
        f"{response.status_code} → {response.url}"
        if response.status_code == 302
        else str(response.status_code)
    )


CASES = [pytest.param(row, role, id=f"{row.label} | {role}") for row in MATRIX for role in ROLES]


@pytest.mark.parametrize(("row", "role"), CASES)
def test_role_matrix(rw, row: Row, role: str):
    if row.prepare is not None:
        row.prepare(rw)
    data = row.data(rw)
    url = row.url(rw)
    client = Client()
    client.force_login(rw.user(role))
    before = database_fingerprint()
    before_clinical = database_fingerprint(exclude={"patients.recordaccess"})
    probe_before = row.probe(rw) if row.probe else None
    response = client.get(url) if row.method == "GET" else client.post(url, data)
    outcome = row.expect[role]
    where = f"{row.label} as {role}: {describe(response)}"
    if outcome is SHOWN:
        assert response.status_code == 200, where
        # A page that only shows may note the look in the access log, and nothing else.
        assert database_fingerprint(exclude={"patients.recordaccess"}) == before_clinical, where
    elif outcome is DONE:
        assert response.status_code == 302 and not is_login(response), where
        assert row.probe is not None
        assert row.probe(rw) != probe_before, f"{where}: nothing was saved"
    elif outcome is NO:
        assert response.status_code == 403, where
        assert database_fingerprint() == before, f"{where}: the database changed"
    else:
        assert is_admin_login(response), where
        assert database_fingerprint() == before, f"{where}: the database changed"


def test_the_rules_table_says_what_the_matrix_says():
    """``clinic.permissions.RULES`` (what the views enforce) and this file's table agree,
    and every action of the table is proved by at least one row."""
    proved: dict[Action, set[str]] = {}
    for row in MATRIX:
        if row.action is None:
            continue
        allowed = {ROLE_NAMES[r] for r, outcome in row.expect.items() if outcome.allowed}
        assert proved.setdefault(row.action, allowed) == allowed, row.label
    assert set(proved) == set(RULES), "every action in RULES needs a row here"
    for action, allowed in proved.items():
        assert set(RULES[action]) == allowed, action


def test_can_reads_the_rules_table(rw):
    assert can(rw.consultant.user, Action.EXTEND_COURSE)
    assert not can(rw.nurse.user, Action.EXTEND_COURSE)
    assert not can(rw.clinic_admin.user, Action.SEE_DAY_LIST)
    assert can(rw.clinic_admin.user, Action.USE_DIARY)
    assert can(rw.b.patient.user, Action.USE_OWN_PAGES)
    assert not can(rw.b.patient.user, Action.USE_DIARY)


def test_only_clinic_admins_enter_the_admin_site(rw):
    """The admin site's gate is ``is_staff``, which the role keeps in step: so a consultant
    cannot change prices and a nurse cannot read the access log, whatever their groups."""
    assert rw.clinic_admin.user.is_staff
    assert not any(u.is_staff for u in (rw.nurse.user, rw.consultant.user, rw.b.patient.user))


def test_the_matrix_summary(capsys):
    width = max(len(row.label) for row in MATRIX)
    lines = ["", "Role matrix", f"  {'action':<{width}}  " + "  ".join(f"{r:<13}" for r in ROLES)]
    for row in MATRIX:
        cells = "  ".join(f"{row.expect[r].value:<13}" for r in ROLES)
        lines.append(f"  {row.label:<{width}}  {cells}")
    with capsys.disabled():
        print("\n".join(lines))


# --- the same rules in the services ------------------------------------------------------------

REFUSED, ALLOWED = False, True


@dataclass(frozen=True)
class ServiceRow:
    label: str
    call: Callable[[W, StaffMember], Any]
    expect: dict[str, bool]  # nurse, consultant, clinic_admin
    prepare: Callable[[W], None] | None = None


def _plan(w: W, staff: StaffMember) -> Any:
    return treatment_services.course_plan(
        consultation=w.extra["consultation"],
        consultant=staff,
        treatment=treatment("microsclerotherapy"),
        planned_sessions=3,
        legs=Legs.BOTH,
    )


def _close_account(w: W, staff: StaffMember) -> Any:
    return account_closure_complete(request=w.b.closure, by=staff.user)


CLINICAL = {"nurse": ALLOWED, "consultant": ALLOWED, "clinic_admin": REFUSED}
CONSULTANT = {"nurse": REFUSED, "consultant": ALLOWED, "clinic_admin": REFUSED}

SERVICE_MATRIX: list[ServiceRow] = [
    ServiceRow("plan a course", _plan, CONSULTANT, prepare=consultation_to_plan),
    ServiceRow(
        "extend a course",
        lambda w, s: treatment_services.course_extend(
            course=w.b.course, consultant=s, to_sessions=4, reason="More veins."
        ),
        CONSULTANT,
    ),
    ServiceRow(
        "close a course",
        lambda w, s: treatment_services.course_close(
            course=w.b.course, consultant=s, status=Course.Status.COMPLETED, reason="Done."
        ),
        CONSULTANT,
    ),
    ServiceRow(
        "review a screening",
        lambda w, s: screening_review(screening=w.b.screening, consultant=s, notes="Fine."),
        CONSULTANT,
    ),
    ServiceRow(
        "confirm consent",
        lambda w, s: treatment_services.session_confirm_consent(session=w.b.next_session, nurse=s),
        CLINICAL,
    ),
    ServiceRow(
        "record a session",
        lambda w, s: treatment_services.session_record(
            session=w.b.next_session, by=s, notes="Recorded."
        ),
        CLINICAL,
    ),
    ServiceRow(
        "complete a session",
        lambda w, s: treatment_services.session_complete(session=w.b.next_session, by=s),
        CLINICAL,
        prepare=session_in_progress,
    ),
    ServiceRow(
        "resolve a flag",
        lambda w, s: flags.flag_resolve(flag_id=w.b.flag.pk, by=s, resolution="Rang her."),
        CLINICAL,
    ),
    ServiceRow(
        "close an account",
        _close_account,
        {"nurse": REFUSED, "consultant": REFUSED, "clinic_admin": ALLOWED},
        prepare=no_upcoming_appointments,
    ),
]


@pytest.mark.parametrize(
    ("row", "role"),
    [
        pytest.param(row, role, id=f"{row.label} | {role}")
        for row in SERVICE_MATRIX
        for role in ("nurse", "consultant", "clinic_admin")
    ],
)
def test_services_refuse_the_wrong_role(rw, row: ServiceRow, role: str):
    if row.prepare is not None:
        row.prepare(rw)
    staff = rw.staff(role)
    assert staff is not None
    if row.expect[role]:
        row.call(rw, staff)
        return
    before = database_fingerprint()
    with pytest.raises(PermissionRefused):
        row.call(rw, staff)
    assert database_fingerprint() == before


# --- staff and the clinic's locations ----------------------------------------------------------


def test_staff_see_patients_of_every_location_of_the_clinic(rw, nurse_client):
    """One deployment is one clinic. Its locations are where it sees patients, not separate
    practices: a nurse tied to one location (or to none) still sees a session held at
    another one, as cover and patients moving between sites need."""
    from ..factories import LocationFactory, RoomFactory

    elsewhere = LocationFactory(name="Other site", slug="other-site")
    rw.nurse.locations.set([elsewhere])
    room = RoomFactory(location=elsewhere, kind=Room.Kind.TREATMENT)
    session = rw.b.next_session
    Appointment.objects.filter(pk=session.appointment_id).update(room=room)
    response = nurse_client.get(reverse("treatments:session_detail", args=[session.pk]))
    assert response.status_code == 200


def test_a_deactivated_member_of_staff_loses_every_staff_page(rw):
    """Deactivating the staff record (through the service) takes the role away at once."""
    from clinic.services import staff_member_save

    rw.nurse.is_active = False
    staff_member_save(staff_member=rw.nurse)
    client = Client()
    client.force_login(rw.nurse.user)
    for url in (
        reverse("treatments:day_list"),
        reverse("treatments:session_detail", args=[rw.b.next_session.pk]),
        reverse("bookings:diary"),
        reverse("aftercare:staff_list"),
    ):
        assert client.get(url).status_code == 403, url


def test_a_patient_who_is_also_staff_keeps_their_own_pages_only(rw):
    """A nurse who is also a patient of the clinic sees her own patient pages, and no
    other patient's through them."""
    from django.contrib.auth.models import Group

    nurse_user = rw.nurse.user
    nurse_user.groups.add(Group.objects.get(name=Role.PATIENT))
    Patient.objects.create(user=nurse_user)
    client = Client()
    client.force_login(nurse_user)
    assert client.get(reverse("patients:dashboard")).status_code == 200
    url = reverse("patients:consent_detail", args=[rw.b.consent.pk])
    assert client.get(url).status_code == 404

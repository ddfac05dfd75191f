"""The clinic the query budgets are measured in, first with one row of each thing a page
lists (``build_few``), then with many (``grow``).

Everything a page shows is made through the real services where they exist (courses,
consents, sessions, check-ins), and by the ORM where no service writes it (sent
reminders, log rows, admin reference data). The pages measured keep pointing at the same
objects in both phases, so "many" differs from "few" only in how much there is to list.

The clinic's clock is fixed (``NOW``, a Wednesday morning) so that "today" cannot move
between the two phases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import count
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.core import signing
from django.db.models import Model
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from qsessions.models import Session as QSession

from aftercare import services as aftercare_services
from aftercare.models import AftercarePlan, CheckIn, CourseFlag, Reminder, ReminderPreference
from bookings.feeds import calendar_feed_for
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from clinic.models import (
    Closure,
    Location,
    OpeningHours,
    Room,
    StaffException,
    StaffMember,
    User,
    WorkingPattern,
)
from patients.models import AccountClosureRequest, Patient, RecordAccess
from patients.services import account_closure_request
from treatments import services as treatment_services
from treatments.models import (
    AdverseEvent,
    ConsentForm,
    Course,
    Faq,
    Legs,
    Price,
    SessionRecord,
    SignedConsent,
    Treatment,
)

from ..factories import (
    LONDON,
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    ConsultingRoomFactory,
    CourseFactory,
    LocationFactory,
    NurseFactory,
    PatientFactory,
    RoomFactory,
    ScreeningFactory,
    UserFactory,
)

# The clinic's clock while the budgets are measured: Wednesday 12 June 2030, 08:30 in
# London. Far enough ahead that the seeded consent forms and prices are in force.
NOW = datetime(2030, 6, 12, 8, 30, tzinfo=LONDON)
TODAY = NOW.date()
MANY = 20  # rows added to each list by ``grow`` (on top of the one ``build_few`` makes)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


@dataclass
class Team:
    """A consultant, a nurse and a room that can run sessions side by side with others."""

    consultant: StaffMember
    nurse: StaffMember
    room: Room


@dataclass
class PerfWorld:
    location: Location
    team: Team  # the clinic's main team: the measured nurse and consultant work in it
    consulting_room: Room
    clinic_admin: StaffMember
    superuser: User
    # Patient P: the patient whose own pages are measured.
    patient: Patient
    course: Course  # session 1 done 20 days ago (aftercare runs), session 2 booked
    done_session: SessionRecord
    next_session: SessionRecord
    consent: SignedConsent
    plan: AftercarePlan
    flag: CourseFlag
    feed: CalendarFeed
    # Staff pages.
    reviewed_course: Course  # another patient's course, as the course review shows it
    session_today: SessionRecord  # another patient's session on today's day list
    unsigned_session: SessionRecord  # on today's list too; consent to be taken in clinic
    consultation_to_plan: Appointment  # a completed consultation that awaits its plan
    staff_feed: CalendarFeed
    phase: str = "few"
    admin_rows: dict[str, Model] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)  # what a phase computes once
    sequence: Iterator[int] = field(default_factory=lambda: count(1))

    @property
    def nurse(self) -> StaffMember:
        return self.team.nurse

    @property
    def consultant(self) -> StaffMember:
        return self.team.consultant

    @property
    def room(self) -> Room:
        return self.team.room

    @property
    def booking_key(self) -> str:
        return f"{self.course.treatment.slug}:{self.course.pk}"

    def check_in_token(self) -> str:
        return aftercare_services.check_in_token(
            patient_id=self.patient.pk, day=TODAY, action="walked"
        )

    def unsubscribe_token(self) -> str:
        return signing.dumps(
            {"p": self.patient.pk, "k": Reminder.Kind.DAILY_WALK}, salt="aftercare.unsubscribe"
        )


# --- building blocks --------------------------------------------------------------------------


def new_team(location: Location) -> Team:
    """A consultant, a nurse and a treatment room, working Monday to Saturday 08:00-20:00."""
    team = Team(
        consultant=ConsultantFactory(),
        nurse=NurseFactory(),
        room=RoomFactory(location=location, kind=Room.Kind.TREATMENT),
    )
    working_hours(location, [team.consultant, team.nurse])
    return team


def working_hours(location: Location, staff: list[StaffMember]) -> None:
    WorkingPattern.objects.bulk_create(
        WorkingPattern(
            staff=member,
            location=location,
            weekday=weekday,
            starts=time(8),
            ends=time(20),
            valid_from=date(2030, 1, 1),
        )
        for member in staff
        for weekday in range(6)
    )


def sign(course: Course) -> SignedConsent:
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None, "the seeded catalogue has a consent form in force"
    return treatment_services.consent_sign(
        course=course,
        form=form,
        typed_name=course.patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.ONLINE,
    )


def schedule(course: Course, team: Team, start: datetime) -> SessionRecord:
    return treatment_services.session_schedule(
        course=course,
        start=start,
        minutes=30,
        consultant=team.consultant,
        nurse=team.nurse,
        room=team.room,
    )


def complete(session: SessionRecord, nurse: StaffMember) -> SessionRecord:
    """Run a booked session to the end: consent, start, record, stockings, discharge."""
    treatment_services.session_confirm_consent(session=session, nurse=nurse)
    treatment_services.session_start(session=session, by=nurse)
    treatment_services.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.legs_treated):
        treatment_services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    return treatment_services.session_complete(session=session, by=nurse)


def patient_in_aftercare(team: Team, *, days_ago: int, hour: int) -> Patient:
    """A patient whose session ``days_ago`` days back is done, so their plan runs today,
    who ticked today's walk."""
    patient = PatientFactory()
    ScreeningFactory(patient=patient)
    course = CourseFactory(patient=patient, consultant=team.consultant)
    sign(course)
    complete(schedule(course, team, at(TODAY - timedelta(days=days_ago), hour)), team.nurse)
    aftercare_services.check_in_record(patient=patient, day=TODAY, walked=True)
    return patient


def session_on(
    day: date, team: Team, hour: int, minute: int = 0, *, signed: bool = True
) -> SessionRecord:
    """Another patient's session booked on ``day`` (the consent signed online unless
    ``signed`` is False)."""
    patient = PatientFactory()
    ScreeningFactory(patient=patient)
    course = CourseFactory(patient=patient, consultant=team.consultant)
    if signed:
        sign(course)
    return schedule(course, team, at(day, hour, minute))


def course_under_review(team: Team) -> Course:
    """A course part-way through: session 1 done 20 days ago, session 2 booked, a warning
    symptom reported today (an open flag)."""
    patient = PatientFactory()
    ScreeningFactory(patient=patient, takes_anticoagulants=True)
    course = CourseFactory(patient=patient, consultant=team.consultant)
    sign(course)
    complete(schedule(course, team, at(TODAY - timedelta(days=20), 12)), team.nurse)
    schedule(course, team, at(TODAY + timedelta(days=35), 12))
    aftercare_services.check_in_record(
        patient=patient, day=TODAY, walked=True, warning_symptoms=["hot_painful_leg"]
    )
    course.refresh_from_db()
    return course


def sent_reminder(patient: Patient, n: int) -> Reminder:
    return Reminder.objects.create(
        patient=patient,
        kind=Reminder.Kind.DAILY_WALK,
        channel=Reminder.Channel.EMAIL,
        due_at=NOW - timedelta(hours=n),
        status=Reminder.Status.SENT,
        sent_at=NOW - timedelta(hours=n),
        idempotency_key=f"perf-sent-{patient.pk}-{n}",
    )


def consultation_awaiting_plan(consultant: StaffMember, room: Room, n: int) -> Appointment:
    patient = PatientFactory()
    ScreeningFactory(patient=patient, takes_anticoagulants=bool(n % 2))
    return AppointmentFactory(
        patient=patient,
        consultant=consultant,
        room=room,
        start=at(TODAY - timedelta(days=2 + n), 11),
        end=at(TODAY - timedelta(days=2 + n), 11, 30),
        status=Appointment.Status.COMPLETED,
    )


# --- the few world ----------------------------------------------------------------------------


def build_few() -> PerfWorld:
    """One of everything: patient P part-way through a course, one session on today's list,
    one consultation awaiting its plan, one patient in aftercare (P)."""
    location = LocationFactory()
    OpeningHours.objects.bulk_create(
        OpeningHours(location=location, weekday=weekday, opens=time(8), closes=time(20))
        for weekday in range(6)
    )
    team = new_team(location)
    consulting_room = ConsultingRoomFactory(location=location)

    patient = PatientFactory()
    ScreeningFactory(patient=patient, takes_anticoagulants=True)
    course = CourseFactory(patient=patient, consultant=team.consultant)
    consent = sign(course)
    done = complete(schedule(course, team, at(TODAY - timedelta(days=20), 10)), team.nurse)
    upcoming = schedule(course, team, at(TODAY + timedelta(days=35), 10))
    aftercare_services.check_in_record(
        patient=patient, day=TODAY, walked=True, warning_symptoms=["hot_painful_leg"]
    )
    sent_reminder(patient, 0)
    RecordAccess.objects.create(
        user=team.nurse.user, patient=patient, what="course review", ref="course:1", at=NOW
    )
    WaitingListEntry.objects.create(
        patient=patient,
        treatment=course.treatment,
        course=course,
        earliest_date=TODAY + timedelta(days=60),
        latest_date=TODAY + timedelta(days=90),
    )

    reviewed = course_under_review(team)
    today_session = session_on(TODAY, team, 14)
    unsigned = session_on(TODAY, team, 15, signed=False)
    awaiting = consultation_awaiting_plan(team.consultant, consulting_room, 0)
    course.refresh_from_db()
    world = PerfWorld(
        location=location,
        team=team,
        consulting_room=consulting_room,
        clinic_admin=ClinicAdminFactory(),
        superuser=UserFactory(is_superuser=True, is_staff=True),
        patient=patient,
        course=course,
        done_session=done,
        next_session=upcoming,
        consent=consent,
        plan=AftercarePlan.objects.get(session=done),
        flag=CourseFlag.objects.get(course=course),
        feed=calendar_feed_for(user=patient.user),
        reviewed_course=reviewed,
        session_today=today_session,
        unsigned_session=unsigned,
        consultation_to_plan=awaiting,
        staff_feed=calendar_feed_for(user=team.nurse.user),
    )
    reference_rows(world, 1)
    world.admin_rows = admin_rows(world)
    return world


def reference_rows(world: PerfWorld, n: int) -> None:
    """``n`` more rows of the admin's reference data and of the third-party tables."""
    seq = world.sequence
    for _ in range(n):
        i = next(seq)
        location = LocationFactory(slug=f"perf-{i}", name=f"Branch {i}")
        RoomFactory(location=location)
        OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17))
        Closure.objects.create(
            location=location, date=TODAY + timedelta(days=100 + i), reason="Staff training"
        )
        StaffException.objects.create(
            staff=world.nurse,
            kind=StaffException.Kind.LEAVE,
            starts_at=at(TODAY + timedelta(days=200 + i), 9),
            ends_at=at(TODAY + timedelta(days=200 + i), 17),
            reason="Leave",
        )
        extra = Treatment.objects.create(
            name=f"Perf treatment {i}",
            slug=f"perf-treatment-{i}",
            kind=Treatment.Kind.TREATMENT,
            bookable_online=False,
            has_public_page=True,
            summary="A treatment listed for the query budgets.",
        )
        ConsentForm.objects.create(
            treatment=extra,
            version=1,
            title=f"Consent {i}",
            body="Body",
            statements=["I understand."],
            effective_from=NOW - timedelta(days=30),
            published_at=NOW - timedelta(days=30),
        )
        Price.objects.create(
            treatment=extra, amount=100 + i, effective_from=TODAY - timedelta(days=30)
        )
        Faq.objects.create(question=f"Question {i}?", answer="An answer.", treatment=extra, order=i)
        Group.objects.create(name=f"Perf group {i}")
        user = world.patient.user
        QSession.objects.create(
            session_key=f"perf{i:036d}",  # 40 characters, the column's size
            session_data=QSession.get_session_store_class()().encode({}),
            expire_date=NOW + timedelta(days=1),
            user=user,
            user_agent="Perf browser",
            ip="127.0.0.1",
        )
        TOTPDevice.objects.create(user=UserFactory(), name=f"Phone {i}", confirmed=True)
        StaticDevice.objects.create(user=UserFactory(), name=f"Backup {i}", confirmed=True)
        AccessAttempt.objects.create(
            username=f"someone{i}@example.org",
            ip_address="10.0.0.1",
            user_agent="x",
            failures_since_start=1,
            get_data="",
            post_data="",
            http_accept="*/*",
            path_info="/accounts/login/",
        )
        AccessLog.objects.create(
            username=f"someone{i}@example.org",
            ip_address="10.0.0.1",
            user_agent="x",
            http_accept="*/*",
            path_info="/accounts/login/",
        )
        AccessFailureLog.objects.create(
            username=f"someone{i}@example.org",
            ip_address="10.0.0.1",
            user_agent="x",
            http_accept="*/*",
            path_info="/accounts/login/",
            locked_out=False,
        )


# --- growing it -------------------------------------------------------------------------------


def grow(world: PerfWorld) -> None:
    """Add ``MANY`` rows to everything a page lists."""
    world.phase = "many"
    grow_patient(world)
    grow_course_under_review(world)
    grow_staff_lists(world)
    reference_rows(world, MANY)


def grow_patient(world: PerfWorld) -> None:
    """P: more courses (half signed, each with a session booked), messages, accesses to
    their record, check-ins on every day of the plan so far, earlier closure requests."""
    patient, team = world.patient, world.team
    for i in range(MANY):
        course = CourseFactory(patient=patient, consultant=team.consultant)
        if i % 2:
            sign(course)
        schedule(course, team, at(TODAY + timedelta(days=40 + i), 12))
        sent_reminder(patient, i + 1)
    staff_users = [team.nurse.user, team.consultant.user, world.clinic_admin.user]
    RecordAccess.objects.bulk_create(
        RecordAccess(
            user=staff_users[i % 3],
            patient=patient,
            what="session",
            ref=f"session:{i}",
            at=NOW - timedelta(minutes=i + 1),
        )
        for i in range(60)
    )
    for days_ago in range(1, 20):
        aftercare_services.check_in_record(
            patient=patient,
            day=TODAY - timedelta(days=days_ago),
            walked=True,
            warning_symptoms=["skin_breakdown"] if days_ago % 4 == 0 else [],
        )
    for i in range(MANY):
        AccountClosureRequest.objects.create(
            patient=patient,
            status=AccountClosureRequest.Status.WITHDRAWN,
            reason="Changed my mind",
            requested_at=NOW - timedelta(days=i + 2),
            handled_at=NOW - timedelta(days=i + 1),
            handled_by=patient.user,
        )


def grow_course_under_review(world: PerfWorld) -> None:
    """The reviewed course: extended to many sessions (booked far ahead), signed again and
    again; and many adverse events on P's session done (the session screen's list)."""
    course, team = world.reviewed_course, world.team
    last = course.sessions.order_by("-number").values_list("appointment__start", flat=True)[0]
    for step in range(5):
        treatment_services.course_extend(
            course=course,
            consultant=team.consultant,
            to_sessions=course.planned_sessions + 4,
            reason=f"Good response, round {step}",
        )
        course.refresh_from_db()
    for _ in range(course.planned_sessions - 2):
        last += timedelta(days=course.min_gap_days)
        schedule(course, team, last)
    for _ in range(5):
        current = SignedConsent.objects.filter(course=course, withdrawn_at__isnull=True).first()
        assert current is not None
        treatment_services.consent_withdraw(consent=current, reason="Asked to sign again")
        sign(course)
    AdverseEvent.objects.bulk_create(
        AdverseEvent(
            session=session,
            kind=AdverseEvent.Kind.BRUISING,
            severity=AdverseEvent.Severity.MILD,
            action_taken="Advice given",
            recorded_by=team.nurse,
        )
        for session in (world.done_session, course.sessions.get(number=1))
        for _ in range(MANY)
    )


def grow_staff_lists(world: PerfWorld) -> None:
    """Today's list and diary full (three teams side by side), many patients in aftercare
    (some with open flags), many consultations awaiting a plan."""
    teams = [world.team, new_team(world.location), new_team(world.location)]
    for i in range(MANY):
        team = teams[i % 3]
        slot = i // 3
        session_on(TODAY, team, 8 + slot // 2, 30 * (slot % 2))
    # Fewer here: each is a session run to the end through the services (the slowest part).
    for i in range(MANY // 2):
        patient = patient_in_aftercare(teams[i % 3], days_ago=5 + i // 3, hour=8 + i % 3)
        if i % 3 == 0:
            aftercare_services.check_in_record(
                patient=patient, day=TODAY, warning_symptoms=["hot_painful_leg"]
            )
    for i in range(MANY):
        consultation_awaiting_plan(world.consultant, world.consulting_room, i + 1)


# --- the rows whose admin change pages are measured -------------------------------------------


def admin_rows(world: PerfWorld) -> dict[str, Model]:
    """model label -> the row whose admin change page is measured (the same row in both
    phases): P's own where the model belongs to a patient."""
    first = {
        model: model._default_manager.order_by("pk").first()
        for model in (
            Group,
            Closure,
            StaffException,
            Faq,
            QSession,
            TOTPDevice,
            StaticDevice,
            AccessAttempt,
            AccessLog,
            AccessFailureLog,
        )
    }
    rows: dict[str, Model | None] = {
        "auth.group": first[Group],
        "clinic.user": world.patient.user,
        "clinic.location": world.location,
        "clinic.room": world.room,
        "clinic.staffmember": world.nurse,
        "clinic.openinghours": OpeningHours.objects.filter(location=world.location).first(),
        "clinic.closure": first[Closure],
        "clinic.workingpattern": WorkingPattern.objects.filter(staff=world.nurse).first(),
        "clinic.staffexception": first[StaffException],
        "treatments.treatment": world.course.treatment,
        "treatments.consentform": world.consent.form,
        "treatments.course": world.course,
        "treatments.sessionrecord": world.done_session,
        "treatments.signedconsent": world.consent,
        # Extensions, adverse events and closure requests are made for the purpose, on
        # other people's records, so that P's pages keep one of each in the few world.
        "treatments.courseextension": treatment_services.course_extend(
            course=world.session_today.course,
            consultant=world.consultant,
            to_sessions=world.session_today.course.planned_sessions + 1,
            reason="One more",
        ),
        "treatments.stockingfitting": world.done_session.stockings.order_by("pk").first(),
        "treatments.adverseevent": AdverseEvent.objects.create(
            session=world.done_session,
            kind=AdverseEvent.Kind.BRUISING,
            severity=AdverseEvent.Severity.MILD,
            action_taken="Advice given",
            recorded_by=world.nurse,
        ),
        "treatments.price": Price.objects.filter(treatment=world.course.treatment).first(),
        "treatments.faq": first[Faq],
        "patients.patient": world.patient,
        "patients.accountclosurerequest": account_closure_request(
            patient=world.consultation_to_plan.patient, reason="Moving away"
        ),
        "patients.recordaccess": RecordAccess.objects.filter(patient=world.patient).first(),
        "bookings.appointment": world.done_session.appointment,
        "aftercare.reminder": Reminder.objects.filter(patient=world.patient).first(),
        "aftercare.reminderpreference": ReminderPreference.objects.get(patient=world.patient),
        "aftercare.aftercareplan": world.plan,
        "aftercare.checkin": CheckIn.objects.get(plan=world.plan, day=TODAY),
        "aftercare.courseflag": world.flag,
        "qsessions.session": first[QSession],
        "otp_totp.totpdevice": first[TOTPDevice],
        "otp_static.staticdevice": first[StaticDevice],
        "axes.accessattempt": first[AccessAttempt],
        "axes.accesslog": first[AccessLog],
        "axes.accessfailurelog": first[AccessFailureLog],
    }
    missing = sorted(label for label, row in rows.items() if row is None)
    assert not missing, f"the few world has no row for {missing}"
    for row in rows.values():
        # Rows seeded by a data migration have no past version yet: give them one, so the
        # admin's page of a past version has something to show.
        if hasattr(type(row), "history") and not row.history.exists():  # type: ignore[union-attr]
            row.save()  # type: ignore[union-attr]
    return {label: row for label, row in rows.items() if row is not None}

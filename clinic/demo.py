"""Demo data for development: one clinic with staff and patients to log in as.

Every step is get-or-create, so running the seed twice changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from aftercare.services import check_in_record
from bookings.models import Appointment, WaitingListEntry
from bookings.services import (
    appointment_book,
    appointment_create,
    appointment_set_status,
    waiting_list_join,
)
from patients.models import Patient
from patients.services import patient_sign_up, screening_submit
from treatments.models import Course, Faq, Legs, Price, SessionRecord, SignedConsent, Treatment
from treatments.services import (
    consent_current_form,
    consent_sign,
    course_plan,
    price_save,
    session_add_adverse_event,
    session_complete,
    session_confirm_consent,
    session_fit_stocking,
    session_record,
    session_schedule,
    session_start,
)

from .models import (
    Closure,
    Location,
    OpeningHours,
    Room,
    StaffMember,
    User,
    WorkingPattern,
)
from .services import staff_member_create, staff_member_save

# Development only: seed_demo refuses to run without DEBUG.
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  # nosec B105

DEMO_LOGINS = [
    ("patient@example.com", "Patient"),
    ("nurse@example.com", "Nurse"),
    ("consultant@example.com", "Consultant"),
    ("admin@example.com", "Clinic admin (superuser)"),
]

STAFF = [
    # email, title, first, last, role
    ("consultant@example.com", "Mr", "Anil", "Mehta", StaffMember.StaffRole.CONSULTANT),
    ("nurse@example.com", "", "Grace", "Okafor", StaffMember.StaffRole.NURSE),
    ("nurse2@example.com", "", "Tom", "Birch", StaffMember.StaffRole.NURSE),
]

PATIENTS = [
    ("patient@example.com", "Helen", "Carter"),
    ("patient2@example.com", "Priya", "Shah"),
    ("patient3@example.com", "Margaret", "Doyle"),
    ("patient4@example.com", "Owen", "Price"),
    ("patient5@example.com", "Sofia", "Romano"),
    ("patient6@example.com", "Daniel", "Hughes"),
]

# England's bank holidays in the demo's six months (the clinic is closed).
BANK_HOLIDAYS = {
    date(2026, 12, 25): "Christmas Day",
    date(2026, 12, 28): "Boxing Day (substitute day)",
    date(2027, 1, 1): "New Year's Day",
    date(2027, 3, 26): "Good Friday",
    date(2027, 3, 29): "Easter Monday",
    date(2027, 5, 3): "Early May bank holiday",
    date(2027, 5, 31): "Spring bank holiday",
}


def seed_location() -> Location:
    location, _ = Location.objects.get_or_create(
        slug="central",
        defaults={
            "name": "Veinline Central Clinic",
            "address": "1 Example Street\nLondon\nW1A 1AA",
            "phone": "020 7946 0000",
            "email": "clinic@example.com",
        },
    )
    for name, kind in [
        ("Treatment room 1", Room.Kind.TREATMENT),
        ("Treatment room 2", Room.Kind.TREATMENT),
        ("Consulting room", Room.Kind.CONSULTING),
    ]:
        Room.objects.get_or_create(location=location, name=name, defaults={"kind": kind})
    return location


def seed_people(location: Location) -> None:
    for email, title, first, last, role in STAFF:
        if not StaffMember.objects.filter(user__email=email).exists():
            staff_member_create(
                email=email,
                first_name=first,
                last_name=last,
                role=role,
                title=title,
                password=DEMO_PASSWORD,
                locations=[location],
            )
    if not User.objects.filter(email="admin@example.com").exists():
        admin = User.objects.create_superuser(
            email="admin@example.com",
            password=DEMO_PASSWORD,
            first_name="Alex",
            last_name="Admin",
        )
        staff = staff_member_save(
            staff_member=StaffMember(user=admin, role=StaffMember.StaffRole.CLINIC_ADMIN)
        )
        staff.locations.set([location])
    for email, first, last in PATIENTS:
        if not Patient.objects.filter(user__email=email).exists():
            patient_sign_up(email=email, first_name=first, last_name=last, password=DEMO_PASSWORD)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _consultation(patient: Patient, day: date, room: Room, consultant: StaffMember) -> Appointment:
    appointment = appointment_create(
        patient=patient,
        treatment=Treatment.objects.get(slug="initial-consultation"),
        start=_at(day, 9),
        minutes=30,
        consultant=consultant,
        room=room,
    )
    return appointment_set_status(appointment=appointment, status=Appointment.Status.COMPLETED)


def _sign_online(course: Course) -> None:
    form = consent_current_form(course.treatment)
    if form is None:
        raise RuntimeError(f"No consent form is published for {course.treatment}; migrate.")
    consent_sign(
        course=course,
        form=form,
        typed_name=course.patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.ONLINE,
    )


def _run_session(
    course: Course,
    *,
    start: datetime,
    minutes: int,
    consultant: StaffMember,
    nurse: StaffMember,
    room: Room,
    stocking_length: str,
    music_request: str = "",
    **record: object,
) -> SessionRecord:
    """Book, run and complete the next session of a course, as the nurse would."""
    session = session_schedule(
        course=course,
        start=start,
        minutes=minutes,
        consultant=consultant,
        nurse=nurse,
        room=room,
        music_request=music_request,
    )
    session_confirm_consent(session=session, nurse=nurse)
    session_start(session=session, by=nurse)
    session_record(session=session, by=nurse, **record)
    for leg in Legs.sides(course.legs):
        session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length=stocking_length
        )
    return session_complete(session=session, by=nurse)


def seed_journeys(location: Location) -> None:
    """Three patients at different points of the journey, so every screen has something.

    - patient@: one session done five weeks ago, the window for the next one is open;
    - patient2@: session 1 is today and the consent form is not signed yet;
    - patient3@: consultation done, but a screening answer awaits the consultant's review.
    """
    consultant = StaffMember.objects.get(user__email="consultant@example.com")
    nurse = StaffMember.objects.get(user__email="nurse@example.com")
    consulting = Room.objects.get(location=location, name="Consulting room")
    treatment_room = Room.objects.get(location=location, name="Treatment room 1")
    micro = Treatment.objects.get(slug="microsclerotherapy")
    today = timezone.localdate()

    helen = Patient.objects.get(user__email="patient@example.com")
    if not Course.objects.filter(patient=helen).exists():
        screening_submit(patient=helen, answers={})
        consultation = _consultation(helen, today - timedelta(days=70), consulting, consultant)
        course = course_plan(
            consultation=consultation,
            consultant=consultant,
            treatment=micro,
            planned_sessions=3,
            legs=Legs.BOTH,
            treated_areas=["left_calf_back_medial", "right_thigh_front_lateral", "right_knee_back"],
            plan_notes="Avoid long-haul flights for four weeks after each session.",
        )
        _sign_online(course)
        session = _run_session(
            course,
            start=_at(today - timedelta(days=35), 10),
            minutes=45,
            consultant=consultant,
            nurse=nurse,
            room=treatment_room,
            music_request="Quiet jazz",
            stocking_length="thigh",
            treated_areas=["left_calf_back_medial", "right_thigh_front_lateral"],
            concentration_percent="0.5",
            total_volume_ml="3.5",
            injections=24,
            discomfort=3,
            discharge_walk_minutes=12,
            notes="Tolerated well. Mild stinging on the right thigh.",
        )
        session_add_adverse_event(
            session=session,
            by=nurse,
            kind="bruising",
            severity="mild",
            action_taken="Reassured; expected to fade within two weeks.",
        )

    priya = Patient.objects.get(user__email="patient2@example.com")
    if not Course.objects.filter(patient=priya).exists():
        screening_submit(patient=priya, answers={"medicines": "Cetirizine in summer"})
        consultation = _consultation(priya, today - timedelta(days=21), consulting, consultant)
        course = course_plan(
            consultation=consultation,
            consultant=consultant,
            treatment=micro,
            planned_sessions=2,
            legs=Legs.LEFT,
            treated_areas=["left_thigh_back_lateral", "left_knee_back"],
        )
        session_schedule(
            course=course,
            start=_at(today, 14),
            minutes=30,
            consultant=consultant,
            nurse=nurse,
            room=treatment_room,
        )

    margaret = Patient.objects.get(user__email="patient3@example.com")
    if not Appointment.objects.filter(patient=margaret).exists():
        screening_submit(
            patient=margaret,
            answers={"past_dvt_or_pe": True, "other_conditions": "Clot in the left calf in 2019."},
        )
        _consultation(margaret, today - timedelta(days=7), consulting, consultant)


def seed_aftercare(location: Location) -> None:
    """patient6@: a session two days ago, so today is day 3 of aftercare, with the walk and
    the stockings ticked on days 1 and 2 and the rest of the reminders pending."""
    daniel = Patient.objects.get(user__email="patient6@example.com")
    if Course.objects.filter(patient=daniel).exists():
        return
    consultant = StaffMember.objects.get(user__email="consultant@example.com")
    nurse = StaffMember.objects.get(user__email="nurse2@example.com")
    consulting = Room.objects.get(location=location, name="Consulting room")
    treatment_room = Room.objects.get(location=location, name="Treatment room 2")
    micro = Treatment.objects.get(slug="microsclerotherapy")
    today = timezone.localdate()
    screening_submit(patient=daniel, answers={})
    consultation = _consultation(daniel, today - timedelta(days=30), consulting, consultant)
    course = course_plan(
        consultation=consultation,
        consultant=consultant,
        treatment=micro,
        planned_sessions=2,
        legs=Legs.RIGHT,
        treated_areas=["right_calf_back_lateral", "right_ankle_lateral"],
    )
    _sign_online(course)
    _run_session(
        course,
        start=_at(today - timedelta(days=2), 11),
        minutes=30,
        consultant=consultant,
        nurse=nurse,
        room=treatment_room,
        stocking_length="knee",
        treated_areas=["right_calf_back_lateral", "right_ankle_lateral"],
        concentration_percent="0.3",
        total_volume_ml="1.5",
        injections=14,
        discomfort=2,
        discharge_walk_minutes=10,
    )
    for days_ago in (2, 1):
        check_in_record(
            patient=daniel,
            day=today - timedelta(days=days_ago),
            walked=True,
            stockings_on=True,
            bruising=days_ago == 1,
            pain_score=2,
        )


def seed_availability(location: Location) -> None:
    """Opening hours (Mon–Fri 08:30–18:00, Sat 09:00–13:00), bank holidays, and working
    patterns for the seeded staff from 90 days ago to six months ahead."""
    if not OpeningHours.objects.filter(location=location).exists():
        for weekday in range(5):
            OpeningHours.objects.create(
                location=location, weekday=weekday, opens=time(8, 30), closes=time(18)
            )
        OpeningHours.objects.create(location=location, weekday=5, opens=time(9), closes=time(13))
    for day, reason in BANK_HOLIDAYS.items():
        Closure.objects.get_or_create(location=None, date=day, defaults={"reason": reason})
    today = timezone.localdate()
    days = {
        "consultant@example.com": [(d, time(9), time(17)) for d in range(4)]
        + [(5, time(9), time(13))],
        "nurse@example.com": [(d, time(8, 30), time(17, 30)) for d in range(5)],
        "nurse2@example.com": [(d, time(9), time(18)) for d in (1, 2, 3, 4)]
        + [(5, time(9), time(13))],
    }
    for email, rows in days.items():
        staff = StaffMember.objects.get(user__email=email)
        if WorkingPattern.objects.filter(staff=staff).exists():
            continue
        for weekday, starts, ends in rows:
            WorkingPattern.objects.create(
                staff=staff,
                location=location,
                weekday=weekday,
                starts=starts,
                ends=ends,
                valid_from=today - timedelta(days=90),
                valid_until=today + timedelta(days=183),
            )


def seed_bookings() -> None:
    """A booked consultation next week (patient4@) and a patient on the waiting list
    (patient5@). Helen (patient@) is left to book her next session herself."""
    consultation = Treatment.objects.get(slug="initial-consultation")
    consultant = StaffMember.objects.get(user__email="consultant@example.com")
    owen = Patient.objects.get(user__email="patient4@example.com")
    if not Appointment.objects.filter(patient=owen).exists():
        from bookings.availability import free_slots

        first = timezone.localdate() + timedelta(days=7)
        slots = free_slots(
            treatment=consultation,
            minutes=30,
            first_day=first,
            last_day=first + timedelta(days=14),
            patient=owen,
        )
        if slots:
            slot = slots[min(slots)][0]
            appointment_book(
                patient=owen,
                treatment=consultation,
                start=slot.start,
                minutes=30,
                by_staff=consultant,
                music_request="Classical, please",
            )
    sofia = Patient.objects.get(user__email="patient5@example.com")
    if not WaitingListEntry.objects.filter(patient=sofia).exists():
        waiting_list_join(
            patient=sofia,
            treatment=consultation,
            earliest_date=timezone.localdate() + timedelta(days=2),
            latest_date=timezone.localdate() + timedelta(days=30),
        )


FAQS = [
    (
        None,
        "Does the treatment hurt?",
        "Most people describe the tiny injections as uncomfortable rather than painful. The "
        "medicine can sting briefly. No anaesthetic is needed.",
    ),
    (
        None,
        "Can I drive home afterwards?",
        "Yes. You can drive the same day, and go back to work and your usual activities "
        "straight away.",
    ),
    (
        None,
        "Will my insurer pay?",
        "Rarely. Most insurers see thread-vein treatment as cosmetic and do not cover it. If "
        "you want to claim, ask your insurer first and bring the pre-authorisation code when "
        "you book.",
    ),
    (
        None,
        "Do I have to come back for a follow-up?",
        "No. A reassessment with the consultant is there if you want it. If you are happy with "
        "how your legs look and feel, you need not book more appointments.",
    ),
    (
        "microsclerotherapy",
        "How many sessions will I need?",
        "Most people need between two and four. The consultant suggests a number at your "
        "consultation, and sessions are spaced at least four weeks apart so each can settle.",
    ),
    (
        "microsclerotherapy",
        "Why do my legs look worse after the first session?",
        "Treated veins often look red and raised at first. This is expected and fades over "
        "days to weeks; bruising settles in the same way.",
    ),
    (
        "microsclerotherapy",
        "Can I go swimming?",
        "Not while you are wearing the compression stockings, which is for the first week. "
        "After that, yes.",
    ),
    (
        "foam-sclerotherapy",
        "Can I book foam sclerotherapy online?",
        "Not directly. Start with a consultation; if foam treatment suits your veins, the "
        "clinic books the sessions with you.",
    ),
]


def seed_prices_and_faqs() -> None:
    """A course package, one scheduled price change and the FAQs (the starting price list
    comes from migration treatments/0004)."""
    today = timezone.localdate()
    micro = Treatment.objects.get(slug="microsclerotherapy")
    package = Price.objects.filter(treatment=micro, package_sessions=3).first()
    if package is None:
        price_save(
            price=Price(
                treatment=micro,
                minutes=45,
                package_sessions=3,
                amount=Decimal("920.00"),
                effective_from=today,
            ),
            today=today,
        )
    if not Price.objects.filter(
        treatment=micro, minutes=30, package_sessions=None, effective_from__gt=today
    ).exists():
        first_of_month_after_next = (today.replace(day=1) + timedelta(days=62)).replace(day=1)
        price_save(
            price=Price(
                treatment=micro,
                minutes=30,
                amount=Decimal("275.00"),
                effective_from=first_of_month_after_next,
            ),
            end_current=True,
            today=today,
        )
    treatments = {t.slug: t for t in Treatment.objects.all()}
    for order, (slug, question, answer) in enumerate(FAQS, start=1):
        Faq.objects.get_or_create(
            question=question,
            defaults={
                "answer": answer,
                "treatment": treatments.get(slug) if slug else None,
                "order": order * 10,
            },
        )


@transaction.atomic
def seed_demo() -> None:
    location = seed_location()
    seed_prices_and_faqs()
    seed_people(location)
    seed_availability(location)
    seed_journeys(location)
    seed_aftercare(location)
    seed_bookings()

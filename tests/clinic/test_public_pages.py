"""The public site: every page renders for visitors from the clinic's data, with a fixed
number of queries however many rows there are."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from decimal import Decimal

import factory
import pytest
import time_machine
from django.urls import reverse

from clinic.models import Closure, Location, OpeningHours
from clinic.views_public import gap_text, money
from treatments.models import Faq, Price, Treatment

from ..factories import PatientFactory, local

pytestmark = pytest.mark.django_db

# Every test runs on Monday 15 June 2026, mid-morning in London.
TODAY = date(2026, 6, 15)
NOW = local(2026, 6, 15, 10)

PAGES = {
    "home": "/",
    "treatments": "/treatments/",
    "microsclerotherapy": "/treatments/microsclerotherapy/",
    "foam": "/treatments/foam-sclerotherapy/",
    "aftercare_advice": "/aftercare-advice/",
    "faqs": "/faqs/",
    "contact": "/contact/",
    "pricing": "/pricing/",
    "insurance": "/insurance/",
}


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(NOW, tick=False):
        yield


class TreatmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Treatment

    name = factory.Sequence(lambda n: f"Test treatment {n}")
    slug = factory.Sequence(lambda n: f"test-treatment-{n}")
    kind = Treatment.Kind.TREATMENT
    summary = "A made-up treatment for the tests."
    session_lengths = factory.LazyFunction(lambda: [30, 45])
    has_public_page = True
    page_what_it_is = "What-it-is first paragraph.\n\nWhat-it-is second paragraph."
    page_before = "Before text for the test."
    page_during = "During text for the test."
    page_after = "Straight-after text for the test."
    page_recovery = "Recovery text for the test."
    page_risks = "Risks text for the test."


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    treatment = factory.SubFactory(TreatmentFactory)
    amount = Decimal("100.00")
    currency = "GBP"
    effective_from = date(2026, 1, 1)


class FaqFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Faq

    question = factory.Sequence(lambda n: f"Test question number {n}?")
    answer = "An answer for the test."


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Clinic number {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    address = "3 Sample Lane\nYork\nYO1 7AA"
    phone = "01904 000 000"
    email = factory.Sequence(lambda n: f"clinic{n}@example.org")


def text(response) -> str:
    """The page's text with tags removed and white space squeezed, for phrase checks."""
    html = response.content.decode()
    squeezed = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return re.sub(r" ([:,.])", r"\1", squeezed)


# --- every page -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_every_public_page_renders_for_a_visitor(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "/static/css/public.css" in response.content.decode()


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_every_public_page_renders_for_a_logged_in_patient(client, path):
    client.force_login(PatientFactory().user)
    response = client.get(path)
    assert response.status_code == 200
    assert "About the clinic" in response.content.decode()


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_public_pages_refuse_post(client, path):
    assert client.post(path).status_code == 405


@pytest.mark.parametrize(
    ("name", "args", "path"),
    [
        ("home", [], "/"),
        ("treatments", [], "/treatments/"),
        ("public_treatment", ["microsclerotherapy"], "/treatments/microsclerotherapy/"),
        ("public_treatment", ["foam-sclerotherapy"], "/treatments/foam-sclerotherapy/"),
        ("aftercare_advice", [], "/aftercare-advice/"),
        ("faqs", [], "/faqs/"),
        ("contact", [], "/contact/"),
        ("pricing", [], "/pricing/"),
        ("insurance", [], "/insurance/"),
    ],
)
def test_addresses_are_stable(name, args, path):
    assert reverse(name, args=args) == path


def test_visitors_see_the_public_links_in_the_navigation_bar(client):
    html = client.get("/").content.decode()
    for path, label in [
        ("/treatments/", "Treatments"),
        ("/pricing/", "Prices"),
        ("/insurance/", "Insurance"),
        ("/faqs/", "FAQs"),
        ("/contact/", "Contact"),
    ]:
        assert re.search(rf'href="{path}"[^>]*>{label}</a>', html), label


def test_the_current_page_is_marked_in_the_navigation_bar(client):
    html = client.get("/pricing/").content.decode()
    assert re.search(r'href="/pricing/" aria-current="page">Prices</a>', html)


# --- home -------------------------------------------------------------------------------------


def test_home_shows_the_way_to_book_and_the_treatment_pages(client):
    TreatmentFactory(name="Calf glow therapy", slug="calf-glow", summary="Made up for tests.")
    response = client.get("/")
    html = response.content.decode()
    assert 'href="/accounts/signup/">Create an account to book</a>' in html
    assert 'href="/book/"' in html
    assert 'href="/treatments/calf-glow/">Calf glow therapy</a>' in html
    assert 'href="/treatments/microsclerotherapy/">Microsclerotherapy</a>' in html
    for path in ["/pricing/", "/insurance/", "/faqs/", "/contact/", "/aftercare-advice/"]:
        assert f'href="{path}"' in html
    assert "What are thread veins?" in html


def test_home_offers_a_patient_the_booking_page(client):
    client.force_login(PatientFactory().user)
    html = client.get("/").content.decode()
    assert 'href="/book/">Book an appointment</a>' in html
    assert "Create an account to book" not in html


# --- treatment pages --------------------------------------------------------------------------


def test_treatment_index_lists_public_treatments_only(client):
    TreatmentFactory(name="Shown therapy")
    TreatmentFactory(name="Hidden therapy", has_public_page=False)
    TreatmentFactory(name="Retired therapy", is_active=False)
    page = text(client.get("/treatments/"))
    assert "Shown therapy" in page
    assert "Microsclerotherapy" in page
    assert "Foam sclerotherapy" in page
    assert "Hidden therapy" not in page
    assert "Retired therapy" not in page


def test_treatment_page_shows_its_sections_facts_prices_and_questions(client):
    treatment = TreatmentFactory(
        name="Shin therapy",
        slug="shin-therapy",
        min_planned_sessions=2,
        max_planned_sessions=3,
        min_gap_days_lowest=28,
        min_gap_days_highest=42,
        default_min_gap_days=28,
        session_lengths=[45, 30, 60],
        stocking_days=7,
        daily_walk_minutes=25,
        discharge_walk_minutes=15,
        bookable_online=False,
    )
    PriceFactory(treatment=treatment, minutes=30, amount=Decimal("260.00"))
    PriceFactory(
        treatment=treatment,
        minutes=45,
        amount=Decimal("340.00"),
        effective_until=date(2026, 8, 31),
    )
    PriceFactory(
        treatment=treatment, minutes=45, amount=Decimal("360.00"), effective_from=date(2026, 9, 1)
    )
    PriceFactory(treatment=TreatmentFactory(), amount=Decimal("777.00"))
    FaqFactory(treatment=treatment, question="Does shin therapy tickle?")
    FaqFactory(treatment=treatment, question="A draft question?", is_published=False)
    FaqFactory(treatment=None, question="A general question?")

    response = client.get("/treatments/shin-therapy/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert "<h1" in html and html.count("<h1") == 1
    assert "<p>What-it-is first paragraph.</p>" in html
    assert "<p>What-it-is second paragraph.</p>" in html
    for heading, body in [
        ("Before the treatment", "Before text for the test."),
        ("During the treatment", "During text for the test."),
        ("Straight after", "Straight-after text for the test."),
        ("Recovery", "Recovery text for the test."),
        ("Risks and side effects", "Risks text for the test."),
    ]:
        assert heading in page
        assert body in page
    # The facts box, from the treatment's rule numbers.
    assert "Sessions in a course Usually 2 to 3" in page
    assert "At least 4 to 6 weeks" in page
    assert "30, 45 or 60 minutes" in page
    assert "7 days (one full week) afterwards" in page
    assert "Walk before going home At least 15 minutes" in page
    assert "At least 25 minutes" in page
    assert "Booking online No" in page
    # Its prices today and the change ahead, not another treatment's.
    assert "£260.00" in page
    assert "£340.00" in page
    assert "£360.00 from 1 September 2026" in page
    assert "£777.00" not in page
    # Its published questions only.
    assert "Does shin therapy tickle?" in page
    assert "A draft question?" not in page
    assert "A general question?" not in page


def test_treatment_page_says_when_it_can_be_booked_online(client):
    TreatmentFactory(slug="online-therapy", bookable_online=True)
    page = text(client.get("/treatments/online-therapy/"))
    assert "Booking online Yes, once you have had your consultation" in page
    assert "Create an account" in page


@pytest.mark.parametrize(
    "fields",
    [{"is_active": False}, {"has_public_page": False}],
    ids=["inactive", "no-public-page"],
)
def test_treatment_page_is_a_404_unless_public(client, fields):
    TreatmentFactory(slug="not-shown", **fields)
    assert client.get("/treatments/not-shown/").status_code == 404


def test_unknown_treatment_is_a_404(client):
    assert client.get("/treatments/no-such-thing/").status_code == 404


def test_seeded_treatment_pages_show_their_text(client):
    page = text(client.get("/treatments/microsclerotherapy/"))
    assert "sodium tetradecyl sulphate" in page
    assert "Usually 2 to 4" in page
    assert "£260.00" in page
    foam = text(client.get("/treatments/foam-sclerotherapy/"))
    assert "larger varicose veins" in foam
    assert "Booking online No" in foam


# --- aftercare --------------------------------------------------------------------------------


def test_aftercare_advice_uses_the_treatments_numbers(client):
    Treatment.objects.filter(has_public_page=True).update(
        stocking_days=10, daily_walk_minutes=25, discharge_walk_minutes=12
    )
    page = text(client.get("/aftercare-advice/"))
    assert "Keep them on for 10 days after each session" in page
    assert "walk for at least 12 minutes" in page
    assert "Walk for at least 25 minutes every day" in page
    assert "Do not go swimming while you are wearing them" in page
    assert "Driving is fine" in page
    assert "When to call us" in page
    assert "999" in page


def test_aftercare_advice_points_to_the_table_when_treatments_differ(client):
    Treatment.objects.filter(slug="foam-sclerotherapy").update(stocking_days=14)
    page = text(client.get("/aftercare-advice/"))
    assert "the number of days shown for your treatment in the table" in page
    assert "Foam sclerotherapy 14 days" in page
    assert "Microsclerotherapy 7 days" in page


# --- FAQs -----------------------------------------------------------------------------------


def test_faqs_are_grouped_general_first_and_hide_drafts(client):
    treatment = TreatmentFactory(name="Ankle therapy")
    FaqFactory(treatment=treatment, question="Ankle question?", order=1)
    FaqFactory(treatment=None, question="Second general?", order=2)
    FaqFactory(treatment=None, question="First general?", order=1, answer="Line one.\n\nLine two.")
    FaqFactory(treatment=None, question="Unpublished one?", is_published=False)
    FaqFactory(treatment=TreatmentFactory(is_active=False), question="Retired question?")

    response = client.get("/faqs/")
    html = response.content.decode()
    page = text(response)
    assert "Unpublished one?" not in page
    assert "Retired question?" not in page
    assert (
        page.index("General questions")
        < page.index("First general?")
        < page.index("Second general?")
        < page.index("About ankle therapy")
        < page.index("Ankle question?")
    )
    assert "<summary>First general?</summary>" in html
    assert "<p>Line one.</p>" in html and "<p>Line two.</p>" in html


def test_faq_answers_are_escaped(client):
    FaqFactory(question="<b>Bold?</b>", answer="<script>alert(1)</script>")
    html = client.get("/faqs/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;b&gt;Bold?&lt;/b&gt;" in html


# --- contact ----------------------------------------------------------------------------------


def test_contact_shows_active_locations_with_hours_and_closures(client):
    location = LocationFactory(
        name="Harbour Clinic",
        address="7 Quay Street\n\nBristol\nBS1 4AA",
        phone="0117 496 0000",
        email="harbour@example.org",
    )
    for weekday in range(5):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=time(9), closes=time(12, 30)
        )
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=time(13, 30), closes=time(17)
        )
    OpeningHours.objects.create(location=location, weekday=5, opens=time(9), closes=time(13))
    Closure.objects.create(location=location, date=date(2026, 7, 3), reason="Staff training")
    Closure.objects.create(location=None, date=date(2026, 8, 31), reason="Summer bank holiday")
    Closure.objects.create(location=location, date=date(2026, 6, 1), reason="Already past")
    LocationFactory(name="Closed-down clinic", is_active=False)

    response = client.get("/contact/")
    html = response.content.decode()
    page = text(response)
    assert "Harbour Clinic" in page
    assert "7 Quay Street<br>Bristol<br>BS1 4AA" in html
    assert '<a href="tel:01174960000">0117 496 0000</a>' in html
    assert '<a href="mailto:harbour@example.org">harbour@example.org</a>' in html
    assert "Monday 09:00 to 12:30, then 13:30 to 17:00" in page
    assert "Saturday 09:00 to 13:00" in page
    assert "Sunday Closed" in page
    assert "Friday 3 July 2026: Staff training" in page
    assert "Monday 31 August 2026: Summer bank holiday" in page
    assert "Already past" not in page
    assert "Closed-down clinic" not in page


# --- prices -----------------------------------------------------------------------------------


def test_pricing_shows_current_prices_scheduled_changes_and_from_dates(client):
    treatment = TreatmentFactory(name="Knee therapy", slug="knee-therapy")
    PriceFactory(
        treatment=treatment,
        minutes=30,
        amount=Decimal("260.00"),
        effective_until=date(2027, 2, 28),
        includes_vat=True,
    )
    PriceFactory(
        treatment=treatment,
        minutes=30,
        amount=Decimal("280.00"),
        effective_from=date(2027, 3, 1),
        includes_vat=True,
    )
    # An ended price is gone from the list.
    PriceFactory(
        treatment=treatment,
        minutes=50,
        amount=Decimal("199.99"),
        effective_until=date(2026, 6, 14),
    )
    # Not on sale yet: its first price starts later.
    PriceFactory(
        treatment=treatment,
        package_sessions=3,
        amount=Decimal("1200.00"),
        effective_from=date(2026, 10, 1),
    )
    PriceFactory(
        treatment=TreatmentFactory(name="Euro therapy"), amount=Decimal("10.00"), currency="EUR"
    )

    response = client.get("/pricing/")
    page = text(response)
    assert "Knee therapy" in page
    assert "30-minute session £260.00 VAT included" in page
    assert "£280.00 from 1 March 2027, VAT included" in page
    assert "£199.99" not in page
    assert "50-minute session" not in page
    assert "Course of 3 sessions, paid together £1,200.00 from 1 October 2026" in page
    assert "EUR 10.00" in page
    assert 'href="/insurance/"' in response.content.decode()
    assert "their rules apply rather than this list" in page


def test_pricing_lists_the_seeded_catalogue_in_order(client):
    page = text(client.get("/pricing/"))
    consultation = page.index("Initial consultation")
    micro = page.index("30-minute session £260.00")
    micro_long = page.index("45-minute session £340.00")
    reassessment = page.index("Reassessment")
    assert consultation < micro < micro_long < reassessment
    assert "£195.00" in page
    assert "£90.00" in page


def test_pricing_hides_inactive_treatments(client):
    PriceFactory(treatment=TreatmentFactory(name="Old therapy", is_active=False))
    assert "Old therapy" not in text(client.get("/pricing/"))


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("260", "GBP", "£260.00"),
        ("1200.5", "GBP", "£1,200.50"),
        ("10", "EUR", "EUR 10.00"),
        ("0", "USD", "USD 0.00"),
    ],
)
def test_money_is_shown_with_its_currency(amount, currency, shown):
    assert money(Decimal(amount), currency) == shown


@pytest.mark.parametrize(
    ("lowest", "highest", "shown"),
    [
        (28, 42, "At least 4 to 6 weeks, as your consultant advises"),
        (28, 28, "At least 4 weeks"),
        (30, 40, "At least 30 to 40 days, as your consultant advises"),
    ],
)
def test_gap_between_sessions_in_words(lowest, highest, shown):
    treatment = Treatment(min_gap_days_lowest=lowest, min_gap_days_highest=highest)
    assert gap_text(treatment) == shown


# --- insurance --------------------------------------------------------------------------------


def test_insurance_explains_pre_authorisation_and_that_cover_is_rare(client):
    response = client.get("/insurance/")
    page = text(response)
    assert "Insurers rarely pay for thread-vein treatment" in page
    assert "cosmetic" in page
    assert "pre-authorisation code before you book" in page
    assert "Insured" in page
    assert 'href="/pricing/"' in response.content.decode()


# --- query budgets ----------------------------------------------------------------------------


_lengths = itertools.count(50)


def _many_prices(n: int) -> None:
    """n session lengths of microsclerotherapy, each with a price today and a change ahead,
    and n other treatments with a price (no two rows for one item overlap)."""
    treatment = Treatment.objects.get(slug="microsclerotherapy")
    for _ in range(n):
        minutes = next(_lengths)
        PriceFactory(
            treatment=treatment,
            minutes=minutes,
            amount=Decimal("300.00"),
            effective_until=date(2026, 12, 31),
        )
        PriceFactory(
            treatment=treatment,
            minutes=minutes,
            amount=Decimal("320.00"),
            effective_from=date(2027, 1, 1),
        )
        PriceFactory(treatment=TreatmentFactory(), amount=Decimal("50.00"))


def _many_faqs(n: int) -> None:
    treatment = Treatment.objects.get(slug="microsclerotherapy")
    for _ in range(n):
        FaqFactory(treatment=treatment)
        FaqFactory(treatment=None)
        FaqFactory(treatment=TreatmentFactory())


def _many_locations(n: int) -> None:
    for _ in range(n):
        location = LocationFactory()
        for weekday in range(6):
            OpeningHours.objects.create(
                location=location, weekday=weekday, opens=time(9), closes=time(17)
            )
        Closure.objects.create(location=location, date=date(2026, 7, 1), reason="Training")
    Closure.objects.create(location=None, date=date(2026, 8, 31), reason="Bank holiday")


def _many_rows(n: int) -> None:
    _many_prices(n)
    _many_faqs(n)
    _many_locations(n)


# Visitors have no session: each page's own reads only.
BUDGETS = {
    "home": 1,
    "treatments": 1,
    "microsclerotherapy": 3,
    "foam": 3,
    "aftercare_advice": 1,
    "faqs": 1,
    "contact": 3,
    "pricing": 1,
    "insurance": 0,
}


@pytest.mark.parametrize("name", PAGES.keys())
def test_query_count_does_not_grow_with_rows(client, django_assert_max_num_queries, name):
    _many_rows(1)
    with django_assert_max_num_queries(BUDGETS[name]) as few:
        assert client.get(PAGES[name]).status_code == 200
    _many_rows(30)
    with django_assert_max_num_queries(BUDGETS[name]) as many:
        response = client.get(PAGES[name])
    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_many_rows_do_show(client):
    """The budget test above renders real data, not empty pages."""
    _many_rows(30)
    assert text(client.get("/pricing/")).count("£320.00 from 1 January 2027") == 30
    assert len(re.findall("<summary>", client.get("/faqs/").content.decode())) >= 90
    assert client.get("/contact/").content.decode().count('data-testid="location"') >= 30

"""The public site's pages: read-only, built from the clinic's data, no login needed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from treatments.models import Faq, Price, Treatment
from treatments.selectors import PriceLine, price_list, public_faqs, public_treatments

from .selectors import contact_locations

# Currencies shown with their sign; any other code is written out ("EUR 10.00").
CURRENCY_SIGNS = {"GBP": "£"}

T = TypeVar("T")


# --- formatting -----------------------------------------------------------------------------


def money(amount: Decimal, currency: str) -> str:
    """£260.00 for pounds; "EUR 10.00" for any other currency code."""
    sign = CURRENCY_SIGNS.get(currency)
    if sign:
        return f"{sign}{amount:,.2f}"
    return f"{currency} {amount:,.2f}"


def or_list(numbers: Sequence[int]) -> str:
    """30 / 30 or 45 / 30, 45 or 60."""
    words = [str(n) for n in numbers]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def weeks(days: int) -> str:
    """Whole weeks where the days divide evenly, otherwise days."""
    if days % 7 == 0:
        n = days // 7
        return f"{n} week" if n == 1 else f"{n} weeks"
    return f"{days} days"


def span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low} to {high}"


def common(values: Iterable[T]) -> T | None:
    """The one value every item shares, or None when they differ (or there are none)."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


# --- prices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceChange:
    amount: str
    starts: date
    includes_vat: bool


@dataclass(frozen=True)
class PriceRow:
    """One line of the price list, ready to show."""

    label: str
    amount: str | None
    includes_vat: bool
    until: date | None
    changes: list[PriceChange]

    @property
    def first_change(self) -> PriceChange | None:
        return self.changes[0] if self.changes else None

    @property
    def later_changes(self) -> list[PriceChange]:
        """Changes after the first when the item has no price today (the first is shown as
        its price); every change otherwise."""
        return self.changes if self.amount is not None else self.changes[1:]


@dataclass
class PriceGroup:
    treatment: Treatment
    rows: list[PriceRow] = field(default_factory=list)


def line_label(line: PriceLine) -> str:
    if line.package_sessions:
        length = f" of {line.minutes} minutes" if line.minutes else ""
        return f"Course of {line.package_sessions} sessions{length}, paid together"
    if line.minutes:
        noun = "session" if line.treatment.is_treatment else "appointment"
        return f"{line.minutes}-minute {noun}"
    return "Per session" if line.treatment.is_treatment else "Per appointment"


def _change(price: Price) -> PriceChange:
    return PriceChange(
        amount=money(price.amount, price.currency),
        starts=price.effective_from,
        includes_vat=price.includes_vat,
    )


def price_row(line: PriceLine) -> PriceRow:
    current = line.current
    return PriceRow(
        label=line_label(line),
        amount=money(current.amount, current.currency) if current else None,
        includes_vat=bool(current and current.includes_vat),
        until=current.effective_until if current and not line.upcoming else None,
        changes=[_change(price) for price in line.upcoming],
    )


def price_groups(*, on: date) -> list[PriceGroup]:
    """The price list on a day, one group per catalogue item, in the list's order
    (consultation, treatments, reassessment; single appointments before packages)."""
    groups: dict[int, PriceGroup] = {}
    for line in price_list(on=on):
        group = groups.setdefault(line.treatment.pk, PriceGroup(line.treatment))
        group.rows.append(price_row(line))
    return list(groups.values())


# --- treatments and FAQs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    term: str
    value: str


def treatment_facts(treatment: Treatment) -> list[Fact]:
    """The treatment's rule numbers, in words, for the "at a glance" box."""
    facts = []
    if treatment.is_treatment:
        facts += [
            Fact(
                "Sessions in a course",
                f"Usually {span(treatment.min_planned_sessions, treatment.max_planned_sessions)}",
            ),
            Fact("Time between sessions", gap_text(treatment)),
        ]
    if treatment.session_lengths:
        facts.append(
            Fact("Length of a session", f"{or_list(sorted(treatment.session_lengths))} minutes")
        )
    if treatment.is_treatment:
        facts += [
            Fact("Compression stockings", f"{stocking_text(treatment.stocking_days)} afterwards"),
            Fact(
                "Walk before going home",
                f"At least {treatment.discharge_walk_minutes} minutes",
            ),
            Fact(
                "Daily walk while you recover", f"At least {treatment.daily_walk_minutes} minutes"
            ),
        ]
    facts.append(Fact("Booking online", online_booking_text(treatment)))
    return facts


def online_booking_text(treatment: Treatment) -> str:
    if not treatment.bookable_online:
        return "No: the clinic books these appointments with you"
    if treatment.requires_consultation:
        return "Yes, once you have had your consultation"
    return "Yes"


def gap_text(treatment: Treatment) -> str:
    low, high = treatment.min_gap_days_lowest, treatment.min_gap_days_highest
    if low == high:
        return f"At least {weeks(low)}"
    if low % 7 == 0 and high % 7 == 0:
        return f"At least {low // 7} to {high // 7} weeks, as your consultant advises"
    return f"At least {low} to {high} days, as your consultant advises"


def stocking_text(days: int) -> str:
    if days == 7:
        return "7 days (one full week)"
    return "1 day" if days == 1 else f"{days} days"


@dataclass
class FaqGroup:
    heading: str
    treatment: Treatment | None
    faqs: list[Faq] = field(default_factory=list)


def faq_groups(faqs: Iterable[Faq]) -> list[FaqGroup]:
    """General questions first, then one group per treatment (by name). Questions about an
    item no longer in the catalogue are left out."""
    general = FaqGroup("General questions", None)
    by_treatment: dict[int, FaqGroup] = {}
    for faq in faqs:
        if faq.treatment is None:
            general.faqs.append(faq)
        elif faq.treatment.is_active:
            by_treatment.setdefault(
                faq.treatment.pk, FaqGroup(f"About {faq.treatment.name.lower()}", faq.treatment)
            ).faqs.append(faq)
    groups = [general] if general.faqs else []
    return groups + sorted(by_treatment.values(), key=lambda group: group.heading)


# --- aftercare -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AftercareNumbers:
    """The aftercare numbers every treatment shares (None where they differ)."""

    stocking_days: int | None
    discharge_walk_minutes: int | None
    daily_walk_minutes: int | None

    @property
    def stocking_text(self) -> str | None:
        return stocking_text(self.stocking_days) if self.stocking_days else None


def aftercare_numbers(treatments: Sequence[Treatment]) -> AftercareNumbers:
    return AftercareNumbers(
        stocking_days=common(t.stocking_days for t in treatments),
        discharge_walk_minutes=common(t.discharge_walk_minutes for t in treatments),
        daily_walk_minutes=common(t.daily_walk_minutes for t in treatments),
    )


# --- views -------------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "clinic/home.html", {"treatments": list(public_treatments())})


@require_GET
def treatment_list(request: HttpRequest) -> HttpResponse:
    return render(request, "public/treatments.html", {"treatments": list(public_treatments())})


@require_GET
def treatment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    treatment = public_treatments().filter(slug=slug).first()
    if treatment is None:
        raise Http404("No such treatment page.")
    today = timezone.localdate()
    prices = [group for group in price_groups(on=today) if group.treatment.pk == treatment.pk]
    return render(
        request,
        "public/treatment_detail.html",
        {
            "treatment": treatment,
            "facts": treatment_facts(treatment),
            "prices": prices[0].rows if prices else [],
            "faqs": list(public_faqs(treatment=treatment)),
        },
    )


@require_GET
def aftercare_advice(request: HttpRequest) -> HttpResponse:
    treatments = [t for t in public_treatments() if t.is_treatment]
    return render(
        request,
        "public/aftercare_advice.html",
        {
            "treatments": treatments,
            "numbers": aftercare_numbers(treatments),
        },
    )


@require_GET
def faqs(request: HttpRequest) -> HttpResponse:
    return render(request, "public/faqs.html", {"groups": faq_groups(public_faqs())})


@require_GET
def contact(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "public/contact.html",
        {"locations": contact_locations(on=timezone.localdate())},
    )


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request, "public/pricing.html", {"groups": price_groups(on=today), "today": today}
    )


@require_GET
def insurance(request: HttpRequest) -> HttpResponse:
    return render(request, "public/insurance.html")

"""Every public page passes axe-core (no serious or critical violations) at phone and
desktop width, with the demo data in place; screenshots go to var/screenshots/public-*."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clinic.demo import seed_demo

from .a11y import check_page
from .test_booking_journey import log_in

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "home": "/",
    "treatments": "/treatments/",
    "microsclerotherapy": "/treatments/microsclerotherapy/",
    "foam-sclerotherapy": "/treatments/foam-sclerotherapy/",
    "aftercare-advice": "/aftercare-advice/",
    "faqs": "/faqs/",
    "contact": "/contact/",
    "pricing": "/pricing/",
    "insurance": "/insurance/",
}


def open_first_question(page) -> None:
    """Open one answer so that the check (and the screenshot) covers an open answer too."""
    questions = page.locator("details.faq > summary")
    if questions.count():
        questions.first.click()


@override_settings(DEBUG=True)
def test_public_pages_pass_axe_for_a_visitor(live_server, page):
    seed_demo()
    failures = []
    for name, path in PAGES.items():
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        open_first_question(page)
        try:
            check_page(page, f"public-{name}")
        except AssertionError as error:
            # Check every page before failing, so one report names them all.
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)


@override_settings(DEBUG=True)
def test_public_pages_menu_for_a_logged_in_patient(live_server, page):
    seed_demo()
    log_in(page, live_server.url, "patient@example.com")
    page.goto(live_server.url + "/pricing/")
    page.get_by_role("button", name="About the clinic").click()
    menu = page.locator(".dropdown-menu.show")
    menu.get_by_role("link", name="Insurance").wait_for()
    check_page(page, "public-pricing-patient")
    menu_links = page.locator(".dropdown-menu a").all_inner_texts()
    assert menu_links == ["Treatments", "Prices", "Insurance", "FAQs", "Contact"]
    page.locator(".dropdown-menu").get_by_role("link", name="FAQs").click()
    page.wait_for_url("**/faqs/")

"""The Content-Security-Policy allows no inline script or style: no page of ours may
need one. The browser reports every blocked item; this test fails on any."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clinic.demo import DEMO_PASSWORD, seed_demo

pytestmark = pytest.mark.django_db(transaction=True)

WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push(
    [e.violatedDirective, e.blockedURI || 'inline', e.sourceFile, e.lineNumber].join(' '));
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def visit(page, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return violations(page)


def log_in(page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


@override_settings(DEBUG=True)
def test_no_page_trips_the_content_security_policy(live_server, page):
    seed_demo()
    page.add_init_script(WATCH)
    base = live_server.url
    found: dict[str, list[str]] = {}
    for path in ["/", "/treatments/microsclerotherapy/", "/pricing/", "/faqs/", "/accounts/login/"]:
        found[path] = visit(page, base + path)
    log_in(page, base, "patient@example.com")
    for path in [
        "/my/",
        "/my/record/",
        "/my/profile/",
        "/aftercare/",
        "/accounts/two-factor/manage/",
    ]:
        found[path] = visit(page, base + path)
    # The booking calendar swaps parts of the page with htmx.
    page.goto(base + "/book/")
    page.get_by_test_id("allowed-options").get_by_role("link", name="Choose").first.click()
    page.get_by_test_id("month").wait_for()
    page.get_by_test_id("next-month").click()
    page.get_by_test_id("month").wait_for()
    page.wait_for_load_state("networkidle")
    found["/book/ (htmx)"] = violations(page)
    page.context.clear_cookies()
    log_in(page, base, "nurse@example.com")
    for path in ["/staff/today/", "/staff/diary/"]:
        found[path] = visit(page, base + path)
    page.context.clear_cookies()
    log_in(page, base, "admin@example.com")
    for path in ["/admin/", "/admin/treatments/price/", "/admin/treatments/price/add/"]:
        found[path] = visit(page, base + path)
    assert {k: v for k, v in found.items() if v} == {}


def test_the_watch_sees_a_blocked_inline_script(live_server, page):
    """The check above can fail: an inline script is blocked and reported."""
    page.add_init_script(WATCH)
    page.goto(live_server.url + "/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.x") is None
    assert any("script-src" in v for v in violations(page))

"""Accessibility checks and screenshots for browser tests.

``check_page`` runs axe-core (the copy bundled with axe-playwright-python) on the page as it
stands and fails on any serious or critical violation, naming the rule, the help text and
the first offending elements. ``screenshots`` keeps the page at phone (375 px) and desktop
(1280 px) width under ``var/screenshots/`` for people to look at (CI keeps them).
"""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"phone": (375, 812), "desktop": (1280, 900)}
BLOCKING = {"serious", "critical"}
# WCAG 2.0/2.1/2.2 A and AA rules, and axe's best practices that concern these pages.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
}

_axe = Axe()


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the current page."""
    results = _axe.run(page, options=AXE_OPTIONS)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [", ".join(node["target"]) for node in v["nodes"][:3]]
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} -> {targets}")
    return "\n".join(lines)


def check_page(page, name: str, *, shots: bool = True) -> None:
    """Fail on serious/critical violations at desktop and at phone width; keep screenshots."""
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        assert not violations, f"{name} at {width}px:\n{describe(violations)}"
        if shots:
            screenshot(page, f"{name}-{width_name}")
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Every page, as each kind of visitor sees it, checked by axe-core (WCAG 2.0 and 2.1, A and
AA) on a phone and a desktop; on the phone each page is also narrowed to 320 px and must not
scroll sideways. A failure lists every violation: page, rule, element and what to do."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.browser import artifacts
from tests.browser import test_paying as paying
from tests.browser.pages import WALKS, build_world, open_page
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD

sandboxes, app, payer = paying.sandboxes, paying.app, paying.payer

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
NARROWEST = {"width": 320, "height": 640}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Best practice, not a WCAG criterion, but a screen reader reads an empty heading as nothing.
ALSO = {"empty-table-header": {"enabled": True}}
SCREENSHOTS = {("customer", "dashboard"), ("customer", "pay")}
AXE = Axe()
# What a finger presses: at least 44 x 44 CSS px on a phone (a checkbox counts by its label).
TARGETS = (
    "main button, header button, a.button, #site-nav a, .brand, label.choice, label.tap, select,"
    " input:not([type=checkbox]):not([type=radio]):not([type=hidden])"
)


@pytest.fixture
def world(app, payer, sandboxes) -> dict[str, object]:
    customer, invoices = payer
    return build_world(app, sandboxes[1], customer, invoices)


def violations(page: Page) -> list[str]:
    """axe-core's WCAG A/AA violations on the page as it is now, one line per element."""
    found = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG}, "rules": ALSO})
    return [
        f"{rule['id']} at {' '.join(node['target'])}: {rule['help']}"
        for rule in found.response["violations"]
        for node in rule["nodes"]
    ]


def small_targets(page: Page) -> list[str]:
    """Visible controls smaller than 44 x 44 px, described by tag, class and text."""
    return page.evaluate(
        """sel => [...document.querySelectorAll(sel)]
            .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden")
            .map(e => [e, e.getBoundingClientRect()])
            .filter(([e, r]) => r.width < 43.5 || r.height < 43.5)
            .map(([e, r]) => `${e.tagName.toLowerCase()}.${e.className}`
                + ` "${(e.textContent || e.name || "").trim().slice(0, 30)}"`
                + ` ${r.width | 0}x${r.height | 0}`)""",
        TARGETS,
    )


def sideways(page: Page) -> int:
    """How many CSS pixels the page scrolls sideways at 320 px wide (0: none)."""
    size = page.viewport_size
    page.set_viewport_size(NARROWEST)  # type: ignore[arg-type]
    extra = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(size)  # type: ignore[arg-type]
    return max(int(extra), 0)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", WALKS)
def test_every_page_meets_wcag_aa_and_fits_a_320_pixel_phone(
    browser: Browser, live_url: str, world, role: str, size: str
):
    context = browser.new_context(base_url=live_url, viewport=SIZES[size])  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    login, visits = WALKS[role]
    if login:
        log_in(page, login, PASSWORD)
    report: dict[str, dict[str, object]] = {}
    problems: list[str] = []
    for visit in visits:
        open_page(page, visit, world)
        found = violations(page)
        problems += [f"{role}/{size} {visit.name}: {line}" for line in found]
        entry: dict[str, object] = {"violations": found}
        if size == "phone":
            entry["small_targets"] = small = small_targets(page)
            problems += [f"{role} {visit.name}: under 44px: {target}" for target in small]
            entry["sideways_at_320"] = extra = sideways(page)
            if extra:
                problems.append(f"{role} {visit.name}: scrolls {extra}px sideways at 320px")
        if (role, visit.name) in SCREENSHOTS:
            artifacts.screenshot(page, f"{visit.name}-{size}")
        report[visit.name] = entry
    context.close()
    (artifacts.folder() / f"a11y-{role}-{size}.json").write_text(json.dumps(report, indent=1))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)

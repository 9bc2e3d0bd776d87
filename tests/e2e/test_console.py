"""The web console in Debian's Chromium: a P1 from declaration to post-mortem.

One real server (``live_server``) on a SQLite store with a manual clock, so the
test can let an SLA clock run out. The browser is Playwright for Python driving
``/usr/bin/chromium`` (no browser download). Screenshots of the board, the
incident page and the status page go to ``artifacts/console/``; axe-core from
``tests/e2e/node_modules`` (``make test-deps``) checks each page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mgops.access import create_integration, create_token
from mgops.clock import ManualClock
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import DeclareRequest
from mgops.policy import default_policy
from mgops.store.db import Store
from tests.servers import require_binary
from tests.web.live import live_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
TITLE = "Playback fails for EU viewers"


ALERT = {
    "version": "4",
    "groupKey": '{}:{alertname="SearchLatency"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "mgops",
    "groupLabels": {"alertname": "SearchLatency"},
    "commonLabels": {"alertname": "SearchLatency", "severity": "warning"},
    "commonAnnotations": {"summary": "Search p99 above 300ms"},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "SearchLatency", "service": "search-service"},
            "annotations": {"summary": "Search p99 above 300ms"},
            "startsAt": "2026-03-02T09:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "5e1a2b3c4d5e6f70",
        }
    ],
}


def fake_log_search(query: str, sources: list[str]) -> list[dict[str, Any]]:
    """Stands in for ``mgops.logs.run_query``: errors per minute over 10 minutes."""
    start = datetime(2026, 3, 2, 9, 50, tzinfo=UTC)
    return [
        {"minute": start + timedelta(minutes=m), "count": (m * 7) % 11}
        for m in range(10)
    ]


class Site:
    def __init__(
        self, url: str, store: Store, clock: ManualClock, tokens: dict[str, str]
    ) -> None:
        self.url = url
        self.store = store
        self.clock = clock
        self.tokens = tokens

    def an_incident(self) -> int:
        """The id of some incident, declaring one when there is none yet."""
        desk = LocalDesk(self.store, default_policy(), self.clock, "seed")
        found = desk.list()
        if found:
            return found[0].id
        request = DeclareRequest(title="Seeded", severity="P2", page=False)
        return desk.declare(request).id


def with_log_search(app: FastAPI) -> None:
    app.state.log_runner = fake_log_search
    app.state.log_sources = ["/var/log/mgops/api.jsonl"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('console') / 'mgops.db'}")
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    tokens = {}
    with store.session() as session:
        for role in ("viewer", "responder"):
            _, tokens[role] = create_token(
                session, name=f"{role}-ann", role=role, now=clock.now()
            )
        _, key = create_integration(
            session, name="am", kind="alertmanager", now=clock.now()
        )
    policy = default_policy()
    with live_server(store, policy, clock=clock, configure=with_log_search) as url:
        sent = httpx.post(f"{url}/api/v1/integrations/alertmanager/{key}", json=ALERT)
        assert sent.status_code < 300, sent.text
        yield Site(url, store, clock, tokens)
    store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_binary(CHROMIUM, "chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def open_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Page, site: Site, role: str = "responder") -> None:
    page.goto(f"{site.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("API token").fill(site.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    assert AXE.exists(), f"{AXE} is missing; run `make test-deps`."
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document);
          return result.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.map(n => n.target.join(' '))}));
        }"""
    )
    return found


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def clock_of(page: Page, name: str) -> Any:
    return page.locator(f".clock[data-clock='{name}']").first


class TestIncidentJourney:
    """A responder runs a P1 through the console; customers watch /status."""

    def test_declare_tick_update_ack_resolve_postmortem(
        self, site: Site, browser: Browser
    ) -> None:
        """Every step a responder takes in the runbook, in the browser."""
        page = open_page(browser)
        sign_in(page, site)

        # Declare a customer-facing P1 on the API Gateway.
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Severity").select_option("P1")
        page.get_by_label("API Gateway").check()
        page.get_by_label("Customer-facing").check()
        page.get_by_role("button", name="Declare").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
        expect(page.locator("#phase")).to_have_text("DETECT")
        incident_id = page.url.rstrip("/").rsplit("/", 1)[-1]
        incident_url = page.url

        # Tick two DETECT items in place; they stay ticked after a reload.
        for label in ("Understand the alert", "Check service health dashboard"):
            page.get_by_label(label).check()
            expect(page.locator("#live-region")).to_contain_text("ticked")
        page.reload()
        expect(page.get_by_label("Understand the alert")).to_be_checked()
        expect(page.get_by_label("Check service health dashboard")).to_be_checked()
        expect(page.get_by_label("Assess customer impact")).not_to_be_checked()

        # Twenty minutes pass without an update: the 15-minute clock is overdue.
        site.clock.advance(timedelta(minutes=20))
        page.reload()
        overdue = clock_of(page, "next-update")
        expect(overdue).to_have_class(re.compile(r"\boverdue\b"))
        expect(overdue).to_contain_text("overdue by 5m")

        # A status update resets it to the cadence, with the message to copy.
        page.get_by_label("State").select_option("Identified")
        page.get_by_label("What we know").fill("EU edge nodes return 503.")
        page.get_by_label("What we're doing").fill("Draining the EU pool.")
        preview = page.locator("#rendered-update")
        expect(preview).to_contain_text("Identified")
        expect(preview).to_contain_text("Draining the EU pool.")
        page.get_by_role("button", name="Post update").click()
        expect(page.locator(".flash.ok")).to_contain_text("Status update posted")
        reset = clock_of(page, "next-update")
        expect(reset).not_to_have_class(re.compile(r"\boverdue\b"))
        expect(reset).to_contain_text(re.compile(r"^1[45]m \d\ds left$"))
        due = datetime.fromisoformat(reset.get_attribute("data-due") or "")
        assert site.clock.now() + timedelta(minutes=15) == due
        expect(page.locator("#rendered-update")).to_contain_text("Draining the EU")
        shot(page, "incident.png")

        # Customers see it, with the public update and nothing internal.
        status = open_page(browser)
        status.goto(f"{site.url}/status")
        active = status.locator(".public-incident")
        expect(active).to_contain_text(TITLE)
        expect(active).to_contain_text("EU edge nodes return 503.")
        expect(status.locator(".services")).to_contain_text("major outage")
        assert "responder-ann" not in status.content()
        shot(status, "status-active.png")

        # The on-call acknowledges the page the P1 sent (the P3 alert's stays).
        page.goto(f"{site.url}/oncall")
        row = page.locator("#pages tr").filter(
            has=page.get_by_role("link", name=f"#{incident_id}", exact=True)
        )
        ack = row.get_by_role("button", name=re.compile(r"Acknowledge page \d+"))
        expect(ack).to_have_count(1)
        ack.click()
        expect(page.locator(".flash.ok")).to_contain_text("acknowledged")
        expect(page.locator("#pages td.status-acknowledged")).to_have_count(1)
        shot(page, "oncall.png")

        page.goto(f"{site.url}/")
        cards = page.locator(".incident-card")
        expect(cards.first).to_contain_text(TITLE)  # the P1 comes before the P3
        expect(cards).to_have_count(2)
        shot(page, "board.png")

        # Resolve (forced from DETECT, which the timeline records).
        page.goto(incident_url)
        page.get_by_label("Root cause").fill("Expired TLS certificate on EU edge")
        page.get_by_label(re.compile("Force \\(resolve from")).check()
        page.get_by_role("button", name="Resolve (move to REVIEW)").click()
        expect(page.locator("#phase")).to_have_text("REVIEW")
        expect(page.locator(".timeline")).to_contain_text("forced")

        page.get_by_role("link", name="Open the post-mortem draft").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Post-mortem")
        expect(page.locator("#postmortem")).to_contain_text(TITLE)

        # Gone from the active incidents, kept in the history.
        status.reload()
        expect(status.locator(".public-incident")).to_have_count(0)
        expect(status.locator(".history")).to_contain_text(TITLE)
        expect(status.locator(".overall")).to_have_text("All systems operational")

    def test_viewer_sees_no_controls(self, site: Site, browser: Browser) -> None:
        """A viewer reads the board and pages but is offered no form that changes."""
        page = open_page(browser)
        sign_in(page, site, role="viewer")
        expect(page.get_by_role("button", name="Declare")).to_have_count(0)
        page.goto(f"{site.url}/oncall")
        expect(
            page.get_by_role("button", name=re.compile("Acknowledge"))
        ).to_have_count(0)


class TestAlertsAndLogs:
    """Alert groups can be silenced; log results come with a drawn timechart."""

    def test_silence_a_group(self, site: Site, browser: Browser) -> None:
        """The group from Alertmanager is listed with its alert and silenced."""
        page = open_page(browser)
        sign_in(page, site)
        page.goto(f"{site.url}/alerts")
        expect(page.locator("main")).to_contain_text("Search p99 above 300ms")
        page.get_by_label("Silence for").first.select_option("60")
        page.get_by_role("button", name="Apply").first.click()

        expect(page.locator(".flash.ok")).to_contain_text("silenced for 60 minutes")
        expect(page.locator("main")).to_contain_text("silenced until 2026-03-02")

    def test_log_query_draws_a_timechart(self, site: Site, browser: Browser) -> None:
        """A query shows the rows and a chart with one bar per time bucket."""
        page = open_page(browser)
        sign_in(page, site)
        page.goto(f"{site.url}/logs")
        page.get_by_label("Query").fill("severity>=ERROR | timechart count by 1m")
        page.get_by_role("button", name="Search").click()

        expect(page.locator("table caption")).to_have_text("10 rows")
        expect(page.locator("#timechart")).to_have_attribute("data-drawn", "10")
        shot(page, "logs.png")
        assert [] == serious_violations(page)


class TestAccessibility:
    """axe-core finds no serious or critical violation; 390 px and keyboard work."""

    @pytest.mark.parametrize("path", ["/", "/incidents/{id}", "/oncall", "/alerts"])
    def test_console_pages(self, site: Site, browser: Browser, path: str) -> None:
        """Each console page passes axe's serious and critical rules."""
        page = open_page(browser)
        sign_in(page, site)
        page.goto(site.url + path.format(id=site.an_incident()))

        assert [] == serious_violations(page)

    @pytest.mark.parametrize("path", ["/status", "/login"])
    def test_public_pages(self, site: Site, browser: Browser, path: str) -> None:
        """The status page and the sign-in page pass too."""
        page = open_page(browser)
        page.goto(f"{site.url}{path}")

        assert [] == serious_violations(page)

    def test_phone_width(self, site: Site, browser: Browser) -> None:
        """At 390 px nothing scrolls sideways on the board and incident page."""
        page = open_page(browser, width=390, height=844)
        sign_in(page, site)
        incident = f"/incidents/{site.an_incident()}"
        for path in ("/", incident, "/oncall", "/alerts", "/status"):
            page.goto(f"{site.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")

            assert width <= 390, f"{path} is {width}px wide"
        page.goto(f"{site.url}{incident}")
        shot(page, "incident-390.png")

    def test_keyboard(self, site: Site, browser: Browser) -> None:
        """Tab reaches the skip link first; Space ticks a checklist item."""
        desk = LocalDesk(site.store, default_policy(), site.clock, "seed")
        request = DeclareRequest(title="Keyboard", severity="P3", page=False)
        incident = desk.declare(request).id
        page = open_page(browser)
        sign_in(page, site)
        page.goto(f"{site.url}/incidents/{incident}")
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Skip to content")

        box = page.get_by_label("Verify alert is not a false positive")
        box.focus()
        page.keyboard.press("Space")

        expect(page.locator("#live-region")).to_contain_text("ticked")
        expect(box).to_be_checked()
        ticked = [i.id for i in desk.show(incident).checklist.items if i.ticked]
        assert ["not-false-positive"] == ticked

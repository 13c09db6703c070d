"""The dashboard in a real browser, as an operator saw it with real traffic (#13.7): charts that
show a single hour, tables that fit their cards, and pages without console errors."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import usage_records_save
from channels.health import Breaker
from gateway import breakers
from reports.rollup import usage_rollup_run
from tests.browser.conftest import screenshot
from tests.factories import ApiKeyFactory, ChannelFactory, ChannelModelFactory, UsageRecordFactory

# Headless Chromium shows no tab, so it never asks for the page's icon: ask for it as a browser
# with a tab strip does, where the page's <link rel=icon> says, else at /favicon.ico.
FETCH_ICON = """async () => {
  const link = document.querySelector("link[rel~=icon]");
  const response = await fetch(link ? link.href : "/favicon.ico");
  return response.ok;
}"""

# Counts a chart's pixels in a series' colour (r, g, b): its line or its points, not the grid.
SERIES_PIXELS = """(canvas, rgb) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 0; i < data.length; i += 4) {
    const near = [0, 1, 2].every(c => Math.abs(data[i + c] - rgb[c]) < 24);
    if (near && data[i + 3] > 200) painted++;
  }
  return painted;
}"""
P50_BLUE, P95_RED = (47, 111, 223), (197, 48, 48)


@pytest.fixture
def console_errors(page) -> list[str]:
    """Every console error and uncaught exception of `page` from now on."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_pages_and_their_icon_log_no_console_errors(page, live_server, console_errors):
    for path, name in [("/dashboard/", "honest-overview"), ("/admin/", "honest-admin-index")]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(FETCH_ICON), f"{path}: its icon does not load"
        screenshot(page, name)
    assert console_errors == []


def test_the_admin_channel_page_does_not_scroll_sideways(page, live_server):
    channel = ChannelFactory(name="wide-channel")
    for index in range(3):
        ChannelModelFactory(channel=channel, model=f"a-rather-long-public-model-name-{index}")
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(f"{live_server.url}/admin/channels/channel/{channel.pk}/change/")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    screenshot(page, "honest-admin-channel")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    inline = page.locator("#models-group .tabular")
    assert inline.evaluate("box => box.scrollWidth > box.clientWidth")  # the table scrolls in it


def usage_in_one_hour(key_name: str = "web-app") -> None:
    """Three requests of one key a few minutes ago (one hourly bucket), rolled up."""
    key = ApiKeyFactory(name=key_name)
    channel = ChannelFactory(name="openai-main")
    now = timezone.now()
    records = [
        UsageRecordFactory.build(
            key=key,
            account=key.account,
            channel=channel,
            created_at=now - timedelta(minutes=minutes),
            cost=Decimal("0.0000054") * (minutes + 1),
            latency_ms=200 + minutes,
        )
        for minutes in (1, 2, 3)
    ]
    usage_records_save(records=records)
    usage_rollup_run()


def test_top_keys_keep_their_cost_inside_the_card(page, live_server):
    usage_in_one_hour(key_name="the-nightly-batch-summariser-for-the-finance-team-eu-west")
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(f"{live_server.url}/dashboard/")

    card = page.locator(".tops .card", has=page.get_by_role("heading", name="Top keys"))
    cost = card.locator("tbody tr td[data-cell=cost]")
    screenshot(page, "honest-top-keys")
    card_box = card.bounding_box()
    assert card_box is not None
    for cell in (cost, card.locator("tbody tr td").last):  # the last: what the cache saved
        box = cell.bounding_box()
        assert box is not None
        assert box["x"] >= card_box["x"]
        assert box["x"] + box["width"] <= card_box["x"] + card_box["width"]
    assert cost.inner_text() == "$0.0000486"  # 0.0000054 * (2 + 3 + 4)


def test_a_single_hour_of_latency_shows_on_the_chart(page, live_server):
    usage_in_one_hour()

    page.goto(f"{live_server.url}/dashboard/")

    chart = page.locator("figure", has_text="Latency p50 / p95").locator("[data-drawn=true] canvas")
    screenshot(page, "honest-latency-one-hour")
    for colour in (P50_BLUE, P95_RED):
        assert chart.evaluate(SERIES_PIXELS, list(colour)) > 0


def test_breaker_badges_are_red_amber_and_green(page, live_server, settings, monkeypatch):
    settings.REDIS_URL = ""  # the page shows this process's own breakers
    now = time.time()
    tripped = {
        "tripped": Breaker(5, now + 600, now - 60, "HTTP 503"),
        "trying-again": Breaker(5, now - 1, now - 60, "HTTP 503"),
    }
    for name, breaker in tripped.items():
        scope = breakers.Scope(ChannelFactory(name=name).pk)
        monkeypatch.setitem(breakers._breakers, scope, breaker)
    ChannelFactory(name="fine")

    page.goto(f"{live_server.url}/dashboard/channels/")

    screenshot(page, "honest-breakers")
    background = "badge => getComputedStyle(badge).backgroundColor"
    for name, state, colour in [
        ("tripped", "open", "rgb(251, 230, 230)"),
        ("trying-again", "half_open", "rgb(253, 243, 225)"),
        ("fine", "closed", "rgb(227, 244, 234)"),
    ]:
        badge = page.locator(f"tr[data-channel={name}] .badge.breaker-{state}")
        assert badge.evaluate(background) == colour, f"{name}'s {state} breaker"

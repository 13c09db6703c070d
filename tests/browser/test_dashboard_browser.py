"""The dashboard in a real browser: log in, every page, a new key's secret once, usage filters,
CSV downloads, charts that drew, and a phone-sized screen. Screenshots go to test-artifacts/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.services import account_credit, usage_records_save
from channels.models import HealthCheck
from reports.rollup import usage_rollup_run
from tests.browser.conftest import screenshot
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory, UsageRecordFactory

# Counts the chart's painted pixels: a blank canvas has none.
PAINTED_PIXELS = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
}"""


@pytest.fixture
def traffic(transactional_db):
    """An account with credit, two keys, a channel with probes, and a day of requests."""
    account = AccountFactory(name="acme")
    account_credit(account=account, amount=Decimal("20"))
    key = ApiKeyFactory(name="web-app", account=account, spend_limit=Decimal("5"))
    ApiKeyFactory(name="batch-jobs", account=account)
    channel = ChannelFactory(name="openai-main", status="healthy")
    now = timezone.now()
    for index in range(8):
        HealthCheck.objects.create(
            channel=channel,
            checked_at=now - timedelta(minutes=10 * index),
            ok=index != 3,
            latency_ms=80 + index,
            error="" if index != 3 else "HTTP 503",
        )
    records = [
        UsageRecordFactory.build(
            id=f"req_browser_{index:03d}",
            key=key,
            account=account,
            channel=channel,
            provider="openai",
            model=["gpt-4o-mini", "gpt-4o"][index % 2],
            status="error" if index % 5 == 0 else "ok",
            http_status=502 if index % 5 == 0 else 200,
            created_at=now - timedelta(minutes=45 * index),
            cost=Decimal("0.0125") * (index + 1),
            latency_ms=150 + 37 * index,
            attempts=[
                {
                    "channel": "openai-main",
                    "provider": "openai",
                    "outcome": "ok",
                    "http_status": 200,
                    "latency_ms": 140,
                    "error": "",
                }
            ],
        )
        for index in range(30)
    ]
    usage_records_save(records=records)  # as the gateway stores them: charged to the ledger
    usage_rollup_run()
    return account


def test_fresh_install_shows_how_to_begin(page):
    assert page.get_by_role("heading", name="Get started").is_visible()
    assert page.get_by_role("link", name="add a channel in the admin").is_visible()
    screenshot(page, "overview-empty")
    page.get_by_role("link", name="Keys", exact=True).click()
    assert page.get_by_text("No keys yet").is_visible()
    screenshot(page, "keys-empty")


def test_every_page_with_traffic_and_charts_drawn(page, live_server, traffic):
    page.goto(f"{live_server.url}/dashboard/?range=7d")
    page.wait_for_selector("[data-chart][data-drawn=true] canvas")
    canvases = page.locator("[data-chart] canvas")
    assert canvases.count() == 5
    for index in range(5):
        assert canvases.nth(index).evaluate(PAINTED_PIXELS) > 500
    assert page.locator("[data-stat=requests]").inner_text() == "30"
    assert page.get_by_role("cell", name="web-app").first.is_visible()
    screenshot(page, "overview")

    page.get_by_role("link", name="Channels", exact=True).click()
    assert page.locator("tr[data-channel=openai-main] .tick.fail").count() == 1
    assert page.locator("tr[data-channel=openai-main] .tick.ok").count() == 7
    screenshot(page, "channels")

    page.get_by_role("link", name="Billing", exact=True).click()
    assert page.get_by_role("cell", name="$14.1875").is_visible()
    screenshot(page, "billing")
    page.get_by_role("link", name="acme").click()
    assert page.get_by_test_id("balance").inner_text() == "$14.1875"  # 20 - 5.8125 charged
    screenshot(page, "billing-account")
    page.fill("#id_amount", "2.5")
    page.fill("#id_description", "browser top-up")
    page.get_by_role("button", name="Add credit").click()
    assert page.get_by_test_id("balance").inner_text() == "$16.6875"
    with page.expect_download() as download:
        page.get_by_test_id("statement-csv").click()
    lines = open(download.value.path()).read().splitlines()  # noqa: SIM115
    assert lines[0].startswith("day,model,endpoint,requests,errors")
    assert len(lines) > 1

    page.get_by_role("link", name="Admin", exact=True).click()
    assert "/admin/" in page.url
    page.locator("#dashboard-link").click()
    assert page.url.endswith("/dashboard/")


def test_usage_filters_detail_and_report_csv(page, live_server, traffic):
    page.get_by_role("link", name="Usage", exact=True).click()
    assert page.get_by_test_id("usage-total").inner_text() == "30"
    page.select_option("#id_status", "error")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_test_id("usage-total").inner_text() == "6"
    assert page.locator("table.records tbody tr").count() == 6
    screenshot(page, "usage-filtered")

    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    lines = open(download.value.path()).read().splitlines()  # noqa: SIM115
    assert lines[0] == (
        "group,name,requests,errors,prompt_tokens,completion_tokens,cached_tokens,"
        "reasoning_tokens,cache_write_tokens,cache_write_1h_tokens,cost"
    )
    assert sum(int(line.split(",")[2]) for line in lines[1:]) == 6

    page.locator("table.records tbody tr a").first.click()
    assert page.get_by_role("heading", name="Attempts").is_visible()
    assert page.get_by_role("cell", name="openai-main").is_visible()
    screenshot(page, "usage-detail")


def test_create_a_key_see_its_secret_once_and_revoke_it(page, live_server, traffic):
    page.get_by_role("link", name="Keys", exact=True).click()
    bar = page.locator("tr[data-key=web-app] [role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "100"  # 5.81 spent of a 5 USD limit
    page.fill("#id_name", "mobile-app")
    page.select_option("#id_account", label="acme")
    page.fill("#id_spend_limit", "3")
    page.select_option("#id_limit_reset", "daily")
    page.get_by_role("button", name="Create key").click()

    secret = page.get_by_test_id("secret").input_value()
    assert secret.startswith("sk-sy-")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "key-created")

    page.get_by_role("link", name="Done").click()
    assert page.locator("tr[data-key=mobile-app]").is_visible()
    assert secret not in page.content()
    screenshot(page, "keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-key=mobile-app]").get_by_role("button", name="Revoke").click()
    assert page.locator("tr[data-key=mobile-app]").get_by_text("revoked").is_visible()


def test_pages_fit_a_phone_screen(page, live_server, traffic):
    page.set_viewport_size({"width": 390, "height": 844})
    pages = [
        ("/dashboard/", "phone-overview"),
        ("/dashboard/channels/", "phone-channels"),
        ("/dashboard/usage/", "phone-usage"),
        ("/dashboard/usage/req_browser_000/", "phone-usage-detail"),
        ("/dashboard/billing/", "phone-billing"),
        (f"/dashboard/billing/{traffic.pk}/", "phone-billing-account"),
        ("/dashboard/keys/", "phone-keys"),
    ]
    for path, name in pages:
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        screenshot(page, name)

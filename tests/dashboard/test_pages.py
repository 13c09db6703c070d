"""The dashboard's pages: what an operator sees, with and without data."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import ApiKey, LedgerEntry
from billing.services import account_credit, api_key_revoke
from channels.models import HealthCheck
from reports.rollup import usage_rollup_run
from tests.dashboard.attempt_helpers import record_with_attempts
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory, UsageRecordFactory


def test_a_fresh_install_shows_how_to_start(staff_browser):
    html = staff_browser.get("/dashboard/").content.decode()

    assert "Get started" in html
    assert "/admin/channels/channel/add/" in html
    assert "create a key" in html
    for path, hint in [
        ("/dashboard/channels/", "No channels yet"),
        ("/dashboard/usage/", "No requests match"),
        ("/dashboard/billing/", "No accounts yet"),
        ("/dashboard/keys/", "No keys yet"),
    ]:
        assert hint in staff_browser.get(path).content.decode()


def test_overview_shows_totals_charts_and_top_lists(staff_browser):
    channel = ChannelFactory(name="main-openai")
    key = ApiKeyFactory(name="team-key")
    now = timezone.now()
    for minutes, cost in [(5, "0.25"), (90, "0.5"), (60 * 30, "4")]:
        UsageRecordFactory(
            key=key, channel=channel, created_at=now - timedelta(minutes=minutes),
            cost=Decimal(cost), latency_ms=300,
        )  # fmt: skip
    usage_rollup_run()
    UsageRecordFactory(key=key, channel=channel, created_at=now, cost=Decimal("0.25"))  # queued

    response = staff_browser.get("/dashboard/", {"range": "24h"})

    html = response.content.decode()
    assert "Get started" not in html
    assert response.context["total"].requests == 3
    assert "$1" in html  # 0.25 + 0.5 + 0.25
    charts = response.context["charts"]
    assert len(charts["t"]) == 24  # 23 whole hours back and the current one
    assert sum(charts["requests"]) == 3
    assert 'id="chart-data"' in html
    assert "team-key" in html
    assert "main-openai" in html
    week = staff_browser.get("/dashboard/", {"range": "7d"})
    assert week.context["total"].requests == 4


def test_channels_page_shows_status_reason_figures_and_probe_timeline(staff_browser):
    channel = ChannelFactory(name="flaky", status="down", status_reason="3 probes failed: 503")
    now = timezone.now()
    for seconds, ok in [(120, True), (60, False)]:
        HealthCheck.objects.create(
            channel=channel, checked_at=now - timedelta(seconds=seconds), ok=ok, latency_ms=87,
            status_code=200 if ok else 503, error="" if ok else "HTTP 503",
        )  # fmt: skip
    failed = {"channel_id": channel.pk, "channel": "flaky", "outcome": "server_error"}
    served = {"channel_id": channel.pk, "channel": "flaky", "outcome": "ok", "latency_ms": 80}
    record_with_attempts(channel=None, status="error", http_status=503, attempts=[failed])
    record_with_attempts(channel=channel, attempts=[served])

    html = staff_browser.get("/dashboard/channels/").content.decode()

    assert "flaky" in html
    assert "3 probes failed: 503" in html
    assert html.count('class="tick ok"') == 1
    assert html.count('class="tick fail"') == 1
    assert "50.0 %" in html  # success rate
    assert "Test now" in html
    assert "Disable" in html


def test_disable_and_enable_a_channel(staff_browser):
    channel = ChannelFactory(name="to-toggle")

    response = staff_browser.post(
        f"/dashboard/channels/{channel.pk}/toggle/", {"enabled": "0"}, follow=True
    )

    channel.refresh_from_db()
    assert channel.enabled is False
    assert "to-toggle disabled." in response.content.decode()
    staff_browser.post(f"/dashboard/channels/{channel.pk}/toggle/", {"enabled": "1"})
    channel.refresh_from_db()
    assert channel.enabled is True


def test_test_now_records_a_probe_and_says_how_it_went(staff_browser):
    from bench.fake_upstream import running_fake_upstream

    with running_fake_upstream() as upstream:
        channel = ChannelFactory(name="probe-me", base_url=upstream.base_url, api_key="sk-x")
        response = staff_browser.post(f"/dashboard/channels/{channel.pk}/test/", follow=True)

    assert "probe-me: probe passed" in response.content.decode()
    assert HealthCheck.objects.filter(channel=channel, ok=True).count() == 1
    channel.refresh_from_db()
    assert channel.status == "healthy"


def test_usage_explorer_filters_and_pages(staff_browser):
    key = ApiKeyFactory(name="filtered")
    UsageRecordFactory(key=key, model="gpt-4o", status="error", http_status=502)
    UsageRecordFactory(key=key, model="gpt-4o")
    UsageRecordFactory(model="other-model")

    response = staff_browser.get("/dashboard/usage/", {"key": key.pk, "status": "error"})

    records = response.context["records"]
    assert [record.model for record in records] == ["gpt-4o"]
    assert response.context["total"].requests == 1
    html = response.content.decode()
    assert "other-model" not in html
    assert f"key={key.pk}" in response.context["csv_query"]
    assert "format=csv" in html


def test_usage_explorer_pages_by_fifty(staff_browser):
    key = ApiKeyFactory()
    start = timezone.now() - timedelta(hours=1)
    for index in range(51):
        UsageRecordFactory(key=key, created_at=start + timedelta(seconds=index))

    first = staff_browser.get("/dashboard/usage/")
    second = staff_browser.get("/dashboard/usage/", {"page": 2})

    assert len(first.context["records"]) == 50
    assert first.context["has_next"]
    assert len(second.context["records"]) == 1
    assert not second.context["has_next"]
    assert "Older →" in first.content.decode()


def test_request_detail_shows_attempts_tokens_prices_and_cost(staff_browser):
    record = UsageRecordFactory(
        id="req_detail_1",
        prompt_tokens=1200, cached_tokens=200, completion_tokens=300,
        input_price=Decimal("0.15"), output_price=Decimal("0.6"), cost=Decimal("0.000345"),
        attempts=[
            {"channel": "a", "provider": "openai", "outcome": "error", "http_status": 503,
             "latency_ms": 40, "error": "upstream 503"},
            {"channel": "b", "provider": "azure", "outcome": "ok", "http_status": 200,
             "latency_ms": 410, "error": ""},
        ],
    )  # fmt: skip

    html = staff_browser.get(f"/dashboard/usage/{record.pk}/").content.decode()

    assert "req_detail_1" in html
    assert "upstream 503" in html
    assert "azure" in html
    assert "1200" in html
    assert "300" in html
    assert "$0.15" in html
    assert "$0.6" in html
    assert "$0.000345" in html
    assert f"/admin/billing/usagerecord/{record.pk}/change/" in html
    assert staff_browser.get("/dashboard/usage/nope/").status_code == 404


def test_billing_lists_balances_and_adds_credit(staff_browser):
    account = AccountFactory(name="acme")
    account_credit(account=account, amount=Decimal("5"))

    assert "$5" in staff_browser.get("/dashboard/billing/").content.decode()
    response = staff_browser.post(
        f"/dashboard/billing/{account.pk}/", {"amount": "2.5", "description": "top-up"}, follow=True
    )

    account.refresh_from_db()
    assert account.balance == Decimal("7.5")
    html = response.content.decode()
    assert "Added 2.5" in html
    assert "top-up" in html
    assert "$7.5" in html
    bad = staff_browser.post(f"/dashboard/billing/{account.pk}/", {"amount": "-1"})
    assert bad.status_code == 200
    assert LedgerEntry.objects.filter(account=account).count() == 2


def test_monthly_statement_by_day_model_and_endpoint_with_csv(staff_browser):
    key = ApiKeyFactory()
    account = key.account
    day_one = timezone.now().replace(year=2026, month=9, day=3, hour=10)
    UsageRecordFactory(key=key, created_at=day_one, model="m-a", cost=Decimal("1.25"))
    UsageRecordFactory(key=key, created_at=day_one, model="m-b", cost=Decimal("2"))
    UsageRecordFactory(
        key=key,
        created_at=day_one,
        model="m-b",
        cost=Decimal("0.5"),
        endpoint="messages",
        cache_write_tokens=3,
        cache_write_1h_tokens=4,
    )
    UsageRecordFactory(
        key=key, created_at=day_one + timedelta(days=1), model="m-a", cost=Decimal("1")
    )
    UsageRecordFactory(key=key, created_at=day_one.replace(month=10), model="m-a")  # other month
    usage_rollup_run()

    page = staff_browser.get(f"/dashboard/billing/{account.pk}/", {"month": "2026-09"})

    rows = [(s.group, *s.subgroups, s.cost) for s in page.context["statement"].rows]
    assert rows == [
        ("2026-09-03", "m-b", "chat", Decimal("2")),
        ("2026-09-03", "m-a", "chat", Decimal("1.25")),
        ("2026-09-03", "m-b", "messages", Decimal("0.5")),
        ("2026-09-04", "m-a", "chat", Decimal("1")),
    ]
    assert page.context["statement"].total.cost == Decimal("4.75")
    assert "<td>messages</td>" in page.content.decode()
    csv = staff_browser.get(f"/dashboard/billing/{account.pk}/statement.csv", {"month": "2026-09"})
    assert csv["Content-Type"] == "text/csv"
    lines = csv.content.decode().splitlines()
    assert lines[0] == (
        "day,model,endpoint,requests,errors,prompt_tokens,completion_tokens,cached_tokens,"
        "reasoning_tokens,cache_write_tokens,cache_write_1h_tokens,cost"
    )
    assert lines[1:] == [
        "2026-09-03,m-b,chat,1,0,10,20,0,0,0,0,2",
        "2026-09-03,m-a,chat,1,0,10,20,0,0,0,0,1.25",
        "2026-09-03,m-b,messages,1,0,10,20,0,0,3,4,0.5",
        "2026-09-04,m-a,chat,1,0,10,20,0,0,0,0,1",
    ]


def test_create_a_key_shows_its_secret_once(staff_browser):
    account = AccountFactory(name="team")

    response = staff_browser.post("/dashboard/keys/", {
        "name": "ci-key", "account": account.pk, "spend_limit": "10", "limit_reset": "monthly",
        "rpm_limit": "60", "allowed_models": "gpt-4o-mini, gpt-4o",
    })  # fmt: skip

    secret = response.context["secret"]
    assert secret.startswith("sk-sy-")
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(name="ci-key")
    assert (key.account, key.spend_limit, key.rpm_limit) == (account, Decimal("10"), 60)
    assert key.allowed_models == ["gpt-4o-mini", "gpt-4o"]
    listing = staff_browser.get("/dashboard/keys/").content.decode()
    assert "ci-key" in listing
    assert secret not in listing


def test_a_key_needs_an_account_in_the_form(staff_browser):
    AccountFactory(name="acme")

    response = staff_browser.post("/dashboard/keys/", {"name": "plain"})

    assert response.status_code == 200
    assert response.context["form"].errors["account"] == ["This field is required."]
    assert 'name="account" required' in response.content.decode()
    assert not ApiKey.objects.filter(name="plain").exists()


def test_keys_show_spend_bars_and_revoke(staff_browser):
    key = ApiKeyFactory(name="limited", spend_limit=Decimal("2"))
    UsageRecordFactory.build(key=key, account=key.account, cost=Decimal("1.5"))
    from billing.services import usage_records_save

    usage_records_save(
        records=[UsageRecordFactory.build(key=key, account=key.account, cost=Decimal("1.5"))]
    )
    revoked = api_key_revoke(key=ApiKeyFactory(name="old"))

    html = staff_browser.get("/dashboard/keys/").content.decode()

    assert 'aria-valuenow="75"' in html
    assert "$1.50 of $2.00" in html
    response = staff_browser.post(f"/dashboard/keys/{key.pk}/revoke/", follow=True)
    key.refresh_from_db()
    assert key.revoked
    assert "revoked" in response.content.decode()
    assert revoked.revoked


def test_a_pruned_request_shows_its_kept_charge(staff_browser):
    from billing.services import usage_records_save
    from reports.retention import usage_prune

    key = ApiKeyFactory()
    record = UsageRecordFactory.build(
        key=key, account=key.account, cost=Decimal("0.75"),
        created_at=timezone.now() - timedelta(days=100),
    )  # fmt: skip
    usage_records_save(records=[record])
    usage_rollup_run()
    assert usage_prune(days=30) == 1

    response = staff_browser.get(f"/dashboard/usage/{record.pk}/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "deleted by retention" in html
    assert "-$0.75" in html


def test_overview_warns_when_the_rollup_falls_behind(staff_browser, monkeypatch):
    from dashboard.views import overview

    UsageRecordFactory()
    UsageRecordFactory()
    html = staff_browser.get("/dashboard/").content.decode()
    assert "2 recent requests wait for the rollup" in html
    assert "backlog-alarm" not in html

    monkeypatch.setattr(overview, "BACKLOG_ALARM", 1)
    html = staff_browser.get("/dashboard/").content.decode()
    assert "The rollup is 2 requests behind" in html


def test_overview_shows_cache_hit_rates_and_savings_per_channel_model_and_key(staff_browser):
    cached = ChannelFactory(name="warm-cache")
    cold = ChannelFactory(name="cold-cache")
    key = ApiKeyFactory(name="agent-key")
    now = timezone.now()
    figures = [  # channel, model, prompt, cached, savings
        (cached, "claude-x", 1000, 900, "0.0024"),
        (cached, "claude-x", 1000, 600, "0.0016"),
        (cold, "gpt-y", 2000, 0, "0"),
    ]
    for minutes, (channel, model, prompt, hits, saved) in zip([90, 70, 50], figures, strict=True):
        UsageRecordFactory(
            key=key, channel=channel, model=model, created_at=now - timedelta(minutes=minutes),
            prompt_tokens=prompt, cached_tokens=hits, cache_savings=Decimal(saved),
        )  # fmt: skip
    usage_rollup_run()
    UsageRecordFactory(  # queued for the rollup: counted too
        key=key, channel=cached, model="claude-x", created_at=now, prompt_tokens=0,
        cached_tokens=0, cache_savings=Decimal(0),
    )  # fmt: skip

    response = staff_browser.get("/dashboard/", {"range": "24h"})

    html = response.content.decode()
    tops = response.context["tops"]
    shown = {
        title: {
            sums.name: (sums.cache_hit_percent, sums.cache_savings) for sums in tops[title].rows
        }
        for title in ("Channels", "Models")
    }
    assert shown["Channels"] == {
        "warm-cache": (75.0, Decimal("0.004")),
        "cold-cache": (0.0, Decimal(0)),
    }
    assert shown["Models"] == {"claude-x": (75.0, Decimal("0.004")), "gpt-y": (0.0, Decimal(0))}
    [key_row] = tops["Keys"].rows
    assert (key_row.cache_hit_percent, key_row.cache_savings) == (37.5, Decimal("0.004"))
    assert "75.0 %" in html
    assert "$0.004" in html
    assert "37.5 % / $0.004" in html  # the range's total


def test_a_request_page_shows_its_conversation_and_what_the_cache_saved(staff_browser):
    record = UsageRecordFactory(
        cache_savings=Decimal("0.0012"), affinity_source="session_header", affinity_routed=True
    )

    html = staff_browser.get(f"/dashboard/usage/{record.pk}/").content.decode()

    assert "identified by X-Claude-Code-Session-Id · routed to its last channel" in html
    assert "$0.0012" in html

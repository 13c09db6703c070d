"""The dashboard names each request's front door: the usage explorer filters and shows it, the
request page shows it with the cache writes and their prices, the overview lists endpoints."""

from decimal import Decimal

from reports.rollup import usage_rollup_run
from tests.factories import UsageRecordFactory


def test_the_usage_explorer_filters_by_endpoint_and_shows_it(staff_browser):
    UsageRecordFactory(model="via-messages", endpoint="messages")
    UsageRecordFactory(model="via-chat", endpoint="chat")

    response = staff_browser.get("/dashboard/usage/", {"endpoint": "messages"})

    assert [record.model for record in response.context["records"]] == ["via-messages"]
    assert response.context["total"].requests == 1
    assert "endpoint=messages" in response.context["csv_query"]
    html = response.content.decode()
    assert '<td data-testid="record-endpoint">messages</td>' in html
    assert "via-chat" not in html
    everything = staff_browser.get("/dashboard/usage/").content.decode()
    assert '<td data-testid="record-endpoint">chat</td>' in everything


def test_an_unknown_endpoint_is_a_form_error_not_a_filter(staff_browser):
    UsageRecordFactory()

    response = staff_browser.get("/dashboard/usage/", {"endpoint": "completions"})

    assert response.context["form"].errors["endpoint"]
    assert response.context["total"].requests == 1


def test_the_request_page_shows_the_endpoint_and_the_cache_writes(staff_browser):
    record = UsageRecordFactory(
        endpoint="messages",
        prompt_tokens=1000,
        cache_write_tokens=321,
        cache_write_1h_tokens=123,
        input_price=Decimal(3),
        cache_write_price=Decimal("3.75"),
        cache_write_1h_price=Decimal(6),
    )

    html = staff_browser.get(f"/dashboard/usage/{record.pk}/").content.decode()

    assert '<dd data-testid="record-endpoint">messages</dd>' in html
    assert "321" in html
    assert "123" in html
    assert "$3.75" in html
    assert "$6" in html


def test_the_overview_lists_the_top_endpoints(staff_browser):
    UsageRecordFactory(endpoint="messages", cost=Decimal(2))
    UsageRecordFactory(endpoint="chat", cost=Decimal(1))
    usage_rollup_run()

    response = staff_browser.get("/dashboard/")

    endpoints = response.context["tops"]["Endpoints"]
    assert [(sums.group, sums.requests) for sums in endpoints.rows] == [
        ("messages", 1),
        ("chat", 1),
    ]
    assert "Top endpoints" in response.content.decode()

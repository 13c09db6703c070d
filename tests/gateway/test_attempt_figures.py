"""Every attempt is counted (#13.2): a channel whose every attempt fails shows those failures on
the Channels page, with its breaker's state, and its own page lists its attempts and its errors
by class, whichever channel finally served the request."""

import openai
import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from bench.fake_upstream import fault_model
from billing.models import UsageAttempt
from dashboard.channel_selectors import ChannelRow

MESSAGES = [{"role": "user", "content": "hi"}]


def listing_rows(pages: Client) -> list[ChannelRow]:
    rows: list[ChannelRow] = pages.get("/dashboard/channels/").context["rows"]
    return rows


def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", password="ops-pass"))
    return client


@override_settings(BREAKER_FAILURE_THRESHOLD=3, BREAKER_COOLDOWN=60)
def test_failed_attempts_count_for_their_channel_and_show_on_its_pages(gateway):
    broken = gateway.channel(
        "broken", models={"gpt-4o-mini": fault_model("b", status=503)}, priority=5
    )
    steady = gateway.channel("steady", models={"gpt-4o-mini": "steady"})
    client = gateway.client()

    for _ in range(5):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    gateway.wait_records(5)
    pages = staff()
    listing = pages.get("/dashboard/channels/").content.decode()
    detail = pages.get(f"/dashboard/channels/{broken.pk}/").content.decode()

    # 3 failed attempts opened its breaker; the 2 requests after that went straight to steady.
    assert UsageAttempt.objects.filter(channel=broken).count() == 3
    assert UsageAttempt.objects.filter(channel=steady, outcome="ok").count() == 5
    rows = {row.channel.name: row for row in listing_rows(pages)}
    assert (rows["broken"].figures.attempts, rows["broken"].figures.errors) == (3, 3)
    assert rows["broken"].figures.success_rate == 0
    assert rows["broken"].breaker.state == "open"
    assert "503 server_error" in rows["broken"].breaker.reason
    assert (rows["steady"].figures.attempts, rows["steady"].figures.errors) == (5, 0)
    assert rows["steady"].breaker.state == "closed"
    assert "3 failed" in listing
    assert "breaker-open" in listing
    assert '<code>server_error</code></td><td class="num">3</td>' in detail
    assert detail.count('class="badge outcome-server_error"') == 3


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_a_model_breaker_shows_on_its_channel_row(gateway):
    gateway.channel("one", models={"tm-good": "tm-good", "tm-typo": fault_model("t", status=404)})
    client = gateway.client()
    for _ in range(2):
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="tm-typo", messages=MESSAGES)
    gateway.wait_records(2)

    (row,) = listing_rows(staff())

    assert row.breaker.state == "closed"
    assert list(row.model_breakers) == ["tm-typo"]
    assert row.model_breakers["tm-typo"].state == "open"
    assert "404" in row.model_breakers["tm-typo"].reason
    assert (row.figures.attempts, row.figures.errors) == (2, 2)


def test_a_request_the_upstream_refuses_as_the_clients_mistake_is_no_error_of_the_channel(
    gateway,
):
    gateway.channel("strict", models={"tm-strict": fault_model("s", status=400)})
    client = gateway.client().with_options(max_retries=0)
    for _ in range(2):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="tm-strict", messages=MESSAGES)
    gateway.wait_records(2)

    (row,) = listing_rows(staff())

    assert (row.figures.attempts, row.figures.errors) == (2, 0)
    assert UsageAttempt.objects.filter(outcome="rejected").count() == 2

"""A usage record is never dropped (issue #11, point 5), through the real gateway: a channel
deleted while a stream on it is open is archived and the stream's record stored and charged;
routing leaves an archived channel; a record the database refuses becomes a dead letter that
"retry" in the admin stores with its charge, once."""

from decimal import Decimal
from typing import Any

import openai
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench.fake_upstream import fault_model
from billing.models import LedgerEntry, UsageDeadLetter, UsageRecord
from billing.reconcile import reconcile
from gateway import catalog
from tests.billing.refusals import REFUSED_USER, SECRET_IN_ERROR, refusing_usage
from tests.gateway.conftest import Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def operator(gateway: Gateway) -> APIClient:
    """The management API as a superuser."""
    user = User.objects.create_superuser("ops", password="ops-pass")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def admin_browser(gateway: Gateway) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    return client


def charges(request_id: str) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(request_id=request_id).values_list("amount", flat=True))


def problems_of(request_id: str) -> list[str]:
    """What `reconcile` finds wrong with this request (its charge, holds, journal); other
    tests' dead gateway processes may leave problems of their own."""
    return [problem for problem in reconcile().problems if request_id in problem]


def content(chunk: Any) -> str:
    """A stream chunk's text (the usage chunk has none)."""
    return str(chunk.choices[0].delta.content or "") if chunk.choices else ""


def generation(gateway: Gateway, request_id: str) -> tuple[int, dict[str, object]]:
    with gateway.http() as http:
        response = http.get("/v1/generation", params={"id": request_id})
    return response.status_code, response.json()


def test_a_channel_deleted_while_its_stream_is_open_still_bills_the_stream(gateway, operator):
    slow = fault_model(MODEL, words=12, chunk_delay_ms=100)
    channel = gateway.channel("doomed", models={MODEL: slow})

    raw = gateway.client().chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    )
    request_id = raw.headers["x-request-id"]
    chunks = iter(raw.parse())
    text = ""
    while not text:
        text += content(next(chunks))
    deleted = operator.delete(f"/api/admin/channels/{channel.pk}/")
    text += "".join(content(chunk) for chunk in chunks)

    assert deleted.status_code == 200, deleted.content  # archived: a request was in flight
    assert deleted.json()["archived_at"] is not None
    assert len(text.split()) == 12
    record = gateway.record()
    assert (record.id, record.status, record.channel_id) == (request_id, "ok", channel.pk)
    assert record.cost > 0
    assert charges(request_id) == [-record.cost]
    status, body = generation(gateway, request_id)
    assert status == 200
    assert body["data"]["channel"] == channel.pk
    assert not UsageDeadLetter.objects.exists()
    assert problems_of(request_id) == []
    # And the archived channel serves nothing any more (each process reloads its catalog
    # within GATEWAY_CATALOG_SECONDS; this one now).
    catalog.invalidate_catalog()
    with pytest.raises(openai.NotFoundError) as refused:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES)
    assert refused.value.code == "model_not_found"


def test_routing_moves_to_the_other_channel_once_one_is_archived(gateway, operator):
    old = gateway.channel("old", priority=10)
    gateway.channel("new")
    first = gateway.client().chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES
    )
    assert first.headers["x-switchyard-channel"] == "old"
    gateway.record()

    assert operator.delete(f"/api/admin/channels/{old.pk}/").status_code == 200
    catalog.invalidate_catalog()
    served = [
        gateway.client()
        .chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        .headers["x-switchyard-channel"]
        for _ in range(5)
    ]

    assert served == ["new"] * 5
    gateway.wait_records(6)
    by_channel = operator.get("/api/admin/reports/usage/", {"group_by": "channel"}).json()
    assert sorted((row["name"], row["requests"]) for row in by_channel["rows"]) == [
        ("new", 5),
        ("old (archived)", 1),
    ]


def test_a_record_the_database_refuses_is_dead_lettered_then_retried_once(gateway, admin_browser):
    gateway.channel("main", price=("0.15", "0.6"))
    balance = gateway.account.balance

    with refusing_usage():
        raw = gateway.client().chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES, user=REFUSED_USER
        )
        request_id = raw.headers["x-request-id"]
        assert raw.parse().choices[0].message.content  # the client was answered
        assert gateway.records() == []  # the database refused it...

        letter = UsageDeadLetter.objects.get()  # ...but it was not dropped
        assert (letter.request_id, letter.resolved_at) == (request_id, None)
        assert SECRET_IN_ERROR not in letter.error
        assert generation(gateway, request_id)[0] == 404
        listing = admin_browser.get(reverse("admin:billing_usagedeadletter_changelist"))
        assert request_id in listing.content.decode()
        assert 'data-testid="dead-letters"' in admin_browser.get("/dashboard/").content.decode()

    retry = {"action": "retry", "_selected_action": [letter.pk]}
    changelist = reverse("admin:billing_usagedeadletter_changelist")
    assert admin_browser.post(changelist, retry).status_code == 302
    assert admin_browser.post(changelist, retry).status_code == 302

    record = UsageRecord.objects.get(pk=request_id)
    assert (record.user, record.status, record.cost > 0) == (REFUSED_USER, "ok", True)
    assert charges(request_id) == [-record.cost]
    gateway.account.refresh_from_db()
    assert gateway.account.balance == balance - record.cost
    status, body = generation(gateway, request_id)
    assert status == 200
    assert Decimal(body["data"]["cost"]) == record.cost
    assert 'data-testid="dead-letters"' not in admin_browser.get("/dashboard/").content.decode()
    assert problems_of(request_id) == []

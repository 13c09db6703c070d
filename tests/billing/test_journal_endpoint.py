"""What a dead gateway process's journal bills keeps the request's front door and its cache
writes: a finished record as it was, an interrupted one with its endpoint and write prices."""

import os
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.journal import journal_sweep
from billing.models import UsageRecord
from billing.reconcile import reconcile
from core.usage import Endpoint, Usage, UsageStatus
from gateway.accounting import UsageDraft
from gateway.bridge.journal import Journal
from gateway.schemas import Offer
from tests import journal_fixtures
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db
journal_dir, key = journal_fixtures.journal_dir, journal_fixtures.key

OFFER = Offer(
    channel_id=0,
    channel_name="claude",
    provider="anthropic",
    api_type="anthropic",
    base_url="http://127.0.0.1:1",
    api_key="sk-upstream-secret",
    model="claude-sonnet-4-5",
    upstream_model="claude-sonnet-4-5",
    input_price=Decimal(3),
    output_price=Decimal(15),
    cached_input_price=Decimal("0.3"),
)


@pytest.fixture
def offer():
    return replace(OFFER, channel_id=ChannelFactory(provider="anthropic").pk)


def _draft(key, request_id, endpoint):
    return UsageDraft(
        id=request_id,
        created_at=datetime(2026, 12, 6, 12, tzinfo=UTC),
        account_id=key.account_id,
        key_id=key.pk,
        model="claude-sonnet-4-5",
        stream=True,
        endpoint=endpoint,
    )


def _die(journal):
    os.close(journal._lock_descriptor)  # the process "dies": its lock is free


@pytest.mark.parametrize("endpoint", [Endpoint.MESSAGES, Endpoint.CHAT])
def test_an_interrupted_request_keeps_its_endpoint_and_write_prices(
    journal_dir, key, offer, endpoint
):
    journal = Journal()
    draft = _draft(key, "req_lost", endpoint)
    journal.hold(draft, prompt_tokens=100, amount=Decimal(1))
    journal.attempt(draft.id, replace(offer, cache_write_1h_price=Decimal(7)))
    journal.relayed(draft.id, 40)
    _die(journal)

    assert journal_sweep(directory=journal_dir, reservations="database") == 1

    record = UsageRecord.objects.get(pk="req_lost")
    assert (record.status, record.endpoint) == (UsageStatus.INTERRUPTED, endpoint)
    # The offer's own 1-hour price, the default 5-minute one (1.25 x 3): the prices it would
    # have billed cache writes at.
    assert (record.cache_write_price, record.cache_write_1h_price) == (Decimal("3.75"), 7)
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (0, 0)
    # 100 prompt tokens at 3 and 10 estimated completion tokens at 15, per million.
    assert record.cost == Decimal("0.00045")
    assert reconcile().ok, reconcile().problems


def test_a_finished_request_is_stored_with_its_cache_writes_and_endpoint(journal_dir, key, offer):
    journal = Journal()
    draft = _draft(key, "req_done", Endpoint.MESSAGES)
    journal.hold(draft, prompt_tokens=1000, amount=Decimal(1))
    journal.attempt(draft.id, offer)
    usage = Usage(
        prompt_tokens=1000,
        completion_tokens=10,
        cached_tokens=200,
        cache_write_tokens=300,
        cache_write_1h_tokens=400,
    )
    draft.serve(offer, usage, estimated=False)
    draft.end(UsageStatus.OK, 200)
    journal.end(draft)
    _die(journal)

    assert journal_sweep(directory=journal_dir, reservations="database") == 1

    record = UsageRecord.objects.get(pk="req_done")
    assert record.endpoint == "messages"
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (300, 400)
    assert (record.cache_write_price, record.cache_write_1h_price) == (Decimal("3.75"), 6)
    # 100 * 3 + 200 * 0.3 + 300 * 3.75 + 400 * 6 + 10 * 15 = 4035 per million.
    assert record.cost == Decimal("0.004035")
    assert reconcile().ok, reconcile().problems

"""Cache writes billed at their own prices, end to end (#14 B.6), and every record naming its
front door (#14 B.4): the fake upstream reports 5-minute and 1-hour cache writes, the gateway
bills them at the channel model's write prices (1.25 and 2 times the input price by default),
the record keeps the tokens and prices, the client's `usage.cost` agrees, and reconcile
passes; a Messages request is recorded `endpoint=messages`, a chat one `chat`."""

from decimal import Decimal

import anthropic
import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry

from bench.fake_upstream import fault_model
from billing.models import UsageRecord
from billing.reconcile import reconcile
from channels.models import ChannelModel
from core.usage import Usage
from gateway import catalog, metrics
from gateway.accounting import UsageDraft
from tests.gateway.providers_helpers import MODEL, STREAM, answer_of, provider_channel

CLAUDE = "claude-sonnet-4-5"
# A prompt long enough for the cache figures below (the fake upstream counts words).
LONG_PROMPT = [{"role": "user", "content": " ".join(["cache"] * 300)}]
READS, WRITES_5M, WRITES_1H = 50, 60, 40
PRICES = ("3", "15", "0.3")  # input, output, cached input; USD per 1M tokens


def expected_cost(record: UsageRecord, *, write: Decimal, write_1h: Decimal) -> Decimal:
    """The record's cost as the pricing rule states it, from its token counts."""
    uncached = record.prompt_tokens - READS - WRITES_5M - WRITES_1H
    per_million = (
        uncached * Decimal(3)
        + READS * Decimal("0.3")
        + WRITES_5M * write
        + WRITES_1H * write_1h
        + record.completion_tokens * Decimal(15)
    )
    return per_million / 1_000_000


def claude_with_cache_writes(gateway):
    upstream = fault_model(
        CLAUDE,
        cached_tokens=READS,
        cache_write_tokens=WRITES_5M,
        cache_write_1h_tokens=WRITES_1H,
    )
    return provider_channel(
        gateway, "claude", api_type="anthropic", upstream_model=upstream, price=PRICES
    )


def assert_billed_at(gateway, record, *, write: Decimal, write_1h: Decimal) -> None:
    assert (record.cached_tokens, record.cache_write_tokens, record.cache_write_1h_tokens) == (
        READS,
        WRITES_5M,
        WRITES_1H,
    )
    assert (record.cache_write_price, record.cache_write_1h_price) == (write, write_1h)
    assert record.cost == expected_cost(record, write=write, write_1h=write_1h)
    # Billed at the input price the writes would cost less: the test tells the two apart.
    assert record.cost > expected_cost(record, write=Decimal(3), write_1h=Decimal(3))
    assert reconcile().ok, reconcile().problems


@STREAM
def test_anthropic_cache_writes_are_billed_at_their_default_prices(gateway, stream):
    claude_with_cache_writes(gateway)

    answer = answer_of(gateway, stream=stream, messages=LONG_PROMPT)

    record = gateway.record()
    assert (record.status, record.endpoint, record.usage_source) == ("ok", "chat", "provider")
    assert record.prompt_tokens == answer["usage"].prompt_tokens > READS + WRITES_5M + WRITES_1H
    assert_billed_at(gateway, record, write=Decimal("3.75"), write_1h=Decimal(6))
    assert Decimal(str(answer["usage"].model_extra["cost"])) == record.cost
    details = answer["usage"].prompt_tokens_details
    assert details.cached_tokens == READS
    assert details.cache_write_tokens == WRITES_5M + WRITES_1H


def test_anthropic_cache_writes_are_billed_at_the_channel_models_own_prices(gateway):
    channel = claude_with_cache_writes(gateway)
    ChannelModel.objects.filter(channel=channel).update(
        cache_write_price=Decimal(4), cache_write_1h_price=Decimal(5)
    )
    catalog.invalidate_catalog()

    answer = answer_of(gateway, stream=False, messages=LONG_PROMPT)

    record = gateway.record()
    assert Decimal(str(answer["usage"].model_extra["cost"])) == record.cost
    assert_billed_at(gateway, record, write=Decimal(4), write_1h=Decimal(5))


@STREAM
def test_openrouters_cache_writes_are_billed_as_five_minute_writes(gateway, stream):
    gateway.channel(
        "openrouter",
        models={MODEL: fault_model("gpt-4o-mini", cached_tokens=READS, cache_write_tokens=100)},
        price=("3", "15"),
    )

    answer = answer_of(gateway, stream=stream, messages=LONG_PROMPT)

    record = gateway.record()
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (100, 0)
    assert (record.cache_write_price, record.cache_write_1h_price) == (Decimal("3.75"), 6)
    # No cached-input price on the channel: reads cost the input price.
    uncached = record.prompt_tokens - 100
    per_million = uncached * 3 + 100 * Decimal("3.75") + record.completion_tokens * 15
    assert record.cost == per_million / 1_000_000
    assert Decimal(str(answer["usage"].model_extra["cost"])) == record.cost
    assert answer["usage"].prompt_tokens_details.cache_write_tokens == 100
    assert reconcile().ok, reconcile().problems


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_the_messages_door_is_recorded_as_such_with_its_cache_writes(gateway, stream):
    claude_with_cache_writes(gateway)
    client = anthropic.Anthropic(base_url=gateway.url, max_retries=0, api_key=gateway.key)

    if stream:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=LONG_PROMPT) as events:
            usage = events.get_final_message().usage
    else:
        usage = client.messages.create(model=MODEL, max_tokens=100, messages=LONG_PROMPT).usage

    record = gateway.record()
    assert (record.status, record.endpoint, record.stream) == ("ok", "messages", stream)
    assert usage.cache_creation_input_tokens == WRITES_5M + WRITES_1H
    assert_billed_at(gateway, record, write=Decimal("3.75"), write_1h=Decimal(6))


def test_a_chat_request_and_a_messages_request_name_their_endpoints(gateway):
    gateway.channel("openai-main", models={CLAUDE: "gpt-4o-mini"})
    hello = [{"role": "user", "content": "Say hello"}]

    gateway.client().chat.completions.create(model=CLAUDE, messages=hello)
    gateway.wait_records(1)
    anthropic.Anthropic(base_url=gateway.url, max_retries=0, api_key=gateway.key).messages.create(
        model=CLAUDE, max_tokens=50, messages=hello
    )

    chat, messages = gateway.wait_records(2)
    assert (chat.endpoint, messages.endpoint) == ("chat", "messages")
    listed = gateway.http().get(f"/v1/generation?id={messages.pk}").json()["data"]
    assert listed["endpoint"] == "messages"


def test_metrics_count_cache_writes_as_their_own_token_kind():
    registry = CollectorRegistry()
    usage = Usage(
        prompt_tokens=300, cached_tokens=50, cache_write_tokens=60, cache_write_1h_tokens=40
    )
    draft = UsageDraft(
        id="req_1", created_at=timezone.now(), account_id=1, key_id=1, model=MODEL, usage=usage
    )
    draft.provider, draft.served_model = "anthropic", MODEL

    metrics.observe_request(draft, "claude", metrics=metrics.build_metrics(registry))

    def tokens(kind):
        labels = {"model": MODEL, "provider": "anthropic", "kind": kind}
        return registry.get_sample_value("switchyard_tokens_total", labels)

    assert (tokens("prompt"), tokens("cached"), tokens("cache_write")) == (300, 50, 100)

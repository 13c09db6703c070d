"""The chat endpoint end to end: the SDK as the client, the fake upstream as the provider."""

from decimal import Decimal

import openai
import pytest

from billing.models import LedgerEntry
from billing.selectors import account_ledger_sum
from channels.models import Channel
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX

MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
REPLY = "Hello from the fake upstream, this is deterministic."
# The fake upstream counts 3 tokens per message plus the words of its text.
PROMPT_TOKENS = 3 + 5
COMPLETION_TOKENS = 8


def test_non_stream_answer_usage_identity_and_record(gateway):
    gateway.channel(
        "main", models={"openai/gpt-4o-mini": "gpt-4o-mini-2024"}, price=("0.15", "0.6")
    )

    raw = gateway.client().chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, extra_body={"top_k": 5, "x_custom": [1]}
    )
    completion = raw.parse()

    assert completion.choices[0].message.content == REPLY
    assert completion.model == "openai/gpt-4o-mini"
    assert completion.model_extra["provider"] == "openai"
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == COMPLETION_TOKENS
    expected_cost = (
        Decimal(PROMPT_TOKENS) * Decimal("0.15") + COMPLETION_TOKENS * Decimal("0.6")
    ) / 10**6
    assert Decimal(str(completion.usage.model_extra["cost"])) == expected_cost
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-switchyard-channel"] == "main"

    sent = gateway.received()[-1]
    assert sent["body"]["model"] == "gpt-4o-mini-2024"
    assert sent["body"]["top_k"] == 5
    assert sent["body"]["x_custom"] == [1]
    assert "provider" not in sent["body"]
    assert sent["headers"]["authorization"] == f"Bearer {CHANNEL_SECRET_PREFIX}main"

    record = gateway.record()
    assert record.id == request_id
    assert (record.status, record.http_status, record.stream) == ("ok", 200, False)
    assert (record.model, record.served_model, record.provider) == (
        "openai/gpt-4o-mini",
        "openai/gpt-4o-mini",
        "openai",
    )
    assert (record.prompt_tokens, record.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert record.usage_source == "provider"
    assert (record.input_price, record.output_price) == (Decimal("0.15"), Decimal("0.6"))
    assert record.cost == expected_cost
    assert [a["outcome"] for a in record.attempts] == ["ok"]
    charge = LedgerEntry.objects.get(usage_record=record)
    assert charge.amount == -expected_cost
    gateway.account.refresh_from_db()
    assert gateway.account.balance == Decimal(100) - expected_cost
    assert gateway.account.balance == account_ledger_sum(account=gateway.account)


def test_stream_with_usage(gateway):
    gateway.channel("main", price=("1", "2"))

    chunks = list(
        gateway.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert {c.model for c in chunks} == {"gpt-4o-mini"}
    assert len({c.id for c in chunks}) == 1
    assert all(c.model_extra["provider"] == "openai" for c in chunks)
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == COMPLETION_TOKENS
    expected_cost = (Decimal(PROMPT_TOKENS) * 1 + COMPLETION_TOKENS * 2) / Decimal(10**6)
    assert Decimal(str(usage_chunk.usage.model_extra["cost"])) == expected_cost

    assert gateway.received()[-1]["body"]["stream_options"] == {"include_usage": True}
    record = gateway.record()
    assert (record.status, record.stream, record.usage_source) == ("ok", True, "provider")
    assert record.completion_tokens == COMPLETION_TOKENS
    assert record.cost == expected_cost
    assert record.ttft_ms is not None


def test_stream_without_usage_request_still_bills_provider_usage(gateway):
    gateway.channel("main")

    chunks = list(
        gateway.client().chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
    )

    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert gateway.received()[-1]["body"]["stream_options"] == {"include_usage": True}
    record = gateway.record()
    assert (record.usage_source, record.completion_tokens) == ("provider", COMPLETION_TOKENS)


def test_unknown_key_gets_401_and_leaves_no_record(gateway):
    gateway.channel("main")

    with pytest.raises(openai.AuthenticationError) as error:
        gateway.client(key="sk-sy-not-a-real-key").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )

    assert error.value.code == "invalid_api_key"
    assert error.value.request_id
    assert gateway.records() == []


def test_wrong_method_gets_the_openai_envelope(gateway):
    with gateway.http() as http:
        response = http.get("/v1/chat/completions")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["x-request-id"]


def test_a_channel_whose_protocol_has_no_adapter_yet_is_skipped(gateway):
    gateway.channel("claude", provider="anthropic", priority=10)
    Channel.objects.filter(name="claude").update(api_type="cohere")
    gateway.channel("main", provider="openai")

    completion = gateway.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.model_extra["provider"] == "openai"
    outcomes = [(a["channel"], a["outcome"]) for a in gateway.record().attempts]
    assert outcomes == [("claude", "unsupported_protocol"), ("main", "ok")]

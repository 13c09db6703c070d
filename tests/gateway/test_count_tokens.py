"""`POST /v1/messages/count_tokens` with the real `anthropic` SDK: an `anthropic` channel counts
(the fake upstream receives the body as sent, with its model name, key and the client's
`anthropic-version`/`anthropic-beta`); any other channel, or a failing one, gets the gateway's
estimate, marked `x-switchyard-estimated: true`. Counting writes no usage record."""

from decimal import Decimal

import anthropic
import pytest

from bench.fake_upstream import fault_model
from gateway.estimate import estimate_prompt_tokens
from gateway.front_doors.messages_request import chat_body
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import provider_channel, sent

MODEL = "claude-sonnet-4-5"
UPSTREAM = "claude-up"
SYSTEM = [{"type": "text", "text": "Answer tersely.", "cache_control": {"type": "ephemeral"}}]
MESSAGES = [{"role": "user", "content": "What is the weather in Paris today"}]
# The fake upstream: 3 tokens a message (the system prompt too) plus the words.
FAKE_COUNT = 3 + 2 + 3 + 7
BETA = "token-counting-2024-11-01"
WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def sdk(gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key or gateway.key, max_retries=0)


def anthropic_channel(gateway, upstream: str = UPSTREAM):
    return provider_channel(
        gateway,
        "anthropic-main",
        api_type="anthropic",
        upstream_model=upstream,
        model=MODEL,
        price=("3", "15", None),
    )


def openai_channel(gateway):
    return provider_channel(
        gateway, "openai-main", api_type="openai", upstream_model="gpt-4o-mini", model=MODEL
    )


def counted(gateway, **params):
    """The SDK's answer and the raw response's headers."""
    raw = sdk(gateway).messages.with_raw_response.count_tokens(
        model=MODEL, system=SYSTEM, messages=MESSAGES, **params
    )
    return raw.parse(), raw.headers


def no_records(gateway) -> None:
    assert gateway.records() == []


def test_an_anthropic_channel_counts_the_body_as_sent(gateway):
    anthropic_channel(gateway)

    answer, headers = counted(
        gateway,
        tools=[WEATHER],
        extra_headers={"anthropic-beta": BETA, "anthropic-version": "2023-06-01"},
    )

    assert answer.input_tokens == FAKE_COUNT
    assert "x-switchyard-estimated" not in headers
    assert headers["x-switchyard-channel"] == "anthropic-main"
    (call,) = sent(gateway, "/v1/messages")
    assert call["path"] == "/v1/messages/count_tokens"
    assert call["body"] == {
        "model": UPSTREAM,
        "system": SYSTEM,
        "messages": MESSAGES,
        "tools": [WEATHER],
    }
    assert call["headers"]["x-api-key"] == CHANNEL_SECRET_PREFIX + "anthropic-main"
    assert call["headers"]["anthropic-beta"] == BETA
    assert call["headers"]["anthropic-version"] == "2023-06-01"
    assert gateway.key not in str(call["headers"])  # the client's key stays at the gateway
    no_records(gateway)


def test_the_clients_anthropic_version_reaches_the_channel(gateway):
    anthropic_channel(gateway)

    counted(gateway)

    (call,) = sent(gateway, "/v1/messages")
    assert call["headers"]["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION


def test_the_beta_path_counts_too(gateway):
    anthropic_channel(gateway)

    answer = sdk(gateway).beta.messages.count_tokens(
        model=MODEL, system=SYSTEM, messages=MESSAGES, betas=["context-management-2025-06-27"]
    )

    assert answer.input_tokens == FAKE_COUNT
    (call,) = sent(gateway, "/v1/messages")
    assert "context-management-2025-06-27" in call["headers"]["anthropic-beta"].split(",")


def test_an_openai_channel_gets_the_gateways_estimate(gateway):
    openai_channel(gateway)

    answer, headers = counted(gateway)

    expected = estimate_prompt_tokens(
        chat_body({"max_tokens": 1, "system": SYSTEM, "messages": MESSAGES})
    )
    assert answer.input_tokens == expected
    assert headers["x-switchyard-estimated"] == "true"
    assert gateway.upstream.requests == []
    no_records(gateway)


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 401, "echo_credential": True}])
def test_a_failing_anthropic_channel_falls_back_to_the_estimate_and_leaks_no_secret(gateway, fault):
    anthropic_channel(gateway, upstream=fault_model(UPSTREAM, **fault))

    raw = sdk(gateway).messages.with_raw_response.count_tokens(
        model=MODEL, system=SYSTEM, messages=MESSAGES
    )

    assert raw.headers["x-switchyard-estimated"] == "true"
    assert raw.parse().input_tokens > 0
    assert CHANNEL_SECRET_PREFIX not in raw.text()
    assert len(sent(gateway, "/v1/messages/count_tokens")) == 1
    no_records(gateway)


def test_counting_is_free_for_a_key_with_nothing_left_to_spend(gateway):
    anthropic_channel(gateway)
    broke = gateway.new_key(spend_limit=Decimal(0))

    answer = sdk(gateway, broke).messages.count_tokens(model=MODEL, messages=MESSAGES)

    assert answer.input_tokens == 3 + 7
    no_records(gateway)


def test_each_error_is_the_sdks_own_class(gateway):
    openai_channel(gateway)
    elsewhere = gateway.new_key(allowed_models=["another-model"])
    cases = [
        ("sk-sy-not-a-real-key-0000000000", MODEL, MESSAGES, anthropic.AuthenticationError),
        (elsewhere, MODEL, MESSAGES, anthropic.PermissionDeniedError),
        (gateway.key, "no-such-model", MESSAGES, anthropic.NotFoundError),
        (gateway.key, MODEL, [], anthropic.BadRequestError),
        (gateway.key, MODEL, [{"role": "robot", "content": "x"}], anthropic.BadRequestError),
    ]
    kinds = []
    for key, model, messages, error_class in cases:
        with pytest.raises(error_class) as caught:
            sdk(gateway, key).messages.count_tokens(model=model, messages=messages)
        assert caught.value.body["type"] == "error"
        kinds.append(caught.value.body["error"]["type"])

    assert kinds == [
        "authentication_error",
        "permission_error",
        "not_found_error",
        "invalid_request_error",
        "invalid_request_error",
    ]
    no_records(gateway)

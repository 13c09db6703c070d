"""The Messages door's remaining surface (#14), with the real `anthropic` SDK: the async client,
streamed and not; a Gemini channel behind the door (tools streamed as `input_json_delta`); each
error as the SDK's own exception class; wrong methods and unknown paths in Anthropic's envelope."""

import asyncio
from decimal import Decimal

import anthropic
import httpx
import pytest

from bench.fake_upstream import fault_model, reply_text
from tests.gateway.providers_helpers import provider_channel, sent

MODEL = "claude-sonnet-4-5"
HELLO = [{"role": "user", "content": "Say hello"}]
# The fake upstream counts 3 tokens a message plus its words.
HELLO_TOKENS = 3 + 2
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PRICES = ("3", "15", None)


def async_sdk(gateway, key: str | None = None) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=key or gateway.key, max_retries=0)


def sdk(gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key or gateway.key, max_retries=0)


def openai_channel(gateway, upstream_model: str = "gpt-4o-mini"):
    return provider_channel(
        gateway,
        "openai-main",
        api_type="openai",
        upstream_model=upstream_model,
        model=MODEL,
        price=PRICES,
    )


def gemini_channel(gateway):
    return provider_channel(
        gateway,
        "gemini-main",
        api_type="gemini",
        upstream_model="gemini-2.5-flash",
        model=MODEL,
        price=PRICES,
    )


def priced(record, *, prompt: int, completion: int) -> Decimal:
    """What the record must cost at the channel's 3/15 USD per million tokens."""
    assert (record.prompt_tokens, record.completion_tokens) == (prompt, completion)
    return (Decimal(3) * prompt + Decimal(15) * completion) / Decimal(1_000_000)


# The async client ----------------------------------------------------------------------------


def test_the_async_client_gets_a_message_recorded_once_and_priced(gateway):
    channel = openai_channel(gateway)

    async def ask():
        async with async_sdk(gateway) as client:
            return await client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    message = asyncio.run(ask())

    (record,) = gateway.wait_records(1)
    assert message.id.startswith("msg_")
    assert message.content[0].type == "text"
    assert message.content[0].text == reply_text()
    assert (message.usage.input_tokens, message.usage.output_tokens) == (HELLO_TOKENS, 8)
    assert (record.status, record.channel_id, record.endpoint) == ("ok", channel.pk, "messages")
    assert record.cost == priced(record, prompt=HELLO_TOKENS, completion=8)


def test_the_async_client_streams_in_anthropics_event_grammar(gateway):
    openai_channel(gateway)

    async def ask():
        async with (
            async_sdk(gateway) as client,
            client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream,
        ):
            return [event.type async for event in stream], await stream.get_final_message()

    kinds, message = asyncio.run(ask())

    (record,) = gateway.wait_records(1)
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "text" in kinds  # the SDK's event for a text_delta
    assert message.content[0].text == reply_text()
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == record.completion_tokens == 8
    assert record.status == "ok"
    assert record.stream is True


# A Gemini channel behind the door ------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_gemini_channel_answers_the_messages_door(gateway, stream):
    channel = gemini_channel(gateway)
    client = sdk(gateway)
    if stream:
        with client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as events:
            kinds = [event.type for event in events]
            message = events.get_final_message()
        assert kinds[0] == "message_start"
        assert kinds[-1] == "message_stop"
    else:
        message = client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    (record,) = gateway.wait_records(1)
    assert message.content[0].text == reply_text()
    assert message.stop_reason == "end_turn"
    assert (record.status, record.channel_id) == ("ok", channel.pk)
    assert record.cost == priced(record, prompt=HELLO_TOKENS, completion=8)
    (call,) = sent(gateway, "/v1beta/models/")
    assert call["body"]["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]


def test_a_gemini_tool_round_trip_streams_input_json_delta(gateway):
    gemini_channel(gateway)
    client = sdk(gateway)
    ask = {"model": MODEL, "max_tokens": 200, "tools": [WEATHER]}
    question = {"role": "user", "content": "Weather in Paris?"}
    with client.messages.stream(**ask, messages=[question]) as events:
        deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
        first = events.get_final_message()
    (call,) = [block for block in first.content if block.type == "tool_use"]

    with client.messages.stream(
        **ask,
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}],
            },
        ],
    ) as events:
        answer = events.get_final_message()

    assert "input_json_delta" in deltas
    assert first.stop_reason == "tool_use"
    assert (call.name, call.input) == ("get_weather", {"city": "test"})
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text == reply_text()
    second = sent(gateway, "/v1beta/models/")[-1]["body"]["contents"]
    assert second[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert "functionResponse" in second[2]["parts"][0]
    records = gateway.wait_records(2)
    assert [r.status for r in records] == ["ok", "ok"]


# Errors as the SDK's classes -----------------------------------------------------------------


async def _refusal(gateway, key: str, model: str, error_class: type, messages=HELLO):
    async with async_sdk(gateway, key) as client:
        with pytest.raises(error_class) as caught:
            await client.messages.create(model=model, max_tokens=10, messages=messages)
    return caught.value


def test_each_error_is_the_sdks_own_class(gateway):
    openai_channel(gateway)
    allowed_elsewhere = gateway.new_key(allowed_models=["another-model"])
    broke = gateway.new_key(spend_limit=Decimal(0))
    one_a_minute = gateway.new_key(rpm_limit=1)
    cases = [
        ("sk-sy-not-a-real-key-0000000000", MODEL, anthropic.AuthenticationError, 401),
        (allowed_elsewhere, MODEL, anthropic.PermissionDeniedError, 403),
        (gateway.key, "no-such-model", anthropic.NotFoundError, 404),
        (broke, MODEL, anthropic.PaymentRequiredError, 402),
    ]

    async def limited():
        async with async_sdk(gateway, one_a_minute) as client:
            await client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        return await _refusal(gateway, one_a_minute, MODEL, anthropic.RateLimitError)

    for key, model, error_class, status in cases:
        refused = asyncio.run(_refusal(gateway, key, model, error_class))
        assert refused.status_code == status
        assert refused.body["type"] == "error"
    invalid = asyncio.run(_refusal(gateway, gateway.key, MODEL, anthropic.BadRequestError, []))
    over = asyncio.run(limited())

    assert invalid.body["error"]["type"] == "invalid_request_error"
    assert over.body["error"]["type"] == "rate_limit_error"
    assert int(over.response.headers["retry-after"]) >= 1


def test_everything_overloaded_is_the_sdks_overloaded_error(gateway):
    openai_channel(gateway, upstream_model=fault_model("gpt-4o-mini", status=503))

    refused = asyncio.run(_refusal(gateway, gateway.key, MODEL, anthropic.OverloadedError))

    assert refused.status_code == 529
    assert refused.body["error"]["type"] == "overloaded_error"


# Outside the pipeline: methods, paths, query strings -----------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_wrong_method_is_a_405_in_anthropics_envelope(gateway, path, method):
    answer = httpx.request(method, gateway.url + path, headers={"x-api-key": gateway.key})

    assert answer.status_code == 405
    body = answer.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert method in body["error"]["message"]
    assert body["request_id"] == answer.headers["x-request-id"]


def test_an_unknown_path_under_messages_is_a_404_in_anthropics_envelope(gateway):
    answer = httpx.post(gateway.url + "/v1/messages/batches/nope", headers={"x-api-key": "x"})

    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found_error"


def test_a_bad_key_on_count_tokens_is_a_401_in_anthropics_envelope(gateway):
    answer = httpx.post(gateway.url + "/v1/messages/count_tokens?beta=true", json={})

    assert answer.status_code == 401
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == "authentication_error"


def test_the_beta_query_string_is_ignored(gateway):
    openai_channel(gateway)
    message = sdk(gateway).beta.messages.create(model=MODEL, max_tokens=20, messages=HELLO)

    assert message.content[0].text == reply_text()
    assert gateway.record().status == "ok"

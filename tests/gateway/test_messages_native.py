"""The Messages door's native passthrough (#14 A.2, B.2): to an `anthropic` channel the client's
body and `anthropic-version`/`anthropic-beta` go upstream as sent (model and key replaced,
routing fields removed), and the answer and events come back as the upstream sent them;
what only Anthropic's API carries routes only there, and is a 400 naming it when nothing can."""

from decimal import Decimal

import anthropic
import httpx
import orjson
import pytest

from bench.fake_upstream import fault_model
from bench.fake_upstream.anthropic_dialect import SIGNATURE
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import provider_channel, sent

MODEL = "claude-opus-4-1"
UPSTREAM = "claude-up"
HELLO = [{"role": "user", "content": "Say hello"}]
BETA = "context-management-2025-06-27,interleaved-thinking-2025-05-14"
THINKING = {"type": "enabled", "budget_tokens": 1024}
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}


def sdk(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def anthropic_channel(gateway, *, upstream: str = UPSTREAM, **options):
    return provider_channel(
        gateway,
        "anthropic-main",
        api_type="anthropic",
        upstream_model=upstream,
        model=MODEL,
        price=("3", "15", None),
        **options,
    )


def openai_channel(gateway, *, priority: int = 0):
    return provider_channel(
        gateway,
        "openai-main",
        api_type="openai",
        upstream_model="gpt-4o-mini",
        model=MODEL,
        priority=priority,
    )


def upstream_calls(gateway) -> list[dict]:
    return sent(gateway, "/v1/messages")


def test_the_body_and_betas_reach_the_upstream_as_sent_and_the_answer_comes_back(gateway):
    channel = anthropic_channel(gateway)
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    body = {
        "model": MODEL,
        "max_tokens": 2000,
        "system": system,
        "messages": HELLO,
        "thinking": THINKING,
        "top_k": 5,
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "provider": {"sort": "price"},
    }

    raw = httpx.post(
        gateway.url + "/v1/messages?beta=true",
        content=orjson.dumps(body),
        headers={
            "x-api-key": gateway.key,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": BETA,
        },
        timeout=30,
    )

    assert raw.status_code == 200, raw.text
    (call,) = upstream_calls(gateway)
    forwarded = {name: value for name, value in body.items() if name != "provider"}
    assert call["body"] == {**forwarded, "model": UPSTREAM}
    assert call["headers"]["anthropic-beta"] == BETA
    assert call["headers"]["anthropic-version"] == "2023-06-01"
    assert call["headers"]["x-api-key"] == CHANNEL_SECRET_PREFIX + channel.name
    message = raw.json()
    assert message["model"] == MODEL  # the public name, not the channel's
    thinking, text = message["content"]
    assert (thinking["type"], thinking["signature"]) == ("thinking", SIGNATURE)
    assert text["type"] == "text"
    assert text["text"]
    record = gateway.record()
    assert (record.status, record.channel_id, record.served_model) == ("ok", channel.pk, MODEL)
    usage = message["usage"]
    assert record.prompt_tokens == usage["input_tokens"] + usage["cache_read_input_tokens"]
    assert record.completion_tokens == usage["output_tokens"]
    expected = (Decimal(record.prompt_tokens) * 3 + Decimal(record.completion_tokens) * 15) / 10**6
    assert record.cost == expected


def _events(raw: bytes) -> list[dict]:
    frames = [frame for frame in raw.split(b"\n\n") if frame.strip()]
    events = []
    for frame in frames:
        data = next(line for line in frame.split(b"\n") if line.startswith(b"data:"))
        events.append(orjson.loads(data.removeprefix(b"data:")))
    return events


def test_a_stream_comes_back_event_for_event_as_the_upstream_sent_it(gateway):
    anthropic_channel(gateway)
    body = {"model": MODEL, "max_tokens": 2000, "messages": HELLO, "thinking": THINKING}
    headers = {"x-api-key": gateway.key, "anthropic-version": "2023-06-01"}

    via_gateway = httpx.post(
        gateway.url + "/v1/messages", json={**body, "stream": True}, headers=headers, timeout=30
    )
    direct = httpx.post(
        gateway.upstream.url + "/v1/messages",
        json={**body, "model": UPSTREAM, "stream": True},
        headers={**headers, "x-api-key": "anything"},
        timeout=30,
    )

    relayed, original = _events(via_gateway.content), _events(direct.content)
    assert b"[DONE]" not in via_gateway.content
    assert relayed[0]["message"]["model"] == MODEL
    for event in (relayed[0], original[0]):
        event["message"].pop("model"), event["message"].pop("id")
    assert relayed == original
    assert {"type": "signature_delta", "signature": SIGNATURE} in [
        event.get("delta") for event in relayed
    ]
    record = gateway.record()
    assert record.stream
    assert record.status == "ok"
    assert record.completion_tokens == relayed[-2]["usage"]["output_tokens"]


def test_a_thinking_signature_survives_a_tool_use_round_trip(gateway):
    anthropic_channel(gateway)
    client = sdk(gateway)
    first = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        thinking=THINKING,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    call = first.content[1]

    second = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        thinking=THINKING,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )

    assert second.stop_reason in ("end_turn", "tool_use")
    returned = upstream_calls(gateway)[1]["body"]["messages"][1]["content"][0]
    assert returned == {
        "type": "thinking",
        "thinking": first.content[0].thinking,
        "signature": SIGNATURE,
    }
    assert len(gateway.wait_records(2)) == 2


def test_what_only_anthropic_carries_goes_only_to_anthropic_channels(gateway):
    openai_channel(gateway, priority=10)  # preferred, but it cannot run a server tool
    channel = anthropic_channel(gateway)

    message = sdk(gateway).messages.create(
        model=MODEL, max_tokens=200, tools=[WEB_SEARCH], messages=HELLO
    )

    assert message.type == "message"
    (call,) = upstream_calls(gateway)
    assert call["body"]["tools"] == [WEB_SEARCH]
    assert gateway.received() == []  # no chat completion was tried
    assert gateway.record().channel_id == channel.pk


def test_a_server_tool_without_an_anthropic_channel_is_a_400_naming_it(gateway):
    openai_channel(gateway)

    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk(gateway).messages.create(
            model=MODEL, max_tokens=200, tools=[WEATHER, WEB_SEARCH], messages=HELLO
        )

    error = refused.value.body["error"]
    assert error["type"] == "invalid_request_error"
    assert "'tools[1]'" in error["message"]
    assert gateway.received() == []
    record = gateway.record()
    assert (record.http_status, record.cost) == (400, 0)


def test_a_failing_anthropic_channel_falls_back_to_a_translated_one(gateway):
    anthropic_channel(gateway, upstream=fault_model(UPSTREAM, status=529), priority=10)
    fallback = openai_channel(gateway)

    with sdk(gateway).messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        text = stream.get_final_text()

    assert text
    assert len(upstream_calls(gateway)) == 1
    assert len(gateway.received()) == 1
    record = gateway.record()
    assert record.channel_id == fallback.pk
    assert [attempt["outcome"] for attempt in record.attempts][-1] == "ok"
    assert len(record.attempts) == 2


def test_an_upstream_error_after_the_first_event_is_one_anthropic_error_event(gateway):
    anthropic_channel(
        gateway, upstream=fault_model(UPSTREAM, error_after=6, words=40, chunk_delay_ms=50)
    )

    raw = httpx.post(
        gateway.url + "/v1/messages",
        json={"model": MODEL, "max_tokens": 500, "messages": HELLO, "stream": True},
        headers={"x-api-key": gateway.key},
        timeout=30,
    )

    events = _events(raw.content)
    assert events[-1]["type"] == "error"
    assert [event["type"] for event in events].count("error") == 1
    assert "message_stop" not in [event["type"] for event in events]
    assert b"[DONE]" not in raw.content
    record = gateway.record()
    assert (record.status, record.http_status) == ("error", 200)


def test_the_upstreams_own_refusal_reaches_the_client(gateway):
    anthropic_channel(gateway)

    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk(gateway).messages.create(
            model=MODEL,
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 10},
            messages=HELLO,
        )

    assert "budget_tokens" in refused.value.body["error"]["message"]

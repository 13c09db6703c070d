"""The Responses door's native passthrough (#15.4): to an OpenAI channel whose upstream serves
`/v1/responses` (`serves_responses`) the client's body goes as sent (model renamed, `store`
false, the stored conversation expanded into `input`), and the answer and events come back as
the upstream sent them (`id` and `model` the gateway's, `usage.cost` added); built-in tools and
encrypted reasoning route only to such channels, and encrypted reasoning goes back only to the
channel that made it."""

from decimal import Decimal

import httpx
import openai
import orjson
import pytest

from bench.fake_upstream import fault_model, reply_text
from channels.services import ModelOffer, channel_create
from gateway import catalog
from tests.clients.test_codex import run_codex
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import (
    MODEL,
    REPLY,
    THINKING_TOKENS,
    cost,
    provider_channel,
    sent,
)

UPSTREAM = "gpt-5-up"
HELLO = "Say hello to the gateway"
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
ENCRYPTED = ["reasoning.encrypted_content"]


def native_channel(gateway, name="native", *, upstream=UPSTREAM, priority=0, model=MODEL):
    """An OpenAI channel serving `model` through the fake upstream's Responses API, at (1, 2, 0.5)
    USD per 1M tokens; its provider slug is its name."""
    offer = ModelOffer(
        model=model,
        upstream_model=upstream,
        input_price=Decimal(1),
        output_price=Decimal(2),
        cached_input_price=Decimal("0.5"),
    )
    channel = channel_create(
        name=name,
        provider=name,
        api_type="openai",
        base_url=gateway.upstream.url + "/v1",
        api_key=CHANNEL_SECRET_PREFIX + name,
        models=[offer],
        priority=priority,
        serves_responses=True,
    )
    catalog.invalidate_catalog()
    gateway.channels.append(channel)
    return channel


def chat_channel(gateway, priority=0):
    return provider_channel(
        gateway, "chat-only", api_type="openai", upstream_model="gpt-4o-mini", priority=priority
    )


def upstream_bodies(gateway) -> list[dict]:
    return [call["body"] for call in sent(gateway, "/v1/responses")]


def answered(gateway, *, stream, only=None, **params):
    """The final Response (streamed or not), pinned to provider `only` when given."""
    params.setdefault("model", MODEL)
    if only is not None:
        params["extra_body"] = {"provider": {"only": [only]}}
    client = gateway.client()
    if not stream:
        return client.responses.create(**params)
    with client.responses.stream(**params) as events:
        kinds = [event.type for event in events]
        assert kinds[0] == "response.created"
        assert kinds[-1] == "response.completed"
        return events.get_final_response()


@STREAM
def test_create_and_stream_go_native_with_the_clients_body(gateway, stream):
    channel = native_channel(gateway)
    chat_channel(gateway, priority=-1)
    params = {
        "model": MODEL,
        "input": HELLO,
        "instructions": "Be brief.",
        "temperature": 0.5,
        "metadata": {"ticket": "15"},
    }

    response = answered(gateway, stream=stream, **params)

    sent_as = {**params, "model": UPSTREAM, "store": False}
    if stream:
        sent_as["stream"] = True
    assert upstream_bodies(gateway) == [sent_as]
    assert sent(gateway, "/v1/chat/completions") == []
    assert (response.model, response.status, response.output_text) == (MODEL, "completed", REPLY)
    assert response.id.startswith("resp_")
    assert response.store is True  # the gateway stored it, whatever the upstream was told
    record = gateway.wait_records(1)[0]
    assert (record.endpoint, record.status, record.channel_id) == ("responses", "ok", channel.pk)
    assert gateway.client().responses.retrieve(response.id).output_text == REPLY


@STREAM
def test_a_web_search_tool_is_served_natively(gateway, stream):
    native_channel(gateway)
    chat_channel(gateway, priority=10)  # preferred, but it cannot search

    response = answered(gateway, stream=stream, input=HELLO, tools=[{"type": "web_search"}])

    assert response.output[0].type == "web_search_call"
    assert response.output_text
    assert upstream_bodies(gateway)[0]["tools"] == [{"type": "web_search"}]
    assert sent(gateway, "/v1/chat/completions") == []


def test_a_web_search_tool_is_a_400_naming_it_when_only_chat_channels_serve_the_model(gateway):
    chat_channel(gateway)

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().responses.create(model=MODEL, input=HELLO, tools=[{"type": "web_search"}])

    assert caught.value.param == "tools[0].type"
    assert sent(gateway, "/v1/") == []
    assert (gateway.record().endpoint, gateway.record().http_status) == ("responses", 400)


def _reasoning(response):
    return [item for item in response.output if item.type == "reasoning"]


def test_encrypted_reasoning_goes_back_only_to_the_channel_that_made_it(gateway):
    native_channel(gateway, "alpha")
    native_channel(gateway, "beta")
    first = answered(
        gateway,
        stream=False,
        only="alpha",
        input=HELLO,
        reasoning={"effort": "low"},
        include=ENCRYPTED,
    )
    [reasoning] = _reasoning(first)
    assert reasoning.encrypted_content

    same = answered(
        gateway, stream=True, only="alpha", input="And again", previous_response_id=first.id
    )
    other = answered(
        gateway, stream=False, only="beta", input="And again", previous_response_id=first.id
    )

    assert (same.status, other.status) == ("completed", "completed")
    assert same.previous_response_id == other.previous_response_id == first.id
    to_alpha, to_beta = upstream_bodies(gateway)[1:]
    assert "previous_response_id" not in to_alpha
    assert [item for item in to_alpha["input"] if item.get("type") == "reasoning"] == [
        reasoning.model_dump(exclude_none=True)
    ]
    assert [item.get("type") for item in to_beta["input"]] == ["message", "message", None]
    assert to_beta["input"][-1] == {"role": "user", "content": "And again"}


def test_encrypted_reasoning_sent_by_the_client_routes_only_to_native_channels(gateway):
    chat_channel(gateway)
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "sealed"}

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().responses.create(
            model=MODEL, input=[item, {"role": "user", "content": HELLO}]
        )

    assert caught.value.param == "input[0].encrypted_content"


@STREAM
def test_usage_is_recorded_exactly_with_cached_and_reasoning_tokens_and_cost(gateway, stream):
    native_channel(gateway, upstream=fault_model(UPSTREAM, cached_tokens=5))

    response = answered(gateway, stream=stream, input=HELLO, reasoning={"effort": "low"})

    usage = response.usage
    assert usage.input_tokens_details.cached_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == THINKING_TOKENS
    record = gateway.wait_records(1)[0]
    assert (record.endpoint, record.status) == ("responses", "ok")
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.input_tokens,
        usage.output_tokens,
    )
    assert (record.cached_tokens, record.reasoning_tokens) == (5, THINKING_TOKENS)
    expected = cost(usage.input_tokens, usage.output_tokens, 5, ("1", "2", "0.5"))
    assert record.cost == expected
    assert Decimal(str(usage.model_extra["cost"])) == expected


@STREAM
def test_a_failing_native_channel_falls_back_to_the_next(gateway, stream):
    native_channel(gateway, "broken", upstream=fault_model(UPSTREAM, status=500), priority=10)
    working = native_channel(gateway, "working")

    response = answered(gateway, stream=stream, input=HELLO)

    assert response.output_text == REPLY
    record = gateway.wait_records(1)[0]
    assert record.channel_id == working.pk
    assert [attempt["outcome"] for attempt in record.attempts][-1] == "ok"
    assert len(record.attempts) == 2


def test_an_upstream_error_after_the_answer_began_ends_the_stream_with_response_failed(gateway):
    failing = fault_model(UPSTREAM, error_after=6, words=40, chunk_delay_ms=50)
    native_channel(gateway, upstream=failing)

    raw = httpx.post(
        gateway.url + "/v1/responses",
        json={"model": MODEL, "input": HELLO, "stream": True},
        headers={"authorization": f"Bearer {gateway.key}"},
        timeout=30,
    )

    events = [
        orjson.loads(line.removeprefix(b"data:"))
        for line in raw.content.split(b"\n")
        if line.startswith(b"data:")
    ]
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds
    assert events[-1]["response"]["model"] == MODEL
    assert gateway.record().status == "error"


def test_a_conversation_moves_between_native_and_translated_channels(gateway):
    native_channel(gateway, "alpha")
    chat_channel(gateway)  # provider slug "openai"
    searched = answered(
        gateway, stream=False, only="alpha", input=HELLO, tools=[{"type": "web_search"}]
    )

    translated = answered(
        gateway,
        stream=False,
        only="openai",
        input="Thanks",
        reasoning={"effort": "low"},
        previous_response_id=searched.id,
    )
    back = answered(
        gateway,
        stream=True,
        only="alpha",
        input="Once more",
        reasoning={"effort": "low"},
        previous_response_id=translated.id,
    )

    assert (translated.status, back.status) == ("completed", "completed")
    assert _reasoning(translated)  # a summary only: no encrypted_content
    [chat_call] = sent(gateway, "/v1/chat/completions")
    roles = [message["role"] for message in chat_call["body"]["messages"]]
    assert roles == ["user", "assistant", "user"]  # the search call has no chat counterpart
    to_alpha = upstream_bodies(gateway)[-1]
    kinds = [item.get("type") for item in to_alpha["input"]]
    assert kinds[0] == "message"
    assert "web_search_call" in kinds
    assert "reasoning" not in kinds  # the chat channel's summary means nothing to alpha
    assert to_alpha["input"][-1] == {"role": "user", "content": "Once more"}


def test_codex_exec_through_a_native_channel(gateway, tmp_path):
    channel = native_channel(gateway, upstream="gpt-4o-mini", model="gpt-4o-mini")
    done = run_codex(gateway, tmp_path)

    assert done.returncode == 0, f"codex exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout == reply_text() + "\n"
    first, second = upstream_bodies(gateway)
    assert (first["model"], first["store"], first["stream"]) == ("gpt-4o-mini", False, True)
    assert second["input"][-1]["type"] == "function_call_output"
    assert sent(gateway, "/v1/chat/completions") == []
    records = gateway.wait_records(2)
    assert [(r.endpoint, r.status, r.channel_id) for r in records] == [
        ("responses", "ok", channel.pk)
    ] * 2
    assert all(r.cost > 0 for r in records)


@STREAM
def test_encrypted_reasoning_sent_back_by_the_client_finds_the_channel_that_made_it(
    gateway, stream
):
    native_channel(gateway, "alpha")
    native_channel(gateway, "beta")
    first = answered(
        gateway,
        stream=False,
        only="alpha",
        input=HELLO,
        store=False,
        reasoning={"effort": "low"},
        include=ENCRYPTED,
    )
    history = [item.model_dump(exclude_none=True) for item in first.output]

    second = answered(
        gateway,
        stream=stream,
        input=[*history, {"role": "user", "content": "And again"}],
        store=False,
        reasoning={"effort": "low"},
        include=ENCRYPTED,
        extra_body={"provider": {"order": ["beta", "alpha"]}},
    )

    assert second.status == "completed"
    record = gateway.wait_records(2)[-1]
    assert [(a["channel"], a["outcome"]) for a in record.attempts] == [
        ("beta", "foreign_content"),
        ("alpha", "ok"),
    ]
    assert record.status == "ok"


def test_encrypted_reasoning_no_channel_can_read_is_the_upstreams_400(gateway):
    native_channel(gateway, "beta")
    forged = {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "forged"}

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().responses.create(
            model=MODEL, input=[forged, {"role": "user", "content": HELLO}], store=False
        )

    assert "could not be verified" in caught.value.message


def test_an_allowed_tools_choice_is_served_natively(gateway):
    native_channel(gateway)
    chat_channel(gateway, priority=10)
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    choice = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "function", "name": "get_weather"}],
    }

    response = gateway.client().responses.create(
        model=MODEL, input=HELLO, tools=[weather], tool_choice=choice
    )

    assert response.status == "completed"
    assert upstream_bodies(gateway)[0]["tool_choice"] == choice
    assert sent(gateway, "/v1/chat/completions") == []

"""The client API beyond one plain completion: path aliases, /models, /generation, tool calls, n.

The SDK is the client; the fake upstream is the provider.
"""

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from bench.fake_upstream import reply_text
from tests.gateway.conftest import Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
REPLY = "Hello from the fake upstream, this is deterministic."
PROMPT_TOKENS = 3 + 5
COMPLETION_TOKENS = 8
TOOL_COMPLETION_TOKENS = 10  # the fake upstream's count for one tool call per choice
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}


def cost(prompt: int, completion: int, price: tuple[str, str] = ("1", "2")) -> Decimal:
    return (prompt * Decimal(price[0]) + completion * Decimal(price[1])) / Decimal(10**6)


# --- path aliases -------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v1", "/api/v1", "/openai/v1", ""])
def test_chat_completions_under_every_alias(gateway, prefix):
    gateway.channel("main", models={MODEL: "main-model"})

    raw = gateway.client(prefix=prefix).chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES
    )
    completion = raw.parse()

    assert completion.choices[0].message.content == REPLY
    assert completion.model == MODEL
    assert raw.headers["x-switchyard-channel"] == "main"
    assert [r["body"]["model"] for r in gateway.received()] == ["main-model"]
    record = gateway.record()
    assert record.id == raw.headers["x-request-id"]
    assert (record.status, record.http_status, record.usage_source) == ("ok", 200, "provider")
    assert record.cost == cost(PROMPT_TOKENS, COMPLETION_TOKENS)


@pytest.mark.parametrize("prefix", ["/api/v1", "/openai/v1", ""])
def test_streaming_under_every_alias(gateway, prefix):
    gateway.channel("main", models={MODEL: "main-model"})

    chunks = list(
        gateway.client(prefix=prefix).chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-1].usage.completion_tokens == COMPLETION_TOKENS
    assert len(gateway.received()) == 1
    record = gateway.record()
    assert (record.status, record.stream, record.completion_tokens) == (
        "ok",
        True,
        COMPLETION_TOKENS,
    )


@pytest.mark.parametrize("path", ["/api/v1/chat/completions", "/chat/completions"])
def test_alias_errors_use_the_same_envelope(gateway, path):
    gateway.channel("main")

    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        unauthenticated = http.post(path, json={"model": MODEL, "messages": MESSAGES})
    with gateway.http() as http:
        unknown = http.post(path, json={"model": "gpt-9", "messages": MESSAGES})

    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "invalid_api_key"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert unknown.headers["x-request-id"]
    assert gateway.received() == []
    assert gateway.record().http_status == 404


# --- GET /v1/models -----------------------------------------------------------------------


def models_setup(gateway: Gateway) -> str:
    """Three models on two channels; a key allowed two of them."""
    gateway.channel(
        "dear",
        models={"openai/gpt-4o-mini": "gpt-4o-mini", "openai/gpt-4o": "gpt-4o"},
        price=("0.3", "1.2"),
    )
    gateway.channel(
        "cheap",
        provider="azure",
        models={"openai/gpt-4o-mini": "gpt-4o-mini", "anthropic/claude": "claude"},
        price=("0.15", "0.6"),
    )
    return gateway.new_key(allowed_models=["openai/gpt-4o-mini", "anthropic/claude"])


def test_models_lists_only_the_keys_models_with_prices(gateway):
    key = models_setup(gateway)

    page = gateway.client(key=key).models.list()

    entries = {model.id: model for model in page.data}
    assert set(entries) == {"openai/gpt-4o-mini", "anthropic/claude"}
    mini = entries["openai/gpt-4o-mini"]
    assert mini.object == "model"
    assert isinstance(mini.created, int)
    assert mini.owned_by
    pricing = mini.model_extra["pricing"]
    assert (Decimal(pricing["input"]), Decimal(pricing["output"])) == (
        Decimal("0.15"),
        Decimal("0.6"),
    )
    # No cache-write prices set: Anthropic's 1.25x and 2x the input price.
    assert (Decimal(pricing["cache_write"]), Decimal(pricing["cache_write_1h"])) == (
        Decimal("0.1875"),
        Decimal("0.3"),
    )
    assert set(mini.model_extra["providers"]) == {"openai", "azure"}
    assert gateway.received() == []
    assert gateway.records() == []


def test_models_without_an_allowlist_lists_everything(gateway):
    models_setup(gateway)

    ids = [model.id for model in gateway.client().models.list().data]

    assert sorted(ids) == ["anthropic/claude", "openai/gpt-4o", "openai/gpt-4o-mini"]


@pytest.mark.parametrize("prefix", ["/api/v1", "/openai/v1"])
def test_models_under_the_aliases(gateway, prefix):
    key = models_setup(gateway)

    ids = {model.id for model in gateway.client(key=key, prefix=prefix).models.list().data}
    one = gateway.client(key=key, prefix=prefix).models.retrieve("anthropic/claude")

    assert ids == {"openai/gpt-4o-mini", "anthropic/claude"}
    assert one.id == "anthropic/claude"


def test_one_model_by_id(gateway):
    key = models_setup(gateway)
    client = gateway.client(key=key)

    model = client.models.retrieve("openai/gpt-4o-mini")

    assert (model.id, model.object) == ("openai/gpt-4o-mini", "model")
    assert Decimal(model.model_extra["pricing"]["input"]) == Decimal("0.15")
    for missing in ("openai/gpt-4o", "gpt-9"):  # not allowed for the key / unknown
        with pytest.raises(openai.NotFoundError) as caught:
            client.models.retrieve(missing)
        assert caught.value.code == "model_not_found"
        assert caught.value.type == "invalid_request_error"
    assert gateway.records() == []


def test_models_needs_a_key(gateway):
    models_setup(gateway)

    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = http.get("/v1/models")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


# --- GET /v1/generation -------------------------------------------------------------------


def test_generation_returns_the_record_for_the_same_key(gateway):
    gateway.channel("main", price=("0.15", "0.6"))
    raw = gateway.client().chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, user="alice"
    )
    request_id = raw.headers["x-request-id"]
    record = gateway.record()

    for prefix in ("/v1", "/api/v1", "/openai/v1"):
        with gateway.http() as http:
            response = http.get(f"{prefix}/generation", params={"id": request_id})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["id"] == request_id
        assert (data["model"], data["served_model"], data["provider"]) == (MODEL, MODEL, "openai")
        assert (data["status"], data["http_status"], data["stream"]) == ("ok", 200, False)
        assert (data["prompt_tokens"], data["completion_tokens"]) == (
            PROMPT_TOKENS,
            COMPLETION_TOKENS,
        )
        assert data["usage_source"] == "provider"
        assert Decimal(data["cost"]) == record.cost == cost(8, 8, ("0.15", "0.6"))
        assert Decimal(data["input_price"]) == Decimal("0.15")
        assert [a["channel"] for a in data["attempts"]] == ["main"]
        assert data["user"] == "alice"
    assert len(gateway.received()) == 1
    assert len(gateway.records()) == 1, "looking a generation up is not itself recorded"


def test_generation_of_a_failed_request(gateway):
    gateway.channel("main")
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(model="gpt-9", messages=MESSAGES)
    gateway.record()  # stored by the recorder's thread

    with gateway.http() as http:
        response = http.get("/v1/generation", params={"id": caught.value.request_id})

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["http_status"], data["error_code"]) == (
        "error",
        404,
        "model_not_found",
    )


def test_generation_of_another_keys_request_is_404(gateway):
    gateway.channel("main")
    raw = gateway.client().chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    gateway.record()  # stored: the 404 below is about the key, not timing
    other = gateway.new_key()

    with gateway.http(key=other) as http:
        foreign = http.get("/v1/generation", params={"id": raw.headers["x-request-id"]})
        unknown = http.get("/v1/generation", params={"id": "req_does_not_exist"})

    for response in (foreign, unknown):
        assert response.status_code == 404
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "generation_not_found",
            "id",
        )
    assert len(gateway.records()) == 1


@pytest.mark.parametrize("query", ["", "?id="])
def test_generation_without_id_is_400(gateway, query):
    with gateway.http() as http:
        response = http.get(f"/v1/generation{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "id")
    assert error["code"]


def test_generation_needs_a_key(gateway):
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = http.get("/v1/generation", params={"id": "req_x"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_every_client_api_response_carries_a_request_id(gateway):
    key = models_setup(gateway)
    with gateway.http(key=key) as http:
        responses = {
            "models": http.get("/v1/models"),
            "model": http.get("/v1/models/anthropic/claude"),
            "model-404": http.get("/v1/models/gpt-9"),
            "generation-400": http.get("/v1/generation"),
            "generation-404": http.get("/v1/generation", params={"id": "req_nope"}),
        }
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        responses["models-401"] = http.get("/v1/models")

    missing = [
        name for name, response in responses.items() if not response.headers.get("x-request-id")
    ]
    assert missing == []


# --- tool calls ---------------------------------------------------------------------------


def test_tool_call_non_stream(gateway):
    gateway.channel("main", models={MODEL: "main-model"})

    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=[WEATHER_TOOL, TIME_TOOL]
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "test", "days": 1}
    assert completion.usage.completion_tokens == TOOL_COMPLETION_TOKENS
    sent = gateway.received()[0]["body"]
    assert sent["tools"] == [WEATHER_TOOL, TIME_TOOL]
    record = gateway.record()
    assert (record.status, record.completion_tokens, record.usage_source) == (
        "ok",
        TOOL_COMPLETION_TOKENS,
        "provider",
    )
    assert record.cost == cost(PROMPT_TOKENS, TOOL_COMPLETION_TOKENS)


def assert_tool_call_fragments(chunks: list[Any], name: str) -> dict[int, dict[str, Any]]:
    """One call per choice, streamed as OpenAI streams them; the accumulated calls."""
    calls: dict[int, dict[str, Any]] = {}
    finishes: Counter[int] = Counter()
    roles: Counter[int] = Counter()
    for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.role:
                roles[choice.index] += 1
            if choice.finish_reason:
                finishes[choice.index] += 1
                assert choice.finish_reason == "tool_calls"
            for fragment in delta.tool_calls or []:
                assert fragment.index is not None, "every fragment needs its index"
                assert fragment.index == 0
                call = calls.get(choice.index)
                if call is None:
                    assert fragment.id, "the first fragment carries the id"
                    assert fragment.type == "function"
                    assert fragment.function.name == name
                    calls[choice.index] = {
                        "id": fragment.id,
                        "arguments": fragment.function.arguments or "",
                    }
                else:
                    assert fragment.id is None, "id only in the first fragment"
                    assert fragment.type is None
                    assert fragment.function.name is None, "name only in the first fragment"
                    call["arguments"] += fragment.function.arguments or ""
    assert set(roles.values()) == {1}, "role once per choice"
    assert set(finishes.values()) == {1}
    assert set(roles) == set(finishes) == set(calls)
    return calls


def test_tool_call_stream_fragments(gateway):
    gateway.channel("main")

    chunks = list(
        gateway.client().chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    calls = assert_tool_call_fragments(chunks, "get_weather")
    assert list(calls) == [0]
    assert json.loads(calls[0]["arguments"]) == {"city": "test", "days": 1}
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == TOOL_COMPLETION_TOKENS
    assert len(gateway.received()) == 1
    record = gateway.record()
    assert (record.status, record.stream, record.completion_tokens) == (
        "ok",
        True,
        TOOL_COMPLETION_TOKENS,
    )


def test_tool_call_stream_through_the_sdk_helper(gateway):
    gateway.channel("main")

    with gateway.client().chat.completions.stream(
        model=MODEL,
        messages=MESSAGES,
        tools=[WEATHER_TOOL],
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()

    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "test", "days": 1}
    assert call.id.startswith("call_")
    assert final.usage.completion_tokens == TOOL_COMPLETION_TOKENS
    assert len(gateway.received()) == 1
    assert gateway.record().status == "ok"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_tool_choice_naming_a_function(gateway, stream):
    gateway.channel("main")
    choice = {"type": "function", "function": {"name": "get_time"}}

    response = gateway.client().chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=choice,
        stream=stream,
    )

    if stream:
        calls = assert_tool_call_fragments(list(response), "get_time")
        assert json.loads(calls[0]["arguments"]) == {}
    else:
        assert response.choices[0].message.tool_calls[0].function.name == "get_time"
    assert gateway.received()[0]["body"]["tool_choice"] == choice
    assert gateway.record().status == "ok"


def test_tool_choice_none_answers_with_text(gateway):
    gateway.channel("main")

    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="none"
    )

    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    assert gateway.record().completion_tokens == COMPLETION_TOKENS


def test_tool_call_round_trip_with_the_tool_result(gateway):
    gateway.channel("main")
    client = gateway.client()
    first = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]

    second = client.chat.completions.create(
        model=MODEL,
        messages=[
            *MESSAGES,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )

    assert second.choices[0].message.content == REPLY
    sent = gateway.received()[1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'}
    assert len(gateway.wait_records(2)) == 2


# --- n > 1 --------------------------------------------------------------------------------


def test_n2_non_stream(gateway):
    gateway.channel("main")

    completion = gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES, n=2)

    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.choices[0].message.content == reply_text(8, 0)
    assert completion.choices[1].message.content == reply_text(8, 1)
    assert completion.usage.completion_tokens == 2 * COMPLETION_TOKENS
    assert gateway.received()[0]["body"]["n"] == 2
    record = gateway.record()
    assert (record.prompt_tokens, record.completion_tokens) == (
        PROMPT_TOKENS,
        2 * COMPLETION_TOKENS,
    )
    assert record.cost == cost(PROMPT_TOKENS, 2 * COMPLETION_TOKENS)


def test_n2_stream(gateway):
    gateway.channel("main")

    chunks = list(
        gateway.client().chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    roles: Counter[int] = Counter()
    finishes: Counter[int] = Counter()
    texts = {0: "", 1: ""}
    for chunk in chunks[:-1]:
        assert chunk.usage is None
        for choice in chunk.choices:
            if choice.delta.role:
                roles[choice.index] += 1
            if choice.finish_reason:
                finishes[choice.index] += 1
                assert choice.finish_reason == "stop"
            texts[choice.index] += choice.delta.content or ""
    assert roles == {0: 1, 1: 1}
    assert finishes == {0: 1, 1: 1}
    assert texts == {0: reply_text(8, 0), 1: reply_text(8, 1)}
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == 2 * COMPLETION_TOKENS
    assert len({c.id for c in chunks}) == 1
    assert len(gateway.received()) == 1
    record = gateway.record()
    assert (record.status, record.completion_tokens, record.usage_source) == (
        "ok",
        2 * COMPLETION_TOKENS,
        "provider",
    )
    assert Decimal(str(usage_chunk.usage.model_extra["cost"])) == record.cost


def test_n2_tool_calls_stream(gateway):
    gateway.channel("main")

    chunks = list(
        gateway.client().chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=[WEATHER_TOOL], n=2, stream=True
        )
    )

    calls = assert_tool_call_fragments(chunks, "get_weather")
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] != calls[1]["id"]
    for call in calls.values():
        assert json.loads(call["arguments"]) == {"city": "test", "days": 1}
    assert gateway.record().completion_tokens == 2 * TOOL_COMPLETION_TOKENS

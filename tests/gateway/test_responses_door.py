"""The Responses front door (#15, translated): the `openai` SDK's `responses` API against the
gateway, through OpenAI-compatible, Anthropic and Gemini channels of the fake upstream —
answers, streams, structured output, tools, limits, errors and fallback, stored conversations,
one priced usage record per request, and a WebSocket refused at once."""

import asyncio
import time
from decimal import Decimal

import httpx
import openai
import pytest
from pydantic import BaseModel
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bench.fake_upstream import fault_model
from tests.gateway.providers_helpers import (
    COMPLETION_TOKENS,
    MODEL,
    PROMPT_TOKENS,
    REPLY,
    THINKING,
    THINKING_TOKENS,
    cost,
    provider_channel,
    sent,
)

UPSTREAM_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
}
UPSTREAM_PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta",
}
CHANNEL_TYPES = pytest.mark.parametrize("api_type", list(UPSTREAM_MODELS))
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
HELLO = "Say hello to the gateway"
HELLO_TOKENS = 3 + 5  # the fake upstream counts 3 per message and its words
BRIEF = "Be brief."
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": True,
}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


def channel(gateway, api_type="openai", *, name=None, upstream_model=None, **options):
    """A channel of `api_type` serving MODEL at (1, 2) USD per 1M tokens."""
    return provider_channel(
        gateway,
        name or api_type,
        api_type=api_type,
        upstream_model=upstream_model or UPSTREAM_MODELS[api_type],
        **options,
    )


def streamed(gateway, **params):
    """Every event of `responses.stream` and the SDK's final response."""
    params.setdefault("model", MODEL)
    with gateway.client().responses.stream(**params) as stream:
        events = list(stream)
        return events, stream.get_final_response()


def answered(gateway, *, stream, **params):
    """The final Response object, streamed or not (a stream's events checked for order)."""
    if not stream:
        params.setdefault("model", MODEL)
        return gateway.client().responses.create(**params)
    events, final = streamed(gateway, **params)
    assert_well_ordered(events)
    return final


def assert_well_ordered(events):
    """Strictly increasing sequence numbers; created and in_progress first; one terminal event,
    last."""
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers)), numbers
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert [kind for kind in kinds if kind in TERMINAL] == [kinds[-1]]


def raw_events(gateway, **body):
    """The stream's events as sent: (event line, data) pairs."""
    body = {"model": MODEL, "stream": True, **body}
    with gateway.http() as http, http.stream("POST", "/v1/responses", json=body) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    frames = [frame for frame in text.split("\n\n") if frame.strip()]
    pairs = []
    for frame in frames:
        event_line, data_line = frame.split("\n", 1)
        pairs.append((event_line.removeprefix("event: "), data_line.removeprefix("data: ")))
    return pairs


@CHANNEL_TYPES
@STREAM
def test_a_string_input_with_instructions_is_answered_priced_and_recorded(
    gateway, api_type, stream
):
    channel(gateway, api_type)

    response = answered(gateway, stream=stream, input=HELLO, instructions=BRIEF)

    assert response.id.startswith("resp_")
    assert (response.object, response.status, response.model) == ("response", "completed", MODEL)
    assert response.output_text == REPLY
    [message] = response.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert message.id.startswith("msg_")
    assert message.content[0].annotations == []
    assert response.instructions == BRIEF
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    assert (
        usage.input_tokens_details.cached_tokens,
        usage.output_tokens_details.reasoning_tokens,
    ) == (0, 0)
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert Decimal(str(usage.model_extra["cost"])) == expected
    assert response.model_extra["provider"] == api_type
    record = gateway.record()
    assert (record.endpoint, record.status, record.stream, record.cost) == (
        "responses",
        "ok",
        stream,
        expected,
    )
    assert record.channel_id == gateway.channels[0].pk


@CHANNEL_TYPES
@STREAM
def test_cache_reads_stay_in_input_tokens_at_the_cached_price(gateway, api_type, stream):
    upstream = fault_model(UPSTREAM_MODELS[api_type], cached_tokens=10)
    channel(gateway, api_type, upstream_model=upstream, price=("1", "2", "0.1"))

    response = answered(gateway, stream=stream, input=HELLO, instructions=BRIEF)

    usage = response.usage
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens) == (PROMPT_TOKENS, 10)
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS, 10, ("1", "2", "0.1"))
    assert Decimal(str(usage.model_extra["cost"])) == expected
    record = gateway.record()
    assert (record.prompt_tokens, record.cached_tokens, record.cost) == (
        PROMPT_TOKENS,
        10,
        expected,
    )


def test_items_become_the_conversation_the_channel_receives(gateway):
    channel(gateway)
    items = [
        {"role": "developer", "content": BRIEF},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello!", "annotations": []}],
        },
        {"role": "user", "content": HELLO},
    ]

    response = gateway.client().responses.create(
        model=MODEL, input=items, temperature=0.5, top_p=0.9, max_output_tokens=100, user="u-1"
    )

    assert response.output_text == REPLY
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.5, 0.9, 100)
    [request] = sent(gateway, "/v1/chat/completions")
    body = request["body"]
    assert body["messages"] == [
        {"role": "developer", "content": BRIEF},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": HELLO},
    ]
    assert (body["temperature"], body["top_p"], body["user"]) == (0.5, 0.9, "u-1")
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 100
    assert gateway.record().user == "u-1"


@CHANNEL_TYPES
@STREAM
def test_a_function_tool_round_trip(gateway, api_type, stream):
    channel(gateway, api_type)
    question = {"role": "user", "content": "What is the weather in Paris?"}

    first = answered(gateway, stream=stream, input=[question], tools=[WEATHER])

    assert first.status == "completed"
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, call.arguments, call.status) == (
        "get_weather",
        '{"city":"test"}',
        "completed",
    )
    assert call.id.startswith("fc_")
    assert call.call_id
    assert first.tools[0].name == "get_weather"
    result = {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c": 18}'}
    history = [question, *(item.model_dump(exclude_none=True) for item in first.output), result]

    second = answered(gateway, stream=stream, input=history, tools=[WEATHER])

    assert second.output_text == REPLY
    assert [item.type for item in second.output] == ["message"]
    assert len(gateway.wait_records(2)) == 2
    if api_type == "openai":
        body = sent(gateway, "/v1/chat/completions")[-1]["body"]
        assistant, tool = body["messages"][1:]
        assert assistant["tool_calls"][0]["id"] == call.call_id
        assert tool == {"role": "tool", "tool_call_id": call.call_id, "content": '{"temp_c": 18}'}


def test_tool_choice_and_parallel_calls_reach_the_channel(gateway):
    channel(gateway)

    response = gateway.client().responses.create(
        model=MODEL,
        input=HELLO,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )

    assert response.output[0].type == "function_call"
    assert response.parallel_tool_calls is False
    body = sent(gateway, "/v1/chat/completions")[0]["body"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["strict"] is True


class Weather(BaseModel):
    city: str
    temp_c: int


def test_parse_with_a_pydantic_text_format(gateway):
    # The fake upstream echoes the user's words: the answer is the JSON it was given.
    channel(gateway, upstream_model=fault_model("gpt-4o-mini", echo=True))

    response = gateway.client().responses.parse(
        model=MODEL, input='{"city":"Paris","temp_c":18}', text_format=Weather
    )

    assert response.output_parsed == Weather(city="Paris", temp_c=18)
    form = sent(gateway, "/v1/chat/completions")[0]["body"]["response_format"]
    assert form["type"] == "json_schema"
    assert form["json_schema"]["name"] == "Weather"
    assert form["json_schema"]["schema"]["properties"]["temp_c"]["type"] == "integer"
    assert form["json_schema"]["strict"] is True


@CHANNEL_TYPES
@STREAM
def test_max_output_tokens_makes_an_incomplete_response(gateway, api_type, stream):
    channel(gateway, api_type)

    if stream:
        events = list(
            gateway.client().responses.create(
                model=MODEL, input=HELLO, max_output_tokens=3, stream=True
            )
        )
        assert_well_ordered(events)
        assert events[-1].type == "response.incomplete"
        response = events[-1].response
    else:
        response = answered(gateway, stream=False, input=HELLO, max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "Hello from the"
    assert response.usage.output_tokens == 3


@STREAM
def test_reasoning_effort_gives_a_reasoning_summary(gateway, stream):
    channel(gateway)

    response = answered(gateway, stream=stream, input=HELLO, reasoning={"effort": "low"})

    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert reasoning.id.startswith("rs_")
    assert [part.text for part in reasoning.summary] == [THINKING]
    assert message.content[0].text == REPLY
    assert response.usage.output_tokens_details.reasoning_tokens == THINKING_TOKENS
    assert response.reasoning.effort == "low"
    assert sent(gateway, "/v1/chat/completions")[0]["body"]["reasoning"] == {"effort": "low"}


def test_stream_event_grammar(gateway):
    channel(gateway)

    events, final = streamed(gateway, input=HELLO, reasoning={"effort": "low"})

    assert_well_ordered(events)
    kinds = [event.type for event in events]
    assert kinds[0:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
    ]
    for kind in (
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    ):
        assert kind in kinds
    assert kinds.count("response.output_item.done") == 2
    assert kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text == REPLY
    assert final.usage.total_tokens == HELLO_TOKENS + COMPLETION_TOKENS + THINKING_TOKENS
    pairs = raw_events(gateway, input=HELLO)
    assert all(kind == data.split('"type":"', 1)[1].split('"', 1)[0] for kind, data in pairs)
    assert "[DONE]" not in "".join(data for _, data in pairs)


def test_reasoning_streamed_inside_a_tool_call_does_not_split_it(gateway):
    # The fake upstream announces the call (id, name), then reasons, then streams the arguments.
    channel(gateway)

    events, final = streamed(gateway, input=HELLO, tools=[WEATHER], reasoning={"effort": "low"})

    assert_well_ordered(events)
    assert [item.type for item in final.output] == ["reasoning", "function_call"]
    call = final.output[1]
    assert (call.name, call.arguments) == ("get_weather", '{"city":"test"}')
    assert call.call_id.startswith("call_")
    added = [e.item.type for e in events if e.type == "response.output_item.added"]
    assert added == ["reasoning", "function_call"]


def test_a_built_in_tool_is_refused_naming_the_field(gateway):
    channel(gateway)

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().responses.create(
            model=MODEL, input=HELLO, tools=[WEATHER, {"type": "web_search"}]
        )

    assert caught.value.status_code == 400
    assert caught.value.param == "tools[1].type"
    assert "serves_responses" in caught.value.message
    assert sent(gateway, "/v1/") == []
    assert (gateway.record().endpoint, gateway.record().http_status) == ("responses", 400)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": HELLO}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": [{"type": "message", "role": "robot"}]}, "input[0].role"),
        ({"model": MODEL, "input": HELLO, "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": MODEL, "input": HELLO, "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(gateway, body, param):
    channel(gateway)

    with gateway.http() as http:
        response = http.post("/v1/responses", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["type"] == "invalid_request_error"


@STREAM
def test_a_failing_channel_falls_back(gateway, stream):
    channel(
        gateway, name="broken", upstream_model=fault_model("gpt-4o-mini", status=500), priority=10
    )
    channel(gateway, "anthropic")

    response = answered(gateway, stream=stream, input=HELLO)

    assert response.output_text == REPLY
    record = gateway.record()
    assert [(a["channel"], a["http_status"]) for a in record.attempts] == [
        ("broken", 500),
        ("anthropic", 200),
    ]
    assert record.endpoint == "responses"


def test_every_channel_failing_is_an_openai_error(gateway):
    channel(gateway, upstream_model=fault_model("gpt-4o-mini", status=503))

    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client().responses.create(model=MODEL, input=HELLO)

    assert caught.value.status_code == 503
    assert caught.value.code == "all_channels_failed"
    assert caught.value.response.headers["x-request-id"] == gateway.record().id


def test_a_failure_after_the_first_event_is_response_failed(gateway):
    channel(gateway, upstream_model=fault_model("gpt-4o-mini", error_after=5, chunk_delay_ms=30))

    events = list(gateway.client().responses.create(model=MODEL, input=HELLO, stream=True))

    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert [kind for kind in kinds if kind in TERMINAL] == ["response.failed"] == kinds[-1:]
    failed = events[-1].response
    assert failed.status == "failed"
    assert failed.error.message
    assert failed.error.code
    record = gateway.record()
    assert (record.endpoint, record.status) == ("responses", "error")


def test_previous_response_id_continues_a_stored_conversation(gateway):
    channel(gateway)
    client = gateway.client()

    first = client.responses.create(model=MODEL, input=HELLO, instructions=BRIEF)
    second = client.responses.create(
        model=MODEL, input="And once more", previous_response_id=first.id
    )

    assert second.output_text == REPLY
    assert second.previous_response_id == first.id
    messages = sent(gateway, "/v1/chat/completions")[1]["body"]["messages"]
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": HELLO}]},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "And once more"},
    ]
    kept = client.responses.retrieve(second.id)
    assert (kept.id, kept.output_text) == (second.id, REPLY)
    assert [item.content[0].text for item in client.responses.input_items.list(second.id)] == [
        "And once more"
    ]


def test_a_stream_is_stored_too(gateway):
    channel(gateway, "gemini")
    client = gateway.client()

    _, first = streamed(gateway, input=HELLO)
    second = client.responses.create(model=MODEL, input="Again", previous_response_id=first.id)

    assert second.output_text == REPLY
    assert client.responses.retrieve(first.id).output_text == REPLY


def test_unknown_or_unstored_previous_responses_are_404s(gateway):
    channel(gateway)
    client = gateway.client()
    unstored = client.responses.create(model=MODEL, input=HELLO, store=False)

    for previous in ("resp_unknown", unstored.id):
        with pytest.raises(openai.NotFoundError) as caught:
            client.responses.create(model=MODEL, input=HELLO, previous_response_id=previous)
        assert caught.value.param == "previous_response_id"
    assert unstored.store is False


def test_the_async_client(gateway):
    channel(gateway, "anthropic")

    async def run():
        client = openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0
        )
        created = await client.responses.create(model=MODEL, input=HELLO)
        async with client.responses.stream(model=MODEL, input=HELLO) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
        await client.close()
        return created, kinds, final

    created, kinds, final = asyncio.run(run())

    assert created.output_text == final.output_text == REPLY
    assert kinds[-1] == "response.completed"
    assert [r.endpoint for r in gateway.wait_records(2)] == ["responses", "responses"]


def test_a_websocket_upgrade_is_refused_at_once(gateway):
    url = gateway.url.replace("http://", "ws://") + "/v1/responses"
    started = time.monotonic()

    with pytest.raises(InvalidStatus) as caught:
        connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}, open_timeout=5)

    assert time.monotonic() - started < 2
    assert caught.value.response.status_code == 426
    assert b"websocket_not_supported" in caught.value.response.body
    # Codex then falls back to HTTP, which works.
    channel(gateway)
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        answer = http.post(
            "/v1/responses",
            headers={"Authorization": f"Bearer {gateway.key}"},
            json={"model": MODEL, "input": HELLO},
        )
    assert answer.json()["output"][0]["content"][0]["text"] == REPLY

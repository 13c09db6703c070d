"""The Messages front door (#14 B, translated): the `anthropic` SDK against the gateway, through
an OpenAI-compatible channel of the fake upstream — replies, streams, tools, errors, the key as
`x-api-key` or a bearer token, and one usage record per request, priced."""

import anthropic
import httpx
import pytest

from bench.fake_upstream import fault_model
from bench.fake_upstream.openai_dialect import THINKING_TEXT

MODEL = "claude-sonnet-4-5"
HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def sdk(gateway, *, key: str | None = None, bearer: bool = False) -> anthropic.Anthropic:
    """The SDK as Claude Code configures it: ANTHROPIC_BASE_URL at the gateway's root, the key
    as ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (a bearer token)."""
    secret = key or gateway.key
    if bearer:
        return anthropic.Anthropic(
            base_url=gateway.url, max_retries=0, auth_token=secret, api_key=None
        )
    return anthropic.Anthropic(base_url=gateway.url, max_retries=0, api_key=secret)


@pytest.fixture
def channel(gateway):
    return gateway.channel("openai-main", models={MODEL: "gpt-4o-mini"}, price=("3", "15"))


@pytest.mark.parametrize("bearer", [False, True], ids=["x-api-key", "bearer"])
def test_a_reply_in_anthropics_shape_recorded_once_and_priced(gateway, channel, bearer):
    message = sdk(gateway, bearer=bearer).messages.create(
        model=MODEL, max_tokens=200, messages=HELLO
    )

    (record,) = gateway.wait_records(1)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        record.prompt_tokens,
        record.completion_tokens,
    )
    assert record.status == "ok"
    assert record.channel_id == channel.pk
    assert record.cost > 0
    assert gateway.received()[0]["path"].endswith("/chat/completions")


def test_a_stream_in_anthropics_event_grammar_with_its_usage(gateway, channel):
    with sdk(gateway).messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
        text = stream.get_final_text()
        final = stream.get_final_message()

    (record,) = gateway.wait_records(1)
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds
    assert "message_delta" in kinds
    assert text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == record.completion_tokens > 0
    assert final.usage.input_tokens == record.prompt_tokens
    assert record.stream
    assert record.status == "ok"


@pytest.mark.parametrize("stream", [False, True], ids=["reply", "stream"])
def test_tools_round_trip_as_tool_use_and_tool_result(gateway, channel, stream):
    client = sdk(gateway)
    ask = {"model": MODEL, "max_tokens": 200, "tools": [WEATHER]}
    if stream:
        with client.messages.stream(**ask, messages=[{"role": "user", "content": "Paris?"}]) as s:
            deltas = [e.delta.type for e in s if e.type == "content_block_delta"]
            first = s.get_final_message()
        assert "input_json_delta" in deltas
    else:
        first = client.messages.create(**ask, messages=[{"role": "user", "content": "Paris?"}])
    (call,) = [block for block in first.content if block.type == "tool_use"]

    answer = client.messages.create(
        **ask,
        tool_choice={"type": "none"},
        messages=[
            {"role": "user", "content": "Paris?"},
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}],
            },
        ],
    )

    assert first.stop_reason == "tool_use"
    assert call.name == "get_weather"
    assert isinstance(call.input, dict)
    assert "city" in call.input
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].type == "text"
    sent = gateway.received()[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "18 C"}
    assert len(gateway.wait_records(2)) == 2


def test_errors_are_anthropics_and_the_sdk_raises_its_own_classes(gateway, channel):
    client = sdk(gateway)

    with pytest.raises(anthropic.AuthenticationError) as refused:
        sdk(gateway, key="sk-sy-not-a-real-key-0000000000").messages.create(
            model=MODEL, max_tokens=10, messages=HELLO
        )
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client.messages.create(model="no-such-model", max_tokens=10, messages=HELLO)
    # The SDK itself insists on max_tokens; a raw client may forget it.
    invalid = httpx.post(
        gateway.url + "/v1/messages",
        json={"model": MODEL, "messages": HELLO},
        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01"},
        timeout=10,
    )

    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"]["type"] == "authentication_error"
    assert unknown.value.body["error"]["type"] == "not_found_error"
    assert invalid.status_code == 400
    assert invalid.json()["error"] == {
        "type": "invalid_request_error",
        "message": "Invalid value for 'max_tokens': an integer is required.",
    }
    assert invalid.headers["x-request-id"] == invalid.json()["request_id"]


def test_every_channel_failing_is_overloaded_529(gateway):
    gateway.channel("down", models={MODEL: fault_model("m", status=503)})

    with pytest.raises(anthropic.InternalServerError) as failed:
        sdk(gateway).messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert failed.value.status_code == 529
    assert failed.value.body["error"]["type"] == "overloaded_error"
    (record,) = gateway.wait_records(1)
    assert record.status == "error"


def test_the_key_as_x_api_key_works_on_every_client_endpoint(gateway, channel):
    headers = {"x-api-key": gateway.key}

    models = httpx.get(gateway.url + "/v1/models", headers=headers, timeout=10)
    key = httpx.get(gateway.url + "/v1/key", headers=headers, timeout=10)
    without = httpx.get(gateway.url + "/v1/models", timeout=10)

    assert (models.status_code, key.status_code, without.status_code) == (200, 200, 401)
    assert MODEL in [entry["id"] for entry in models.json()["data"]]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_reasoning_comes_back_as_a_thinking_block_first(gateway, channel, stream):
    params = {
        "model": MODEL,
        "max_tokens": 2000,
        "messages": HELLO,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    if stream:
        with sdk(gateway).messages.stream(**params) as events:
            kinds = [event.type for event in events]
            message = events.get_final_message()
        assert "thinking" in kinds  # the SDK's event for a thinking_delta
    else:
        message = sdk(gateway).messages.create(**params)

    thinking, text = message.content
    assert thinking.type == "thinking"
    assert thinking.thinking == THINKING_TEXT
    assert thinking.signature == ""  # a translated channel signs nothing
    assert text.type == "text"
    assert text.text
    assert gateway.received()[0]["body"]["reasoning"] == {"max_tokens": 1024}


def test_cache_reads_and_writes_are_not_input_tokens(gateway):
    upstream = fault_model("gpt-4o-mini", cached_tokens=2, cache_write_tokens=3, words=4)
    gateway.channel("openai-cache", models={MODEL: upstream})

    message = sdk(gateway).messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    prompt = gateway.record().prompt_tokens
    assert message.usage.cache_read_input_tokens == 2
    assert message.usage.cache_creation_input_tokens == 3
    assert message.usage.input_tokens == prompt - 5

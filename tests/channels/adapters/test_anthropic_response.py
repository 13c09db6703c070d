"""Golden tests of the Anthropic adapter's answers: messages, every stream event type, usage and
errors. Streams in `tests/fixtures/anthropic/` are recordings of the
fake upstream (`bench/fake_upstream/anthropic_dialect.py`)."""

from typing import Any

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import (
    BadUpstreamResponse,
    ResponseIdentity,
    UpstreamStreamError,
)
from core.usage import Usage
from gateway.estimate import estimate_usage
from tests.channels.adapters.openai_compat_helpers import (
    FIXTURES,
    IDENTITY,
    METERING,
    PROMPT_ESTIMATE,
    cost,
)

ADAPTER = adapter_for("anthropic")
THINKING = "The user wants a short friendly answer, so I will greet them."
USAGE = {
    "input_tokens": 20,
    "cache_creation_input_tokens": 30,
    "cache_read_input_tokens": 50,
    "output_tokens": 40,
}


def translate(message: dict[str, Any], identity: ResponseIdentity = IDENTITY) -> Any:
    result = ADAPTER.translate_response(
        payload=orjson.dumps(message), identity=identity, metering=METERING
    )
    return result, orjson.loads(result.body)


def message(*content: dict[str, Any], stop: str = "end_turn", **extra: Any) -> dict[str, Any]:
    body = {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude"}
    return {**body, "content": list(content), "stop_reason": stop, "usage": USAGE, **extra}


def test_message_with_thinking_text_and_tool_use():
    result, body = translate(
        message(
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Let me "},
            {"type": "text", "text": "check."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            stop="tool_use",
        )
    )

    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"], body["provider"]) == (
        "chat.completion",
        IDENTITY.model,
        IDENTITY.provider,
    )
    [choice] = body["choices"]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("tool_calls", "tool_use")
    assert choice["message"] == {
        "role": "assistant",
        "content": "Let me check.",
        "reasoning_content": "Hmm.",
        "reasoning": "Hmm.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
        "thinking_blocks": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
        ],
    }
    assert result.usage_estimated is False


def test_usage_counts_cache_reads_and_writes_in_the_prompt():
    result, body = translate(message({"type": "text", "text": "ok"}))

    assert result.usage == Usage(
        prompt_tokens=100, completion_tokens=40, cached_tokens=50, cache_write_tokens=30
    )
    assert body["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 0},
        "cost": cost(result.usage),
    }


@pytest.mark.parametrize(
    ("creation", "writes_5m", "writes_1h"),
    [
        # No breakdown: every write is a 5-minute one (the default TTL).
        (None, 30, 0),
        ({"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}, 10, 20),
        ({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 30}, 0, 30),
        # Only the 1-hour part named: the rest of cache_creation_input_tokens is 5-minute.
        ({"ephemeral_1h_input_tokens": 12}, 18, 12),
        # A breakdown larger than the total (a misreport) counts in full, in the prompt too.
        ({"ephemeral_5m_input_tokens": 25, "ephemeral_1h_input_tokens": 25}, 25, 25),
    ],
)
def test_cache_writes_are_split_by_their_lifetime(creation, writes_5m, writes_1h):
    usage = {**USAGE, "cache_creation": creation}
    result, body = translate(message({"type": "text", "text": "ok"}, usage=usage))

    assert result.usage == Usage(
        prompt_tokens=20 + 50 + writes_5m + writes_1h,
        completion_tokens=40,
        cached_tokens=50,
        cache_write_tokens=writes_5m,
        cache_write_1h_tokens=writes_1h,
    )
    # The client sees OpenRouter's one figure: every write, whatever its lifetime.
    assert body["usage"]["prompt_tokens_details"]["cache_write_tokens"] == writes_5m + writes_1h
    assert body["usage"]["cost"] == cost(result.usage)


def test_a_streamed_answer_keeps_the_cache_write_split_of_message_start():
    translator = stream()
    start = {
        **USAGE,
        "cache_creation_input_tokens": 30,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
    }
    translator.feed(
        event("message_start", message={"id": "msg_1", "content": [], "usage": start})
        + TEXT_BLOCK
        + text_delta("ok")
        + event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 5})
        + event("message_stop")
    )
    out = chunks(translator.finish())

    assert translator.usage == Usage(
        prompt_tokens=100,
        completion_tokens=5,
        cached_tokens=50,
        cache_write_tokens=10,
        cache_write_1h_tokens=20,
    )
    assert out[-1]["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 50,
        "cache_write_tokens": 30,
    }


def test_thinking_tokens_are_reasoning_tokens_when_reported():
    usage = {**USAGE, "output_tokens_details": {"thinking_tokens": 12}}
    result, body = translate(message({"type": "text", "text": "ok"}, usage=usage))
    assert result.usage.reasoning_tokens == 12
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 12}


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop, finish):
    _, body = translate(message({"type": "text", "text": "ok"}, stop=stop))
    assert (body["choices"][0]["finish_reason"], body["choices"][0]["native_finish_reason"]) == (
        finish,
        stop,
    )


@pytest.mark.parametrize("usage", [None, {}], ids=["absent", "empty"])
def test_missing_usage_is_estimated_from_the_generated_text(usage):
    answer = message({"type": "text", "text": "Hello there"}, usage=usage)

    result, body = translate(answer)

    expected = estimate_usage(prompt_tokens=PROMPT_ESTIMATE, completion_chars=11)
    assert (result.usage, result.usage_estimated) == (expected, True)
    assert body["usage"]["cost"] == cost(expected)


def test_excluded_reasoning_is_left_out():
    identity = ResponseIdentity(IDENTITY.model, IDENTITY.provider, exclude_reasoning=True)
    thinking = {"type": "thinking", "thinking": "Hmm.", "signature": "sig"}
    _, body = translate(message(thinking, {"type": "text", "text": "ok"}), identity)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "ok"}


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"content": "text"}'])
def test_garbled_answers_are_bad_responses(payload):
    with pytest.raises(BadUpstreamResponse):
        ADAPTER.translate_response(payload=payload, identity=IDENTITY, metering=METERING)


# --- streams ----------------------------------------------------------------------------------


def stream(include_usage: bool = True, identity: ResponseIdentity = IDENTITY) -> Any:
    return ADAPTER.stream_translator(
        identity=identity, include_usage=include_usage, metering=METERING
    )


def chunks(events: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(e[6:]) for e in events if e != b"data: [DONE]\n\n"]


def event(kind: str, **data: Any) -> bytes:
    return f"event: {kind}\ndata: {orjson.dumps({'type': kind, **data}).decode()}\n\n".encode()


START = event("message_start", message={"id": "msg_1", "content": [], "usage": USAGE})
TEXT_BLOCK = event("content_block_start", index=0, content_block={"type": "text", "text": ""})


def text_delta(text: str, index: int = 0) -> bytes:
    return event("content_block_delta", index=index, delta={"type": "text_delta", "text": text})


def test_recorded_thinking_and_tool_use_stream():
    translator = stream()
    events = translator.feed((FIXTURES / "anthropic" / "thinking_tool.sse").read_bytes())

    assert translator.done
    assert translator.failure is None
    out = chunks(events + translator.finish())
    assert len({c["id"] for c in out}) == 1
    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": THINKING, "reasoning": THINKING}
    assert deltas[2]["thinking_blocks"] == [
        {"type": "thinking", "thinking": THINKING, "signature": "EqQBCkgIARABGAIiQFakeSignature"}
    ]
    assert deltas[3]["tool_calls"][0]["index"] == 0
    assert deltas[3]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": ""}
    fragments = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[4:6]]
    assert "".join(fragments) == '{"city":"test"}'
    assert out[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert out[-1]["choices"] == []
    assert translator.usage == Usage(
        prompt_tokens=4, completion_tokens=22, cached_tokens=2, reasoning_tokens=12
    )
    assert out[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}


def test_a_stream_split_anywhere_gives_the_same_chunks():
    recorded = (FIXTURES / "anthropic" / "text.sse").read_bytes()
    whole, bytewise = stream(), stream()
    at_once = whole.feed(recorded)
    one_by_one = [e for i in range(len(recorded)) for e in bytewise.feed(recorded[i : i + 1])]

    assert [c["choices"] for c in chunks(one_by_one)] == [c["choices"] for c in chunks(at_once)]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks(at_once))
    assert text == "Hello from the fake upstream, this is deterministic."
    assert whole.done
    assert bytewise.done


def test_ping_and_unknown_events_are_ignored_and_content_is_the_commit_point():
    translator = stream()
    first = translator.feed(START + event("ping") + TEXT_BLOCK + event("future_thing", x=1))
    assert len(first) == 1, "only the role chunk"
    assert translator.content_started is False
    translator.feed(text_delta("Hi"))
    assert translator.content_started is True


def test_tool_calls_are_numbered_by_the_client_not_by_block_index():
    translator = stream()
    blocks = b"".join(
        event(
            "content_block_start",
            index=i,
            content_block={"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}},
        )
        + event(
            "content_block_delta", index=i, delta={"type": "input_json_delta", "partial_json": "{}"}
        )
        for i in (1, 3)
    )
    events = translator.feed(START + TEXT_BLOCK + text_delta("a") + blocks)
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks(events)[2:]]
    assert [(call["index"], call.get("id")) for call in calls] == [
        (0, "t1"),
        (0, None),
        (1, "t3"),
        (1, None),
    ]


def test_output_tokens_are_cumulative_and_taken_from_message_delta():
    translator = stream()
    translator.feed(START + TEXT_BLOCK + text_delta("ok"))
    assert translator.usage is None, "no final usage before message_delta"
    translator.feed(
        event("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 77})
    )
    translator.feed(event("message_stop"))
    assert translator.usage == Usage(
        prompt_tokens=100, completion_tokens=77, cached_tokens=50, cache_write_tokens=30
    )
    assert translator.done


def test_an_error_event_delivers_what_came_before_then_fails():
    translator = stream()
    error = event("error", error={"type": "overloaded_error", "message": "Overloaded"})
    events = translator.feed(START + TEXT_BLOCK + text_delta("Hel") + error + text_delta("lo"))

    assert chunks(events)[-1]["choices"][0]["delta"] == {"content": "Hel"}
    assert isinstance(translator.failure, UpstreamStreamError)
    assert (translator.failure.message, translator.failure.code) == (
        "Overloaded",
        "overloaded_error",
    )
    assert translator.feed(text_delta("more")) == []


def test_malformed_event_is_a_bad_response():
    translator = stream()
    translator.feed(START + b"event: content_block_delta\ndata: {not json\n\n")
    assert isinstance(translator.failure, BadUpstreamResponse)


def test_a_cut_stream_is_not_done_and_its_usage_is_estimated():
    translator = stream()
    translator.feed(START + TEXT_BLOCK + text_delta("Hello"))
    translator.end_of_input()
    assert not translator.done
    assert translator.usage is None
    assert translator.completion_chars == 5


def test_excluded_reasoning_is_counted_but_not_sent():
    identity = ResponseIdentity(IDENTITY.model, IDENTITY.provider, exclude_reasoning=True)
    translator = stream(identity=identity)
    events = translator.feed((FIXTURES / "anthropic" / "thinking_tool.sse").read_bytes())
    sent = orjson.dumps(chunks(events)).decode()
    assert "reasoning" not in sent
    assert "thinking_blocks" not in sent
    assert translator.completion_chars > len(THINKING)


def test_finish_without_usage_asked_is_just_done_and_the_error_event_shape():
    translator = stream(include_usage=False)
    translator.feed(START)
    assert translator.finish() == [b"data: [DONE]\n\n"]
    error = orjson.loads(translator.error_event(message="boom", code="upstream_stream_error")[6:])
    assert error["error"] == {
        "message": "boom",
        "type": "upstream_error",
        "param": None,
        "code": "upstream_stream_error",
    }
    assert error["choices"] == [{"index": 0, "delta": {}, "finish_reason": None}]
    assert "usage" not in error


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded (overloaded_error)",
        ),
        (
            b'{"type":"error","error":{"type":"invalid_request_error",'
            b'"message":"max_tokens: Field required"}}',
            "max_tokens: Field required",
        ),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "upstream answered HTTP 529"),
    ],
)
def test_error_messages(payload, message):
    assert ADAPTER.error_message(status=529, payload=payload) == message


def test_a_streamed_tool_call_without_input_ends_with_empty_json_arguments():
    translator = stream()
    start = event(
        "content_block_start",
        index=0,
        content_block={"type": "tool_use", "id": "t0", "name": "now", "input": {}},
    )
    empty = event(
        "content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": ""}
    )
    events = translator.feed(START + start + empty + event("content_block_stop", index=0))

    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks(events)[1:]]
    arguments = "".join(call["function"].get("arguments", "") for call in calls)
    assert arguments == "{}", "json.loads must work on what the client assembles"


def test_redacted_thinking_reaches_a_streaming_client_to_send_back():
    translator = stream()
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
    events = translator.feed(START + event("content_block_start", index=0, content_block=redacted))

    deltas = [c["choices"][0]["delta"] for c in chunks(events)]
    assert {"thinking_blocks": [redacted]} in deltas
    hidden = stream(identity=ResponseIdentity(model="m", provider="p", exclude_reasoning=True))
    assert "thinking_blocks" not in str(
        chunks(hidden.feed(START + event("content_block_start", index=0, content_block=redacted)))
    )


def test_a_message_delta_without_output_tokens_leaves_the_usage_to_estimate():
    translator = stream()
    translator.feed(START + TEXT_BLOCK + text_delta("ok"))
    translator.feed(event("message_delta", delta={"stop_reason": "end_turn"}, usage={}))
    translator.feed(event("message_stop"))

    assert translator.done
    assert translator.usage is None, "message_start's placeholder output count is not usage"

"""The OpenAI-compatible adapter: stream re-framing edge cases built inline."""

from typing import Any

import orjson
import pytest

from channels.adapters import openai_compat
from channels.adapters.base import (
    BadUpstreamResponse,
    UpstreamStreamError,
)
from core.usage import Usage
from tests.channels.adapters.openai_compat_helpers import (
    SECRET,
    cost,
    emitted,
    generated_text,
    translator,
)

# --- streams: inline edge cases -------------------------------------------------------------


def chunk_event(**fields: Any) -> bytes:
    return b"data: " + orjson.dumps(fields) + b"\n\n"


def delta_chunk(delta: dict[str, Any], finish: Any = None, **fields: Any) -> bytes:
    fields.setdefault("id", "chatcmpl-1")
    fields.setdefault("created", 1700000000)
    return chunk_event(**fields, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])


@pytest.mark.parametrize("include_usage", [True, False])
def test_usage_in_a_content_chunk_is_removed_and_reported_at_the_end(include_usage):
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    stream = translator(include_usage)

    events = stream.feed(delta_chunk({"content": "ok"}, "stop", usage=usage))
    events += stream.feed(b"data: [DONE]\n\n") + stream.finish()

    chunks = emitted(events)
    assert chunks[0].get("usage", "absent") == (None if include_usage else "absent")
    tail = [{**usage, "cost": cost(Usage(3, 2))}] if include_usage else []
    assert [c["usage"] for c in chunks[1:]] == tail


def test_usage_only_chunk_is_held_back_until_finish():
    stream = translator()

    held = stream.feed(
        chunk_event(id="x", choices=[], usage={"prompt_tokens": 1, "completion_tokens": 1})
    )

    assert held == []
    assert stream.usage == Usage(prompt_tokens=1, completion_tokens=1)


def test_stream_without_ids_gets_one_generated_id_and_created():
    stream = translator()
    events = stream.feed(delta_chunk({"role": "assistant"}, id="", created=None))
    events += stream.feed(delta_chunk({"content": "a"}, id="other"))
    events += stream.feed(b"data: [DONE]\n\n") + stream.finish()

    chunks = emitted(events)
    assert len({(c["id"], c["created"]) for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert isinstance(chunks[0]["created"], int)


def test_sse_fields_other_than_data_and_comments_are_ignored():
    data = b': ping\n\nevent: message\nid: 7\nretry: 10\ndata: {"choices": []}\n\n:\n\n'

    (chunk,) = emitted(translator(include_usage=False).feed(data))

    assert (chunk["choices"], chunk["model"], chunk["provider"]) == ([], "acme/chat-large", "acme")


@pytest.mark.parametrize(
    "tail",
    [
        b"data: [DONE]\n\n",
        b"data: [DONE]\n",
        b"data: [DONE]",
        b"data: [DONE]\r",
        b"data:[DONE]\r\n\r\n",
        b"data:  [DONE] \n\n",
    ],
)
def test_done_ends_the_stream_and_later_bytes_are_ignored(tail):
    stream = translator()

    events = stream.feed(delta_chunk({"content": "a"}) + tail)
    events += stream.feed(delta_chunk({"content": "after the end"}))

    assert stream.done
    assert len(events) == 1


def test_a_long_event_may_arrive_in_many_reads_up_to_a_limit(monkeypatch):
    event = delta_chunk({"content": "x" * 5000})
    stream = translator()
    events = []
    for start in range(0, len(event), 7):
        events += stream.feed(event[start : start + 7])

    assert generated_text(emitted(events)) == ["x" * 5000]

    monkeypatch.setattr(openai_compat, "MAX_EVENT_BYTES", 4096)
    endless = translator()
    assert endless.feed(event[:4000]) == []
    assert endless.feed(event[4000:4500]) == []
    assert isinstance(endless.failure, BadUpstreamResponse)
    assert "size limit" in str(endless.failure)


@pytest.mark.parametrize(
    ("upstream", "client"),
    [("stop", "stop"), ("tool_calls", "tool_calls"), ("max_tokens", "length"), ("abort", "stop")],
)
def test_stream_finish_reason_is_standard_and_native_kept(upstream, client):
    (chunk,) = emitted(translator().feed(delta_chunk({}, upstream)))

    assert chunk["choices"][0]["finish_reason"] == client
    assert chunk["choices"][0].get("native_finish_reason", upstream) == upstream


@pytest.mark.parametrize(
    "event",
    [
        b"data: {not json\n\n",
        b"data: [1, 2]\n\n",
        b'data: "text"\n\n',
        b'data: {"id": "x"}\n\n',
        b'data: {"choices": {"0": {}}}\n\n',
        b'data: {"choices": [7]}\n\n',
    ],
)
def test_malformed_events_are_bad_upstream_responses(event):
    stream = translator()

    assert stream.feed(event) == []
    assert isinstance(stream.failure, BadUpstreamResponse)


@pytest.mark.parametrize(
    ("error", "message", "code"),
    [
        ({"message": "Rate limit exceeded", "code": 429}, "Rate limit exceeded", "429"),
        (
            {"message": "overloaded", "type": "server_error", "code": "overloaded"},
            "overloaded",
            "overloaded",
        ),
        ("boom", "boom", None),
        ({"code": "x"}, "the upstream reported an error in its stream", "x"),
        ({"message": f"bad key {SECRET}"}, "bad key [REDACTED]", None),
    ],
)
def test_in_band_errors_are_upstream_stream_errors(error, message, code):
    stream = translator()

    stream.feed(delta_chunk({"content": ""}, error=error))

    assert isinstance(stream.failure, UpstreamStreamError)
    assert (stream.failure.message, stream.failure.code) == (message, code)


@pytest.mark.parametrize("error", [None, {}, "", 0])
def test_falsy_error_fields_are_not_errors(error):
    assert len(translator().feed(delta_chunk({"content": "a"}, error=error))) == 1


def test_completion_chars_count_every_kind_of_generated_text():
    stream = translator()
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    for delta in [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "abc"},
        {"reasoning": "de"},
        {"content": "fgh"},
        {"refusal": "ij"},
        {"tool_calls": [call]},
        {"function_call": {"name": "g", "arguments": "1"}},
    ]:
        stream.feed(delta_chunk(delta))

    assert stream.completion_chars == 3 + 2 + 3 + 2 + 3 + 2

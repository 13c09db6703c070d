"""The OpenAI-compatible adapter: request building, answer stamping and pricing, stream re-framing.

Streams come from `tests/fixtures/*.sse`: real recordings of the fake upstream (re-record with
`python -m tests.channels.adapters.test_openai_compat`) plus two hand-written ones (vLLM usage in
the last content chunk; OpenRouter-style CRLF framing with keep-alive comments).
"""

import copy
import importlib
import importlib.util
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from bench.fake_upstream import fault_model, reply_text, running_fake_upstream
from billing.pricing import Prices, usage_cost
from channels.adapters import adapter_for, openai_compat
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    UpstreamStreamError,
    UpstreamTarget,
    Usage,
)
from channels.adapters.openai_compat import OpenAICompatAdapter
from gateway.estimate import estimate_usage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
IDENTITY = ResponseIdentity(model="acme/chat-large", provider="acme")
PRICES = Prices(input=Decimal("0.15"), output=Decimal("0.6"), cached_input=Decimal("0.075"))
PROMPT_ESTIMATE = 7
METERING = Metering(
    cost=lambda usage: usage_cost(usage, PRICES),
    estimate=lambda chars: estimate_usage(prompt_tokens=PROMPT_ESTIMATE, completion_chars=chars),
)
ADAPTER = adapter_for("openai")
SECRET = "sk-live-AbCdEfGh1234567890abcdefghijkl"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def cost(usage: Usage) -> float:
    return float(usage_cost(usage, PRICES))


# --- the adapter registry -------------------------------------------------------------------


def test_adapter_for_openai_and_unknown_types():
    assert isinstance(adapter_for("openai"), OpenAICompatAdapter)
    with pytest.raises(KeyError, match=r"no adapter for api_type 'cohere' \(known: openai\)"):
        adapter_for("cohere")


# --- build_request --------------------------------------------------------------------------

TARGET = UpstreamTarget(base_url="https://api.example.com/v1", api_key=SECRET, upstream_model="m-7")
BODY = {
    "model": "acme/chat-large",
    "messages": [{"role": "user", "content": "Hi"}],
    "temperature": 0.2,
    "top_k": 40,
    "x_vendor_flag": {"nested": [1, 2]},
}


@pytest.mark.parametrize(
    "base_url",
    ["https://api.example.com/v1", "https://api.example.com/v1/", "https://api.example.com/v1//"],
)
def test_request_url_joins_with_or_without_slash(base_url):
    target = UpstreamTarget(base_url=base_url, api_key="k", upstream_model="m")

    request = ADAPTER.build_request(body=BODY, target=target, stream=False)

    assert request.url == "https://api.example.com/v1/chat/completions"


@pytest.mark.parametrize(
    ("api_key", "headers"),
    [
        (SECRET, {"authorization": f"Bearer {SECRET}", "content-type": "application/json"}),
        ("", {"content-type": "application/json"}),
    ],
)
def test_request_headers_carry_the_key_only_when_set(api_key, headers):
    target = UpstreamTarget(base_url="http://vllm:8000/v1", api_key=api_key, upstream_model="m")

    assert ADAPTER.build_request(body=BODY, target=target, stream=False).headers == headers


@pytest.mark.parametrize(
    ("body", "stream", "expected_stream_fields"),
    [
        (BODY, False, {}),
        (
            {**BODY, "stream": True, "stream_options": {"include_usage": True}},
            False,
            {"stream": False},
        ),
        (BODY, True, {"stream": True, "stream_options": {"include_usage": True}}),
        (
            {**BODY, "stream": True, "stream_options": {"include_usage": False}},
            True,
            {"stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            {**BODY, "stream": True, "stream_options": {"include_obfuscation": False}},
            True,
            {
                "stream": True,
                "stream_options": {"include_obfuscation": False, "include_usage": True},
            },
        ),
    ],
)
def test_request_body_replaces_model_keeps_fields_and_forces_usage(
    body, stream, expected_stream_fields
):
    original = copy.deepcopy(body)

    request = ADAPTER.build_request(body=body, target=TARGET, stream=stream)

    sent = orjson.loads(request.content)
    passthrough = {k: v for k, v in body.items() if k not in {"model", "stream", "stream_options"}}
    assert sent == {**passthrough, "model": "m-7", **expected_stream_fields}
    assert body == original  # the caller's mapping is untouched


# --- translate_response ---------------------------------------------------------------------

UPSTREAM_USAGE = {
    "prompt_tokens": 82,
    "completion_tokens": 17,
    "total_tokens": 99,
    "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 9, "accepted_prediction_tokens": 0},
}


def completion(*, choices=None, usage: Any = UPSTREAM_USAGE, **fields) -> bytes:
    body = {
        "id": "chatcmpl-upstream1",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "m-7",
        "system_fingerprint": "fp_1",
        "choices": choices
        if choices is not None
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        **fields,
    }
    if usage is not ...:
        body["usage"] = usage
    return orjson.dumps(body)


def translate(payload: bytes):
    result = ADAPTER.translate_response(payload=payload, identity=IDENTITY, metering=METERING)
    return result, orjson.loads(result.body)


def test_response_is_stamped_and_priced_with_the_upstream_usage():
    result, body = translate(completion())

    usage = Usage(prompt_tokens=82, completion_tokens=17, cached_tokens=64, reasoning_tokens=9)
    assert (result.usage, result.usage_estimated) == (usage, False)
    assert body["id"] == "chatcmpl-upstream1"
    assert (body["model"], body["provider"]) == ("acme/chat-large", "acme")
    assert body["system_fingerprint"] == "fp_1"
    assert body["usage"] == {**UPSTREAM_USAGE, "cost": cost(usage)}
    assert body["choices"][0]["message"]["content"] == "Hello there"


@pytest.mark.parametrize("upstream_id", [None, "", 42, ...])
def test_response_id_is_generated_when_the_upstream_gives_none(upstream_id):
    fields = {} if upstream_id is ... else {"id": upstream_id}
    raw = orjson.loads(completion())
    raw.pop("id")
    raw.update(fields)

    _, body = translate(orjson.dumps(raw))

    assert body["id"].startswith("chatcmpl-")
    assert len(body["id"]) > len("chatcmpl-") + 8


MESSAGE_TOOL_CALLS = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": '{"a":1}'}},
    ],
}


def choice(index: int, message: dict[str, Any], finish: Any = "stop") -> dict[str, Any]:
    return {"index": index, "message": message, "finish_reason": finish}


@pytest.mark.parametrize(
    ("choices", "completion_chars"),
    [
        ([choice(0, {"role": "assistant", "content": "Hello there"})], 11),
        ([choice(0, MESSAGE_TOOL_CALLS, "tool_calls")], len('get_weather{}get_time{"a":1}')),
        (
            [
                choice(0, {"role": "assistant", "content": "abcd"}),
                choice(1, {"role": "assistant", "content": "efghijkl"}),
            ],
            12,
        ),
        ([choice(0, {"role": "assistant", "content": "ok", "reasoning_content": "think"})], 7),
        ([choice(0, {"role": "assistant", "content": None, "refusal": "I can't"})], 7),
    ],
    ids=["text", "tool-calls", "n=2", "reasoning", "refusal"],
)
@pytest.mark.parametrize("usage", [..., None, {}], ids=["absent", "null", "empty"])
def test_response_without_usage_is_estimated_from_generated_text(choices, completion_chars, usage):
    result, body = translate(completion(choices=choices, usage=usage))

    expected = estimate_usage(prompt_tokens=PROMPT_ESTIMATE, completion_chars=completion_chars)
    assert (result.usage, result.usage_estimated) == (expected, True)
    assert body["usage"] == {
        "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": expected.completion_tokens,
        "total_tokens": expected.prompt_tokens + expected.completion_tokens,
        "cost": cost(expected),
    }
    assert [c["message"] for c in body["choices"]] == [c["message"] for c in choices]


def test_response_with_tool_calls_and_two_choices_keeps_them_in_order():
    choices = [
        choice(0, MESSAGE_TOOL_CALLS, "tool_calls"),
        choice(1, MESSAGE_TOOL_CALLS, "tool_calls"),
    ]

    _, body = translate(completion(choices=choices))

    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][1]["message"]["tool_calls"] == MESSAGE_TOOL_CALLS["tool_calls"]


def test_response_reasoning_is_mirrored_as_reasoning_content():
    message = {"role": "assistant", "content": "4", "reasoning": "2+2"}

    _, body = translate(completion(choices=[choice(0, message)]))

    assert body["choices"][0]["message"]["reasoning_content"] == "2+2"
    assert body["choices"][0]["message"]["reasoning"] == "2+2"


@pytest.mark.parametrize(
    ("upstream", "client"),
    [("stop", "stop"), ("length", "length"), ("max_tokens", "length"), ("abort", "stop")],
)
def test_response_finish_reason_is_standard_and_native_kept(upstream, client):
    _, body = translate(completion(choices=[choice(0, {"content": "x"}, upstream)]))

    assert body["choices"][0]["finish_reason"] == client
    if upstream != client:
        assert body["choices"][0]["native_finish_reason"] == upstream


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b'{"id": "x", "choices": ',
        b"[]",
        b'"text"',
        b'{"id": "x"}',
        b'{"choices": {"0": {}}}',
        b'{"choices": ["hello"]}',
        b'{"error": {"message": "overloaded", "code": 529}}',
    ],
)
def test_garbled_answers_are_bad_upstream_responses(payload):
    with pytest.raises(BadUpstreamResponse):
        translate(payload)


# --- error_message --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (
            429,
            b'{"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}',
            "Rate limit reached",
        ),
        (404, b'{"error": {"code": 404, "message": "No endpoints found"}}', "No endpoints found"),
        (400, b'{"error": "model is required"}', "model is required"),
        (500, b'{"message": "Internal failure", "status": 500}', "Internal failure"),
        (502, b"<html>bad gateway</html>", "<html>bad gateway</html>"),
        (503, b"x" * 1000, "x" * 300),
        (500, b'{"error": {"message": ""}}', '{"error": {"message": ""}}'),
        (503, b"", "upstream answered HTTP 503"),
        (504, b"  \n", "upstream answered HTTP 504"),
    ],
)
def test_error_message_reads_the_envelope_or_the_body(status, payload, message):
    assert ADAPTER.error_message(status=status, payload=payload) == message


@pytest.mark.parametrize(
    "payload",
    [
        f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}'.encode(),
        f"invalid key {SECRET}".encode(),
    ],
)
def test_error_message_never_echoes_a_credential(payload):
    message = ADAPTER.error_message(status=401, payload=payload)

    assert SECRET not in message
    assert "[REDACTED]" in message


# --- streams: reading recorded fixtures -----------------------------------------------------


def translator(include_usage: bool = True) -> StreamTranslator:
    return ADAPTER.stream_translator(
        identity=IDENTITY, include_usage=include_usage, metering=METERING
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def relay(pieces, include_usage: bool = True):
    """Feed pieces like the relay does; return (events, error, translator), finishing on [DONE]."""
    stream = translator(include_usage)
    events: list[bytes] = []
    for piece in pieces:
        events += stream.feed(piece)
        if stream.failure is not None:
            return events, stream.failure, stream
    if stream.done:
        events += stream.finish()
    return events, None, stream


def read_sse(stream: bytes) -> list[str]:
    """A plain SSE reader: the `data` of each event."""
    assert not stream or stream.endswith(b"\n\n")
    payloads = []
    for event in stream.decode().split("\n\n")[:-1]:
        lines = event.split("\n")
        assert len(lines) == 1, event
        assert lines[0].startswith("data: "), event
        payloads.append(lines[0][len("data: ") :])
    return payloads


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 40))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.sse"))
SPLITTERS = {
    "byte-by-byte": byte_by_byte,
    **{f"random-{seed}": (lambda data, seed=seed: random_splits(data, seed)) for seed in range(5)},
    "at-every-event": lambda data: [e + b"\n\n" for e in data.split(b"\n\n")],
}


def test_every_fixture_is_covered():
    assert set(ALL_FIXTURES) == set(STREAMS)


@pytest.mark.parametrize("name", ALL_FIXTURES)
@pytest.mark.parametrize("splitter", list(SPLITTERS))
@pytest.mark.parametrize("include_usage", [True, False])
def test_awkward_splits_produce_the_same_events_as_one_feed(name, splitter, include_usage):
    data = fixture(name)
    whole_events, whole_error, whole = relay([data], include_usage)

    events, error, split = relay(SPLITTERS[splitter](data), include_usage)

    assert type(error) is type(whole_error)
    assert (split.done, split.usage, split.completion_chars) == (
        whole.done,
        whole.usage,
        whole.completion_chars,
    )
    assert events == whole_events
    assert split.content_started == whole.content_started


def test_a_failing_read_delivers_the_events_before_the_failure_and_ends_the_stream():
    stream = translator()

    events = stream.feed(fixture("error.sse"))

    assert isinstance(stream.failure, UpstreamStreamError)
    assert events
    assert stream.content_started == any(has_content(chunk) for chunk in emitted(events))
    assert stream.feed(fixture("plain_usage.sse")) == []


def has_content(chunk: dict[str, Any]) -> bool:
    return any(
        c["finish_reason"] is not None
        or any(c["delta"].get(key) for key in ("content", "reasoning_content", "tool_calls"))
        for c in chunk["choices"]
    )


# What each recording must read as: the text (or tool-call arguments) per choice, the upstream
# usage if it reported one, and how the stream ends.
STREAMS: dict[str, dict[str, Any]] = {
    "plain_usage.sse": {
        "texts": [reply_text(20)],
        "usage": Usage(prompt_tokens=5, completion_tokens=20),
        "end": "done",
    },
    "plain_no_usage.sse": {"texts": [reply_text(20)], "usage": None, "end": "done"},
    "tool_call.sse": {
        "texts": ['get_weather{"city":"test"}'],
        "usage": Usage(prompt_tokens=5, completion_tokens=10),
        "end": "done",
    },
    "n2.sse": {
        "texts": [reply_text(5, 0), reply_text(5, 1)],
        "usage": Usage(prompt_tokens=5, completion_tokens=10),
        "end": "done",
    },
    "vllm_usage_in_last_chunk.sse": {
        "texts": ["The user greets. Reply briefly.Hi there!"],
        "usage": Usage(
            prompt_tokens=12, completion_tokens=18, cached_tokens=8, reasoning_tokens=11
        ),
        "end": "done",
    },
    "crlf_keepalive.sse": {
        "texts": ["Bonjour le monde"],
        "usage": Usage(prompt_tokens=10, completion_tokens=4),
        "end": "done",
    },
    "cut.sse": {"texts": [reply_text(5)], "usage": None, "end": "cut"},
    "malformed.sse": {"texts": [reply_text(3)], "usage": None, "end": BadUpstreamResponse},
    "error.sse": {"texts": [reply_text(3)], "usage": None, "end": UpstreamStreamError},
}


def generated_text(chunks: list[dict[str, Any]]) -> list[str]:
    texts: dict[int, str] = {}
    for chunk in chunks:
        for item in chunk["choices"]:
            delta = item["delta"]
            text = (delta.get("reasoning_content") or "") + (delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                text += call["function"].get("name", "") + call["function"].get("arguments", "")
            texts[item["index"]] = texts.get(item["index"], "") + text
    return [texts[index] for index in sorted(texts)]


@pytest.mark.parametrize("name", ALL_FIXTURES)
@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_output_is_clean_openai_sse(name, include_usage):
    expected = STREAMS[name]
    events, error, stream = relay(SPLITTERS["at-every-event"](fixture(name)), include_usage)

    payloads = read_sse(b"".join(events))
    if expected["end"] == "done":
        assert error is None
        assert stream.done
        assert payloads.count("[DONE]") == 1
        assert payloads[-1] == "[DONE]"
        payloads.pop()
    elif expected["end"] == "cut":
        assert error is None
        assert not stream.done
        assert "[DONE]" not in payloads
    else:
        assert isinstance(error, expected["end"])
        assert "[DONE]" not in payloads
    chunks = [orjson.loads(payload) for payload in payloads]
    assert {(c["id"], c["created"], c["model"], c["provider"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "acme/chat-large", "acme")
    }
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert not any(c.get("error") for c in chunks)
    usage_chunks = [c for c in chunks if not c["choices"]]
    if include_usage and expected["end"] == "done":
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1]["usage"]["cost"] > 0
    else:
        assert usage_chunks == []
    content_chunks = [c for c in chunks if c["choices"]]
    if include_usage:
        assert all("usage" in c and c["usage"] is None for c in content_chunks)
    else:
        assert not any("usage" in c for c in content_chunks)
    assert generated_text(chunks) == expected["texts"]


@pytest.mark.parametrize("name", [name for name, s in STREAMS.items() if s["end"] == "done"])
def test_usage_chunk_is_the_upstreams_priced_or_an_estimate(name):
    expected = STREAMS[name]["usage"]
    events, _, stream = relay([fixture(name)])

    reported = orjson.loads(events[-2][len(b"data: ") :])["usage"]
    assert stream.usage == expected
    if expected is None:
        estimate = estimate_usage(
            prompt_tokens=PROMPT_ESTIMATE, completion_chars=stream.completion_chars
        )
        assert stream.completion_chars == len(reply_text(20))
        assert reported == {
            "prompt_tokens": PROMPT_ESTIMATE,
            "completion_tokens": estimate.completion_tokens,
            "total_tokens": PROMPT_ESTIMATE + estimate.completion_tokens,
            "cost": cost(estimate),
        }
    else:
        assert reported["cost"] == cost(expected)
        assert reported["prompt_tokens"] == expected.prompt_tokens
        assert reported["completion_tokens"] == expected.completion_tokens
        assert "prompt_tokens_details" in reported  # every upstream field is kept


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_usage_is_tracked_even_when_the_client_did_not_ask(name):
    _, _, stream = relay([fixture(name)], include_usage=False)

    assert stream.usage == STREAMS[name]["usage"]


@pytest.mark.parametrize(
    ("name", "first_content_event"),
    [
        ("plain_usage.sse", 1),  # event 0 is the role chunk with content ""
        ("n2.sse", 2),  # one role chunk per choice
        ("tool_call.sse", 0),  # the role chunk already names the function
        ("vllm_usage_in_last_chunk.sse", 1),  # reasoning counts as content
        ("crlf_keepalive.sse", 1),
    ],
)
def test_commit_point_is_the_first_content_not_the_role_chunk(name, first_content_event):
    stream = translator()
    started = []
    for event in fixture(name).replace(b"\r\n", b"\n").split(b"\n\n"):
        if stream.feed(event + b"\n\n"):
            started.append(stream.content_started)

    assert started.index(True) == first_content_event
    assert all(started[first_content_event:])


# --- streams: inline edge cases -------------------------------------------------------------


def chunk_event(**fields: Any) -> bytes:
    return b"data: " + orjson.dumps(fields) + b"\n\n"


def delta_chunk(delta: dict[str, Any], finish: Any = None, **fields: Any) -> bytes:
    fields.setdefault("id", "chatcmpl-1")
    fields.setdefault("created", 1700000000)
    return chunk_event(**fields, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])


def emitted(events: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(p) for p in read_sse(b"".join(events)) if p != "[DONE]"]


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


# --- error_event and the OpenAI SDK ---------------------------------------------------------


# openai-python 3.x runs on the httpx2 fork; older versions on httpx.
SDK_HTTPX = importlib.import_module("httpx2" if importlib.util.find_spec("httpx2") else "httpx")


def sdk_stream(body: bytes):
    """The OpenAI SDK streaming `body` as if the gateway had answered it."""

    def answer(request: Any) -> Any:
        return SDK_HTTPX.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        http_client=SDK_HTTPX.Client(transport=SDK_HTTPX.MockTransport(answer)),
        max_retries=0,
    )
    return client.chat.completions.create(model="acme/chat-large", messages=[], stream=True)


def test_error_event_shape_and_the_sdk_raises_on_it():
    stream = translator()
    events = stream.feed(fixture("cut.sse"))
    first = emitted(events)[0]

    event = stream.error_event(message="upstream disconnected", code="upstream_stream_error")

    assert event.startswith(b"data: ")
    assert event.endswith(b"\n\n")
    assert event.count(b"\n") == 2
    assert orjson.loads(event[len(b"data: ") :]) == {
        "id": first["id"],
        "object": "chat.completion.chunk",
        "created": first["created"],
        "model": "acme/chat-large",
        "provider": "acme",
        "error": {
            "message": "upstream disconnected",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_stream_error",
        },
        "choices": [{"index": 0, "delta": {}, "finish_reason": None}],
    }
    with pytest.raises(openai.APIError, match="upstream disconnected") as raised:
        list(sdk_stream(b"".join(events) + event + b"data: [DONE]\n\n"))
    assert raised.value.code == "upstream_stream_error"


def test_error_event_before_any_chunk_has_an_id():
    chunk = orjson.loads(translator().error_event(message="m", code="c")[6:])

    assert chunk["id"].startswith("chatcmpl-")
    assert isinstance(chunk["created"], int)


@pytest.mark.parametrize("name", ["plain_usage.sse", "tool_call.sse", "n2.sse"])
def test_the_openai_sdk_reads_the_relayed_stream(name):
    events, _, _ = relay([fixture(name)])

    chunks = list(sdk_stream(b"".join(events)))

    assert {(c.model, c.model_extra["provider"]) for c in chunks} == {("acme/chat-large", "acme")}
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    text = [
        "".join(
            (c.choices[0].delta.content or "")
            + "".join(t.function.arguments or "" for t in c.choices[0].delta.tool_calls or [])
            for c in chunks
            if c.choices and c.choices[0].index == index
        )
        for index in range(len(STREAMS[name]["texts"]))
    ]
    assert text == [t.removeprefix("get_weather") for t in STREAMS[name]["texts"]]


# --- live: the fake upstream through a real socket ------------------------------------------


def test_live_stream_from_the_fake_upstream():
    target_body = {"messages": [{"role": "user", "content": "Say hello"}]}
    with running_fake_upstream(api_key="sk-fake-upstream") as upstream:
        target = UpstreamTarget(
            base_url=upstream.base_url,
            api_key="sk-fake-upstream",
            upstream_model=fault_model("gpt-4o-mini", words=12),
        )
        request = ADAPTER.build_request(body=target_body, target=target, stream=True)
        stream = translator(include_usage=False)
        events: list[bytes] = []
        with (
            httpx.Client() as client,
            client.stream(
                "POST", request.url, headers=request.headers, content=request.content
            ) as r,
        ):
            for piece in r.iter_raw():
                events += stream.feed(piece)

    assert stream.done
    assert stream.usage == Usage(prompt_tokens=5, completion_tokens=12)
    assert generated_text(emitted(events)) == [reply_text(12)]


# --- re-recording the fixtures --------------------------------------------------------------

RECORDINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain_usage.sse": ({"words": 20}, {"stream_options": {"include_usage": True}}),
    "plain_no_usage.sse": ({"words": 20}, {}),
    "tool_call.sse": ({}, {"tools": [WEATHER_TOOL], "stream_options": {"include_usage": True}}),
    "n2.sse": ({"words": 5}, {"n": 2, "stream_options": {"include_usage": True}}),
    "cut.sse": ({"words": 20, "cut_after": 6}, {"stream_options": {"include_usage": True}}),
    "malformed.sse": ({"malformed_after": 4}, {"stream_options": {"include_usage": True}}),
    "error.sse": ({"error_after": 4}, {"stream_options": {"include_usage": True}}),
}


def record_fixtures(directory: Path = FIXTURES) -> None:
    """Record the fake upstream's raw stream bytes for every entry of RECORDINGS."""
    with running_fake_upstream() as upstream, httpx.Client(timeout=10) as client:
        for name, (fault, extra) in RECORDINGS.items():
            body = {
                "model": fault_model("gpt-4o-mini", **fault),
                "stream": True,
                "messages": [{"role": "user", "content": "Say hello"}],
                **extra,
            }
            data = b""
            url = f"{upstream.base_url}/chat/completions"
            with client.stream("POST", url, json=body) as response:
                try:
                    for piece in response.iter_raw():
                        data += piece
                except httpx.RemoteProtocolError:
                    pass  # the cut stream
            (directory / name).write_bytes(data)


if __name__ == "__main__":
    record_fixtures()

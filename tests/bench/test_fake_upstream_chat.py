"""The fake upstream over real HTTP: directive grammar, non-streaming and streaming answers."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.fake_upstream import (
    Fault,
    FaultDirectiveError,
    count_prompt_tokens,
    fault_model,
    parse_fault,
    reply_text,
    split_model,
)
from bench.fake_upstream.faults import request_fault
from tests.bench.fake_upstream_helpers import (
    MESSAGES,
    PROMPT_TOKENS,
    TIME_TOOL,
    WEATHER_TOOL,
    chat,
    chunks_of,
    stream_body,
    timed_events,
)

# The shared fixtures, defined once in the helper module.

# --- directive grammar ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Fault()),
        ("status=429;retry_after=2", Fault(status=429, retry_after=2.0)),
        (" latency_ms = 5 ; ttft_ms=7 ;", Fault(latency_ms=5, ttft_ms=7)),
        ("stall_after=3", Fault(stall_after=3, stall_ms=-1)),
        ("stall_after=0;stall_ms=50", Fault(stall_after=0, stall_ms=50)),
        ("cut_after=2;malformed_after=1", Fault(cut_after=2, malformed_after=1)),
        ("error_after=4;no_usage=1;echo=true", Fault(error_after=4, no_usage=True, echo=True)),
        ("words=0;chunk_delay_ms=9;drop=0", Fault(words=0, chunk_delay_ms=9)),
        ("drop=1;latency_ms=3", Fault(drop=True, latency_ms=3)),
        ("prompt_tokens=bytes", Fault(prompt_tokens="bytes")),
    ],
)
def test_parse_fault_accepts_the_grammar(text: str, expected: Fault) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("statsu=429", "unknown fault option 'statsu'"),
        ("status", "is not key=value"),
        ("status=", "is not key=value"),
        ("status=abc", "is not an integer"),
        ("status=200", "outside 400..599"),
        ("words=-1", "outside 0"),
        ("no_usage=maybe", "is not a boolean"),
        ("retry_after=soon;status=429", "is not a number"),
        ("retry_after=2", "retry_after requires status"),
        ("stall_ms=10", "stall_ms requires stall_after"),
        ("status=429;status=500", "given twice"),
        ("prompt_tokens=chars", "is not one of bytes, words"),
    ],
)
def test_parse_fault_rejects_typos_loudly(text: str, message: str) -> None:
    with pytest.raises(FaultDirectiveError, match=message):
        parse_fault(text)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", ("gpt-4o-mini", "")),
        ("gpt-4o-mini@status=500", ("gpt-4o-mini", "status=500")),
        ("claude@20240620@words=2", ("claude@20240620", "words=2")),
    ],
)
def test_split_model_uses_the_last_at(model: str, expected: tuple[str, str]) -> None:
    assert split_model(model) == expected


def test_fault_model_builds_and_validates_model_names() -> None:
    assert fault_model("gpt-4o-mini", status=503) == "gpt-4o-mini@status=503"
    assert fault_model("m", status=429, retry_after=2.5, no_usage=True, cut_after=None) == (
        "m@status=429;retry_after=2.5;no_usage=1"
    )
    assert fault_model("m") == "m"
    with pytest.raises(FaultDirectiveError, match="unknown fault option 'lateny_ms'"):
        fault_model("m", lateny_ms=5)


def test_header_directive_overrides_model_directive() -> None:
    assert request_fault("status=500;words=2", "status=503") == Fault(status=503, words=2)


def test_prompt_token_rule() -> None:
    assert count_prompt_tokens(MESSAGES) == PROMPT_TOKENS
    assert reply_text(10) == "Hello from the fake upstream, this is deterministic. Hello from"


# --- non-streaming -------------------------------------------------------------------------


def test_non_stream_completion_is_a_full_chat_completion(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat(fault_model("gpt-4o-mini", words=8)))

    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": reply_text(8), "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (PROMPT_TOKENS, 8)
    assert usage["total_tokens"] == PROMPT_TOKENS + 8
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_non_stream_honours_n_words_and_max_tokens(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat("m@words=5", n=3)).json()
    assert [c["message"]["content"] for c in body["choices"]] == [
        reply_text(5, i) for i in range(3)
    ]
    assert body["usage"]["completion_tokens"] == 15

    body = client.post("/chat/completions", json=chat(max_tokens=3)).json()
    assert body["choices"][0]["message"]["content"] == reply_text(3)
    assert body["choices"][0]["finish_reason"] == "length"

    body = client.post("/chat/completions", json=chat(max_completion_tokens=2, n=2)).json()
    assert [c["message"]["content"] for c in body["choices"]] == [reply_text(2, i) for i in (0, 1)]
    assert {c["finish_reason"] for c in body["choices"]} == {"length"}
    assert body["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_tokens_can_be_counted_in_bytes(client: httpx.Client, stream: bool) -> None:
    messages = [{"role": "user", "content": "héllo wörld 汉字"}]  # 3 words, 20 bytes
    body = chat("m@prompt_tokens=bytes", messages=messages)
    if stream:
        body = stream_body("m@prompt_tokens=bytes", messages=messages)
        usage = chunks_of(client.post("/chat/completions", json=body).text)[-1]["usage"]
    else:
        usage = client.post("/chat/completions", json=body).json()["usage"]

    assert usage["prompt_tokens"] == 3 + 20
    assert count_prompt_tokens(messages) == 3 + 3


def test_echo_and_no_usage(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat("m@echo=1;no_usage=1")).json()
    assert body["choices"][0]["message"]["content"] == "What is the weather"
    assert "usage" not in body


def test_non_stream_tool_calls(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(tools=[WEATHER_TOOL, TIME_TOOL])).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"test","days":1}'}

    named = {"type": "function", "function": {"name": "get_time"}}
    request = chat(tools=[WEATHER_TOOL, TIME_TOOL], tool_choice=named)
    message = client.post("/chat/completions", json=request).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"] == {"name": "get_time", "arguments": "{}"}

    request = chat(tools=[WEATHER_TOOL], tool_choice="none")
    message = client.post("/chat/completions", json=request).json()["choices"][0]["message"]
    assert message["content"] == reply_text(8)

    unknown = {"type": "function", "function": {"name": "nope"}}
    response = client.post(
        "/chat/completions", json=chat(tools=[WEATHER_TOOL], tool_choice=unknown)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_choice"


# --- streaming -----------------------------------------------------------------------------


def test_stream_with_include_usage_follows_the_protocol(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=stream_body(fault_model("gpt-4o-mini", words=4))
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = chunks_of(response.text)
    assert len(chunks) == 1 + 4 + 1 + 1
    assert {(c["id"], c["created"], c["model"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "gpt-4o-mini")
    }
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[1:5]) == reply_text(4)
    assert chunks[5]["choices"][0]["delta"] == {}
    assert chunks[5]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_stream_without_include_usage_sends_no_usage(client: httpx.Client) -> None:
    chunks = chunks_of(client.post("/chat/completions", json=stream_body(usage=False)).text)
    assert len(chunks) == 1 + 8 + 1
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_no_usage_fault_drops_the_usage_chunk(client: httpx.Client) -> None:
    chunks = chunks_of(client.post("/chat/completions", json=stream_body("m@no_usage=1")).text)
    assert all(c["usage"] is None for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_n_gives_every_index_a_role_content_and_finish(client: httpx.Client) -> None:
    chunks = chunks_of(client.post("/chat/completions", json=stream_body("m@words=3", n=2)).text)
    *choice_chunks, usage_chunk = chunks
    for index in range(2):
        mine = [c["choices"][0] for c in choice_chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"
        assert sum("role" in c["delta"] for c in mine) == 1
        assert "".join(c["delta"].get("content", "") for c in mine) == reply_text(3, index)
        assert [c["finish_reason"] for c in mine][-1] == "stop"
        assert sum(c["finish_reason"] is not None for c in mine) == 1
    assert usage_chunk["usage"]["completion_tokens"] == 6


def test_stream_tool_call_fragments(client: httpx.Client) -> None:
    body = stream_body(tools=[WEATHER_TOOL])
    chunks = chunks_of(client.post("/chat/completions", json=body).text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    first, *rest, finish = deltas
    assert first["role"] == "assistant"
    [head] = first["tool_calls"]
    assert head["index"] == 0
    assert head["id"].startswith("call_")
    assert head["type"] == "function"
    assert head["function"] == {"name": "get_weather", "arguments": ""}
    assert len(rest) >= 2
    assert all(d["tool_calls"][0].keys() == {"index", "function"} for d in rest)
    assert all(d["tool_calls"][0]["function"].keys() == {"arguments"} for d in rest)
    arguments = "".join(d["tool_calls"][0]["function"]["arguments"] for d in rest)
    assert json.loads(arguments) == {"city": "test", "days": 1}
    assert finish == {}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_words_and_chunk_delay_pace_the_stream(client: httpx.Client) -> None:
    events = timed_events(client, stream_body("m@words=3;chunk_delay_ms=100", usage=False))
    contents = [json.loads(data)["choices"][0]["delta"] for _, data in events[1:4]]
    assert [d["content"] for d in contents] == ["Hello", " from", " the"]
    assert events[3][0] - events[1][0] >= 0.18

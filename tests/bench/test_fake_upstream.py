"""The fake upstream, exercised through real HTTP (httpx and the official openai SDK)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import httpx
import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolUnionParam,
)

from bench.fake_upstream import (
    FAULT_HEADER,
    FakeUpstream,
    Fault,
    FaultDirectiveError,
    count_prompt_tokens,
    fault_model,
    parse_fault,
    reply_text,
    running_fake_upstream,
    split_model,
)
from bench.fake_upstream.faults import request_fault

REPO_ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "What is the weather"}]},
]
PROMPT_TOKENS = 2 * 3 + 2 + 4
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time"}}
SDK_MESSAGES = cast("list[ChatCompletionMessageParam]", MESSAGES)
SDK_TOOLS = cast("list[ChatCompletionToolUnionParam]", [WEATHER_TOOL])


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as up:
        yield up


@pytest.fixture
def client(upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=upstream.base_url, timeout=10) as http:
        yield http


def chat(model: str = "gpt-4o-mini", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **fields}


def stream_body(model: str = "gpt-4o-mini", usage: bool = True, **fields: Any) -> dict[str, Any]:
    return chat(model, stream=True, stream_options={"include_usage": usage}, **fields)


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def chunks_of(text: str) -> list[dict[str, Any]]:
    data = sse_data(text)
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def timed_events(client: httpx.Client, body: dict[str, Any]) -> list[tuple[float, str]]:
    start = time.monotonic()
    with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        return [
            (time.monotonic() - start, line[6:])
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]


def wait_for_outcome(upstream: FakeUpstream, expected: str) -> None:
    deadline = time.monotonic() + 5
    while upstream.requests[-1]["outcome"] != expected:
        assert time.monotonic() < deadline, upstream.requests[-1]["outcome"]
        time.sleep(0.01)


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


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_request"),
        (401, "invalid_api_key"),
        (403, "permission_denied"),
        (404, "model_not_found"),
        (408, "request_timeout"),
        (409, "conflict"),
        (413, "request_too_large"),
        (422, "unprocessable_entity"),
        (429, "rate_limit_exceeded"),
        (500, "internal_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
        (529, "overloaded"),
    ],
)
def test_status_fault_answers_an_error_envelope(
    client: httpx.Client, status: int, code: str
) -> None:
    response = client.post("/chat/completions", json=stream_body(fault_model("m", status=status)))

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error.keys() == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert "retry-after" not in response.headers


def test_retry_after_header_and_header_directive(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat(), headers={FAULT_HEADER: "status=429;retry_after=2"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("stream", [False, True])
def test_latency_delays_the_response_headers(client: httpx.Client, stream: bool) -> None:
    start = time.monotonic()
    with client.stream("POST", "/chat/completions", json=chat("m@latency_ms=200", stream=stream)):
        assert time.monotonic() - start >= 0.18


def test_ttft_delays_the_first_chunk(client: httpx.Client) -> None:
    events = timed_events(client, stream_body("m@ttft_ms=200"))
    assert events[0][0] >= 0.18
    assert events[-1][1] == "[DONE]"


def test_stall_pauses_after_k_chunks(client: httpx.Client) -> None:
    events = timed_events(client, stream_body("m@stall_after=2;stall_ms=200"))
    assert events[2][0] - events[1][0] >= 0.18
    assert events[-1][1] == "[DONE]"


def test_endless_stall_holds_until_the_client_leaves(upstream: FakeUpstream) -> None:
    with (
        httpx.Client(base_url=upstream.base_url, timeout=httpx.Timeout(5, read=0.3)) as http,
        http.stream("POST", "/chat/completions", json=stream_body("m@stall_after=1")) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        with pytest.raises(httpx.ReadTimeout):
            list(lines)
    wait_for_outcome(upstream, "client_disconnected")


def test_cut_closes_the_connection_without_done(
    client: httpx.Client, upstream: FakeUpstream
) -> None:
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=stream_body("m@cut_after=2")) as response,
    ):
        received.extend(line for line in response.iter_lines() if line.startswith("data: "))
    assert len(received) == 2
    assert upstream.requests[-1]["outcome"] == "cut"


@pytest.mark.parametrize("stream", [False, True])
def test_drop_closes_the_connection_before_any_response(
    client: httpx.Client, upstream: FakeUpstream, stream: bool
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat("m@drop=1", stream=stream))
    assert upstream.requests[-1]["outcome"] == "dropped"


def test_malformed_chunk_then_the_stream_goes_on(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=stream_body("m@malformed_after=1;words=2"))
    data = sse_data(response.text)
    assert data[1] == "{not json"
    assert json.loads(data[2])["choices"][0]["delta"]["content"] == "Hello"
    assert data[-1] == "[DONE]"


def test_error_after_sends_an_in_band_error_and_ends(client: httpx.Client) -> None:
    data = sse_data(client.post("/chat/completions", json=stream_body("m@error_after=2")).text)
    assert len(data) == 3
    assert json.loads(data[2])["error"]["code"] == "fake_stream_error"


@pytest.mark.parametrize(
    ("model", "headers"),
    [("m@statsu=500", {}), ("m@latency_ms=fast", {}), ("m", {FAULT_HEADER: "cut=1"})],
)
def test_bad_directives_are_400(client: httpx.Client, model: str, headers: dict[str, str]) -> None:
    response = client.post("/chat/completions", json=chat(model), headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_fault_directive"
    assert error["message"].startswith("Invalid fault directive: ")


@pytest.mark.parametrize(
    ("body", "param"),
    [({"model": "m"}, "messages"), ({"messages": MESSAGES}, "model"), (chat(n=0), "n")],
)
def test_invalid_requests_are_400(client: httpx.Client, body: dict[str, Any], param: str) -> None:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# --- auth, models, introspection -----------------------------------------------------------


def test_api_key_is_enforced() -> None:
    with running_fake_upstream(api_key="sk-fake") as up, httpx.Client(base_url=up.url) as http:
        for headers in ({}, {"Authorization": "Bearer sk-wrong"}):
            response = http.post("/v1/chat/completions", json=chat(), headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_api_key"
        assert http.get("/v1/models").status_code == 401
        good = {"Authorization": "Bearer sk-fake"}
        assert http.post("/v1/chat/completions", json=chat(), headers=good).status_code == 200
        assert http.get("/_fake/health").json() == {"ok": True}
        assert [r["headers"].get("authorization") for r in up.requests] == [
            None,
            "Bearer sk-wrong",
            None,
            "Bearer sk-fake",
        ]


def test_models_endpoints(client: httpx.Client) -> None:
    listing = client.get("/models").json()
    assert listing["object"] == "list"
    assert "gpt-4o-mini" in [m["id"] for m in listing["data"]]
    assert all(m.keys() == {"id", "object", "created", "owned_by"} for m in listing["data"])
    assert client.get("/models/anything").json()["id"] == "anything"
    assert client.get("/models", headers={FAULT_HEADER: "status=503"}).status_code == 503
    assert client.get("/nope").json()["error"]["code"] == "unknown_url"


def test_requests_are_recorded_and_cleared(upstream: FakeUpstream) -> None:
    with httpx.Client(base_url=upstream.url) as http:
        assert http.delete("/_fake/requests").json() == {"ok": True}
        http.post("/v1/chat/completions", json=chat("m@words=1"), headers={"X-Trace": "t1"})
        http.post("/v1/chat/completions", content=b"{broken")
        recorded = http.get("/_fake/requests").json()
        assert recorded == upstream.requests
        first, second = recorded
        assert (first["method"], first["path"], first["outcome"]) == (
            "POST",
            "/v1/chat/completions",
            "ok",
        )
        assert first["headers"]["x-trace"] == "t1"
        assert first["body"]["model"] == "m@words=1"
        assert (second["body"], second["outcome"]) == ("{broken", "error")
        upstream.clear_requests()
        assert http.get("/_fake/requests").json() == []


def test_request_log_keeps_the_most_recent() -> None:
    with running_fake_upstream(max_requests=3) as up, httpx.Client(base_url=up.base_url) as http:
        for index in range(5):
            http.get("/models", params={"i": index})
        assert [r["query"] for r in up.requests] == ["i=2", "i=3", "i=4"]


def test_many_concurrent_paced_streams(upstream: FakeUpstream) -> None:
    async def one(session: aiohttp.ClientSession) -> str:
        body = stream_body("m@words=3;chunk_delay_ms=100")
        async with session.post(f"{upstream.base_url}/chat/completions", json=body) as response:
            return await response.text()

    async def run() -> list[str]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await asyncio.gather(*(one(session) for _ in range(500)))

    texts = asyncio.run(run())
    assert all(sse_data(text)[-1] == "[DONE]" for text in texts)


# --- the official SDK ----------------------------------------------------------------------


@pytest.fixture
def sdk(upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.base_url, api_key="sk-fake", max_retries=0)


def test_sdk_non_stream(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=2)  # type: ignore[arg-type]
    assert [c.message.content for c in completion.choices] == [reply_text(8, i) for i in range(2)]
    assert completion.usage is not None
    assert completion.usage.total_tokens == PROMPT_TOKENS + 16


def test_sdk_stream(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="m@words=5",
        messages=SDK_MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply_text(5)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5


def test_sdk_tool_call_stream_helper_accumulates(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
        model="gpt-4o-mini",
        messages=SDK_MESSAGES,
        tools=SDK_TOOLS,
    ) as stream:
        completion = stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "test", "days": 1}


def test_sdk_error_status_and_retry_after(sdk: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model=fault_model("m", status=429), messages=SDK_MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"

    upstream.clear_requests()
    retrying = sdk.with_options(max_retries=1)
    with pytest.raises(openai.InternalServerError):
        retrying.chat.completions.create(
            model=fault_model("m", status=503, retry_after=0.05),
            messages=SDK_MESSAGES,
        )
    assert len(upstream.requests) == 2


# --- command line --------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_command_line_serves_and_exits_cleanly(signum: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--port", "0", "--api-key", "sk-cli"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("fake upstream listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(f"{url}/_fake/health").json() == {"ok": True}
        assert httpx.get(f"{url}/v1/models").status_code == 401
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()

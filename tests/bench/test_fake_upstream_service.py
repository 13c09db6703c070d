"""The fake upstream: auth, models, introspection, the official openai SDK, the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import aiohttp
import httpx
import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
)

from bench.fake_upstream import (
    FAULT_HEADER,
    FakeUpstream,
    fault_model,
    reply_text,
    running_fake_upstream,
)
from tests.bench.fake_upstream_helpers import (
    MESSAGES,
    PROMPT_TOKENS,
    REPO_ROOT,
    SDK_MESSAGES,
    SDK_TOOLS,
    chat,
    sse_data,
    stream_body,
)

# The shared fixtures, defined once in the helper module.

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

"""Shared fixtures and helpers for the fake upstream tests (a running server, an httpx client)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

import httpx
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolUnionParam,
)

from bench.fake_upstream import (
    FakeUpstream,
)

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

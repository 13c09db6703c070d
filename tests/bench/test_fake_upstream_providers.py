"""The fake upstream's Anthropic and Gemini dialects over real HTTP: answers, streams, the
protocols' own checks and error envelopes, and the same fault directives as the OpenAI one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.fake_upstream import FakeUpstream, fault_model, reply_text, running_fake_upstream

KEY = "fake-provider-key"
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
GEMINI_HEADERS = {"x-goog-api-key": KEY}
USER = {"role": "user", "content": [{"type": "text", "text": "Say hi"}]}
TOOL = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=KEY) as up:
        yield up


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=upstream.url, timeout=10) as client:
        yield client


def messages(http: httpx.Client, model: str = "claude", **body: Any) -> httpx.Response:
    payload = {"model": model, "max_tokens": 100, "messages": [USER], **body}
    return http.post("/v1/messages", json=payload, headers=ANTHROPIC_HEADERS)


def generate(
    http: httpx.Client, model: str = "gemini", stream: bool = False, **body: Any
) -> httpx.Response:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    payload = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}], **body}
    return http.post(f"/v1beta/models/{model}:{method}", json=payload, headers=GEMINI_HEADERS)


def named_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_anthropic_message_with_thinking_and_usage(http):
    response = messages(
        http,
        model=fault_model("claude", cached_tokens=2),
        thinking={"type": "enabled", "budget_tokens": 1024},
        max_tokens=2000,
    )

    assert response.status_code == 200
    body = response.json()
    assert [block["type"] for block in body["content"]] == ["thinking", "text"]
    assert body["content"][1]["text"] == reply_text()
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] + body["usage"]["cache_read_input_tokens"] == 3 + 2
    assert body["usage"]["cache_read_input_tokens"] == 2


def test_anthropic_stream_has_every_event_type_in_order(http):
    response = messages(http, tools=[TOOL], tool_choice={"type": "any"}, stream=True)

    kinds = [kind for kind, _ in named_events(response.text)]
    assert kinds == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    events = named_events(response.text)
    assert events[2][1]["content_block"]["type"] == "tool_use"
    arguments = "".join(e["delta"]["partial_json"] for k, e in events if k == "content_block_delta")
    assert json.loads(arguments) == {"city": "test"}
    assert events[6][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "roles must alternate"),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                    },
                    USER,
                ]
            },
            "tool_use ids were found without tool_result blocks",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "budget_tokens"),
    ],
    ids=["max_tokens", "roles", "tool_result", "budget"],
)
def test_anthropic_refuses_what_anthropic_refuses(http, body, message):
    response = messages(http, **body)

    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]


def test_anthropic_needs_its_key_and_version(http):
    no_version = http.post("/v1/messages", json={}, headers={"x-api-key": KEY})
    bearer = http.post("/v1/messages", json={}, headers={"Authorization": f"Bearer {KEY}"})

    assert no_version.status_code == 400
    assert bearer.status_code == 401
    assert bearer.json()["error"]["type"] == "authentication_error"


def test_anthropic_529_is_overloaded_with_retry_after(http):
    response = messages(http, model=fault_model("claude", status=529, retry_after=2))

    assert response.status_code == 529
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "overloaded_error"


def test_anthropic_in_band_error_event(http):
    response = messages(http, model=fault_model("claude", error_after=4), stream=True)

    kind, data = named_events(response.text)[-1]
    assert (kind, data["error"]["type"]) == ("error", "overloaded_error")


def test_gemini_answer_with_thoughts_and_usage(http):
    config = {"thinkingConfig": {"thinkingBudget": 100, "includeThoughts": True}}
    response = generate(http, model=fault_model("gemini", cached_tokens=1), generationConfig=config)

    assert response.status_code == 200
    [candidate] = response.json()["candidates"]
    parts = candidate["content"]["parts"]
    assert parts[0]["thought"] is True
    assert parts[1]["text"] == reply_text()
    assert candidate["finishReason"] == "STOP"
    usage = response.json()["usageMetadata"]
    assert usage["cachedContentTokenCount"] == 1
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )


def test_gemini_stream_ends_at_eof_with_finish_and_full_usage(http):
    response = generate(http, stream=True)

    assert "[DONE]" not in response.text
    events = [json.loads(block[6:]) for block in response.text.strip().split("\r\n\r\n")]
    text = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)
    assert text == reply_text()
    assert [e["candidates"][0].get("finishReason") for e in events][-2:] == [None, "STOP"]
    assert "candidatesTokenCount" in events[-1]["usageMetadata"]
    assert "candidatesTokenCount" not in events[0]["usageMetadata"]


def test_gemini_function_calls_are_signed_and_must_come_back_signed(http):
    tools = [
        {"functionDeclarations": [{"name": "get_weather", "parameters": TOOL["input_schema"]}]}
    ]
    called = generate(http, tools=tools).json()["candidates"][0]["content"]["parts"][0]
    unsigned = {"functionCall": called["functionCall"]}
    history = [
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {"role": "model", "parts": [unsigned]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {}}}]},
    ]

    refused = generate(http, contents=history)
    accepted = generate(
        http, contents=[history[0], {"role": "model", "parts": [called]}, history[2]]
    )

    assert called["thoughtSignature"]
    assert refused.status_code == 400
    assert "thought_signature" in refused.json()["error"]["message"]
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("status", "name"),
    [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (400, "INVALID_ARGUMENT")],
)
def test_gemini_error_envelopes(http, status, name):
    response = generate(http, model=fault_model("gemini", status=status))

    assert response.status_code == status
    assert response.json()["error"]["status"] == name
    assert response.json()["error"]["code"] == status


def test_gemini_key_header_or_query_and_model_lists(http):
    by_query = http.get(f"/v1beta/models?key={KEY}")
    wrong = http.get("/v1beta/models", headers={"x-goog-api-key": "nope"})
    anthropic_list = http.get("/v1/models", headers=ANTHROPIC_HEADERS)

    assert by_query.status_code == 200
    assert by_query.json()["models"][0]["name"].startswith("models/")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert anthropic_list.json()["data"][0]["type"] == "model"


def test_gemini_cut_and_malformed_faults(http, upstream):
    received: list[bytes] = []
    payload = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}
    path = f"/v1beta/models/{fault_model('gemini', cut_after=2)}:streamGenerateContent?alt=sse"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", path, json=payload, headers=GEMINI_HEADERS) as response,
    ):
        received.extend(response.iter_bytes())
    malformed = generate(http, model=fault_model("gemini", malformed_after=1), stream=True)

    assert b"".join(received).count(b"data: ") == 2
    assert b"finishReason" not in b"".join(received)
    assert upstream.requests[-2]["outcome"] == "cut"
    assert "data: {not json\r\n\r\n" in malformed.text

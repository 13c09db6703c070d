"""The fake upstream's extras for Anthropic-native clients, over real HTTP and the real SDKs:
cache-write usage, text after a tool result (so agent loops end), `count_tokens`, thinking
signatures checked on tool-use turns, and the record of what it received."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from bench.fake_upstream import FakeUpstream, fault_model, reply_text, running_fake_upstream
from bench.fake_upstream.anthropic_dialect import SIGNATURE
from bench.fake_upstream.openai_dialect import THINKING_TEXT

KEY = "fake-anthropic-extras-key"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
USER = {"role": "user", "content": [{"type": "text", "text": "Weather in Paris please"}]}
SDK_MESSAGES = cast("list[MessageParam]", [USER])
# 3 per message + 4 words.
USER_TOKENS = 3 + 4
TOOL = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
THINKING = {"type": "enabled", "budget_tokens": 1024}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=KEY) as up:
        yield up


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[httpx.Client]:
    bearer = {"Authorization": f"Bearer {KEY}"}  # the OpenAI routes' key
    with httpx.Client(base_url=upstream.url, timeout=10, headers=bearer) as client:
        yield client


@pytest.fixture
def sdk(upstream: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    # SDK 2.x sends its key as a Bearer token; Anthropic's API keys go in `x-api-key`.
    with anthropic.Anthropic(
        api_key=KEY, base_url=upstream.url, max_retries=0, default_headers={"x-api-key": KEY}
    ) as client:
        yield client


def messages(http: httpx.Client, model: str = "claude", **body: Any) -> httpx.Response:
    payload = {"model": model, "max_tokens": 2000, "messages": [USER], **body}
    return http.post("/v1/messages", json=payload, headers=HEADERS)


def named_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# Cache writes -------------------------------------------------------------------------------


def test_anthropic_reports_cache_writes_of_both_lifetimes_outside_input_tokens(
    sdk: anthropic.Anthropic,
) -> None:
    model = fault_model("claude", cached_tokens=1, cache_write_tokens=2, cache_write_1h_tokens=3)
    message = sdk.messages.create(model=model, max_tokens=100, messages=SDK_MESSAGES)

    usage = message.usage
    assert usage.input_tokens == USER_TOKENS - 1 - 2 - 3
    assert usage.cache_read_input_tokens == 1
    assert usage.cache_creation_input_tokens == 5
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 2
    assert usage.cache_creation.ephemeral_1h_input_tokens == 3


def test_anthropic_stream_reports_cache_writes_at_start_and_cumulatively_at_the_end(
    http: httpx.Client,
) -> None:
    model = fault_model("claude", cache_write_tokens=4)
    response = messages(http, model, stream=True)

    events = dict(named_events(response.text))
    start = events["message_start"]["message"]["usage"]
    final = events["message_delta"]["usage"]
    for usage in (start, final):
        assert usage["input_tokens"] == USER_TOKENS - 4
        assert usage["cache_creation_input_tokens"] == 4
        assert usage["cache_creation"] == {
            "ephemeral_5m_input_tokens": 4,
            "ephemeral_1h_input_tokens": 0,
        }
    assert final["output_tokens"] == 8


def test_cache_writes_never_exceed_the_prompt(http: httpx.Client) -> None:
    model = fault_model("claude", cached_tokens=5, cache_write_tokens=5, cache_write_1h_tokens=5)
    usage = messages(http, model).json()["usage"]

    assert usage["input_tokens"] == 0
    assert usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"] == USER_TOKENS


def test_openai_reports_cache_writes_inside_prompt_tokens_as_openrouter_does(
    http: httpx.Client,
) -> None:
    model = fault_model("gpt-4o-mini", cache_write_tokens=2, cache_write_1h_tokens=1)
    body = {"model": model, "messages": [{"role": "user", "content": "Weather in Paris please"}]}
    usage = http.post("/v1/chat/completions", json=body).json()["usage"]

    assert usage["prompt_tokens"] == USER_TOKENS
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 3


def test_openai_usage_has_no_cache_write_field_without_writes(http: httpx.Client) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    details = http.post("/v1/chat/completions", json=body).json()["usage"]["prompt_tokens_details"]

    assert "cache_write_tokens" not in details


# Tools: no_tools, and text after a tool result ---------------------------------------------


def test_anthropic_calls_the_offered_tool_by_default(http: httpx.Client) -> None:
    content = messages(http, tools=[TOOL]).json()["content"]

    assert [block["type"] for block in content] == ["tool_use"]


def test_no_tools_directive_answers_text_though_tools_are_offered(http: httpx.Client) -> None:
    answer = messages(http, fault_model("claude", no_tools=True), tools=[TOOL]).json()

    assert answer["stop_reason"] == "end_turn"
    assert answer["content"] == [{"type": "text", "text": reply_text()}]


def test_server_tools_are_accepted_and_never_called(http: httpx.Client) -> None:
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    answer = messages(http, tools=[web_search, TOOL])

    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0] == {
        "type": "tool_use",
        "id": answer.json()["content"][0]["id"],
        "name": "get_weather",
        "input": {"city": "test"},
    }
    assert messages(http, tools=[web_search]).json()["content"][0]["type"] == "text"


def _anthropic_tool_turns(http: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    first = messages(http, tools=[TOOL], **body).json()
    call = next(block for block in first["content"] if block["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call["id"], "content": "18 degrees"}
    return [
        USER,
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [result]},
    ]


def test_anthropic_answers_text_after_a_tool_result(http: httpx.Client) -> None:
    turns = _anthropic_tool_turns(http)
    answer = messages(http, messages=turns, tools=[TOOL]).json()

    assert answer["stop_reason"] == "end_turn"
    assert answer["content"][0]["text"] == reply_text()


def test_openai_answers_text_after_a_tool_message(http: httpx.Client) -> None:
    turns = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18 degrees"},
    ]
    body = {"model": "gpt-4o-mini", "messages": turns, "tools": [OPENAI_TOOL]}
    choice = http.post("/v1/chat/completions", json=body).json()["choices"][0]
    called = http.post("/v1/chat/completions", json={**body, "messages": turns[:1]}).json()

    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == reply_text()
    assert called["choices"][0]["finish_reason"] == "tool_calls"


def test_gemini_answers_text_after_a_function_response(http: httpx.Client) -> None:
    declaration = {"name": "get_weather", "parameters": {"type": "object"}}
    call = {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": "sig"}
    response = {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}}
    contents = [
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [response]},
    ]
    body = {"contents": contents, "tools": [{"functionDeclarations": [declaration]}]}
    url = "/v1beta/models/gemini-2.5-flash:generateContent"
    answer = http.post(url, json=body, headers={"x-goog-api-key": KEY}).json()
    called = http.post(
        url, json={**body, "contents": contents[:1]}, headers={"x-goog-api-key": KEY}
    ).json()

    assert answer["candidates"][0]["content"]["parts"] == [{"text": reply_text()}]
    assert "functionCall" in called["candidates"][0]["content"]["parts"][0]


# count_tokens -------------------------------------------------------------------------------


def test_count_tokens_counts_as_messages_reports_the_input(sdk: anthropic.Anthropic) -> None:
    system = "Answer tersely."
    counted = sdk.messages.count_tokens(model="claude", system=system, messages=SDK_MESSAGES)
    message = sdk.messages.create(
        model="claude", max_tokens=9, system=system, messages=SDK_MESSAGES
    )

    assert counted.input_tokens == message.usage.input_tokens == 3 + 2 + USER_TOKENS


def test_count_tokens_checks_the_key(upstream: FakeUpstream) -> None:
    client = anthropic.Anthropic(
        api_key="wrong", base_url=upstream.url, max_retries=0, default_headers={"x-api-key": "no"}
    )
    with client, pytest.raises(anthropic.AuthenticationError):
        client.messages.count_tokens(model="claude", messages=SDK_MESSAGES)


def test_count_tokens_obeys_fault_directives(sdk: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk.messages.count_tokens(model=fault_model("claude", status=429), messages=SDK_MESSAGES)

    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_count_tokens_checks_the_conversation(http: httpx.Client) -> None:
    body = {"model": "claude", "messages": [{"role": "assistant", "content": "hi"}]}
    refused = http.post("/v1/messages/count_tokens", json=body, headers=HEADERS)

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"


def test_count_tokens_is_recorded(upstream: FakeUpstream, sdk: anthropic.Anthropic) -> None:
    upstream.clear_requests()
    sdk.messages.count_tokens(model="claude", messages=SDK_MESSAGES)

    (record,) = upstream.requests
    assert (record["path"], record["outcome"]) == ("/v1/messages/count_tokens", "ok")


# Thinking signatures ------------------------------------------------------------------------


def test_thinking_answer_carries_a_signed_thinking_block(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(
        model="claude",
        max_tokens=2000,
        messages=SDK_MESSAGES,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )

    block = message.content[0]
    assert block.type == "thinking"
    assert (block.thinking, block.signature) == (THINKING_TEXT, SIGNATURE)


def test_tool_turn_with_thinking_accepts_the_thinking_block_sent_back(http: httpx.Client) -> None:
    turns = _anthropic_tool_turns(http, thinking=THINKING)
    answer = messages(http, messages=turns, tools=[TOOL], thinking=THINKING)

    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][-1]["type"] == "text"


@pytest.mark.parametrize(
    ("change", "wording"),
    [
        (lambda blocks: blocks[1:], "must start with a thinking block"),
        (lambda blocks: [{**blocks[0], "signature": "forged"}, *blocks[1:]], "Invalid `signature`"),
        (lambda blocks: [{**blocks[0], "thinking": "edited"}, *blocks[1:]], "Invalid `signature`"),
        (
            lambda blocks: [{k: v for k, v in blocks[0].items() if k != "signature"}, *blocks[1:]],
            "Invalid `signature`",
        ),
    ],
    ids=["missing", "forged-signature", "edited-thinking", "no-signature"],
)
def test_tool_turn_with_thinking_refuses_a_missing_or_altered_thinking_block(
    http: httpx.Client, change: Any, wording: str
) -> None:
    turns = _anthropic_tool_turns(http, thinking=THINKING)
    assert turns[1]["content"][0]["type"] == "thinking"
    turns[1] = {"role": "assistant", "content": change(turns[1]["content"])}
    refused = messages(http, messages=turns, tools=[TOOL], thinking=THINKING)

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert wording in refused.json()["error"]["message"]


def test_tool_turn_without_thinking_needs_no_thinking_block(http: httpx.Client) -> None:
    turns = _anthropic_tool_turns(http)

    assert messages(http, messages=turns, tools=[TOOL]).status_code == 200


# What it received ---------------------------------------------------------------------------


def test_unknown_fields_are_accepted_and_headers_and_body_are_recorded(
    upstream: FakeUpstream, http: httpx.Client
) -> None:
    upstream.clear_requests()
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    response = http.post(
        "/v1/messages",
        json={
            "model": "claude",
            "max_tokens": 50,
            "system": system,
            "messages": [USER],
            "context_management": {"edits": []},
        },
        headers={**HEADERS, "anthropic-beta": "context-management-2025-06-27"},
    )

    assert response.status_code == 200
    received = httpx.get(f"{upstream.url}/_fake/requests").json()
    (record,) = [r for r in received if r["path"] == "/v1/messages"]
    assert record["headers"]["anthropic-beta"] == "context-management-2025-06-27"
    assert record["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert record["body"]["context_management"] == {"edits": []}

"""Token estimates (~4 characters a token) for usage an upstream never sent, and the bound of
prompt tokens (bytes and allowances) that reservations hold."""

import orjson
import pytest

from bench.fake_upstream import count_prompt_tokens
from core.usage import Usage
from gateway.estimate import (
    CHARS_PER_TOKEN,
    MESSAGE_OVERHEAD_TOKENS,
    PART_OVERHEAD_TOKENS,
    REQUEST_OVERHEAD_TOKENS,
    TOOLS_OVERHEAD_TOKENS,
    estimate_prompt_tokens,
    estimate_usage,
    prompt_tokens_bound,
)

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
TOOL_CHARS = len(orjson.dumps([TOOL]))


def user(content):
    return {"role": "user", "content": content}


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ({}, 0),
        ({"model": "m", "messages": []}, 1),  # never 0 for a non-empty request
        ({"messages": [user("")]}, 4),
        ({"messages": [user("abcd")]}, 1 + 4),
        ({"messages": [user("abcde")]}, 2 + 4),  # rounded up
        ({"messages": [{"role": "system", "content": "x" * 40}, user("y" * 40)]}, 20 + 8),
        (
            {
                "messages": [
                    user(
                        [
                            {"type": "text", "text": "What is in"},
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,AAAA"},
                            },
                            {"type": "text", "text": " this image?"},
                        ]
                    )
                ]
            },
            6 + 4,  # 21 characters of text parts; the image is not counted
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    }
                ]
            },
            1 + 4,
        ),
        ({"messages": [user("abcd")], "tools": [TOOL]}, -(-(4 + TOOL_CHARS) // 4) + 4),
        ({"messages": [user(None), user(42), "garbage"]}, 12),
        ({"messages": "not a list"}, 1),
    ],
    ids=[
        "empty",
        "no-messages",
        "empty-content",
        "four-chars",
        "five-chars",
        "two-messages",
        "text-parts",
        "tool-calls",
        "tools",
        "odd-content",
        "odd-messages",
    ],
)
def test_estimate_prompt_tokens(body, tokens):
    assert estimate_prompt_tokens(body) == tokens


@pytest.mark.parametrize(
    ("completion_chars", "completion_tokens"),
    [(0, 0), (1, 1), (CHARS_PER_TOKEN, 1), (CHARS_PER_TOKEN + 1, 2), (4000, 1000)],
)
def test_estimate_usage(completion_chars, completion_tokens):
    usage = estimate_usage(prompt_tokens=12, completion_chars=completion_chars)

    assert usage == Usage(prompt_tokens=12, completion_tokens=completion_tokens)


# --- the bound admission reserves for -------------------------------------------------------

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 1_000_000}}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}' * 50},
}


def _nested(depth):
    value: object = {"type": "object"}
    for _ in range(depth):
        value = {"type": "object", "properties": {"x": value}}
    return value


def _bound(body):
    return prompt_tokens_bound(body, body_bytes=len(orjson.dumps(body)))


def _utf8(text):
    return len(text.encode())


@pytest.mark.parametrize(
    ("body", "at_least"),
    [
        ({"messages": [user("a " * 1000)]}, 2000),
        ({"messages": [user("汉字" * 500)]}, _utf8("汉字" * 500)),  # 3 bytes a character
        ({"messages": [user("👩‍👩‍👧‍👦" * 100)]}, _utf8("👩‍👩‍👧‍👦" * 100)),  # 25 bytes a family
        ({"messages": [user("QUJD" * 5000)]}, 20_000),  # base64 as text: one token a byte at most
        (
            {
                "messages": [
                    user([{"type": "text", "text": "é" * 300}, {"type": "text", "text": "x"}])
                ]
            },
            601,
        ),
        ({"messages": [{"role": "system", "content": "s" * 50, "name": "n" * 40}]}, 90),
        ({"messages": [{"role": "assistant", "content": None, "tool_calls": [CALL]}]}, 2 * 850),
        ({"messages": [{"role": "tool", "tool_call_id": "call_1", "content": "{}" * 400}]}, 800),
        (
            {"messages": [user("hi")], "tools": [TOOL] * 20},
            2 * len(orjson.dumps([TOOL] * 20)) + TOOLS_OVERHEAD_TOKENS,
        ),
        ({"messages": [user("hi")], "response_format": SCHEMA}, 2 * len(orjson.dumps(SCHEMA))),
        ({"messages": [user("hi")], "documents": [{"text": "d" * 500}]}, 500),  # vLLM's RAG field
    ],
    ids=[
        "ascii-dense",
        "cjk",
        "emoji",
        "base64-text",
        "text-parts",
        "name",
        "tool-calls",
        "tool-result",
        "tools",
        "json-schema",
        "pass-through-field",
    ],
)
def test_the_bound_counts_every_byte_a_tokenizer_could_make_a_token(body, at_least):
    bound = _bound(body)

    assert bound >= at_least + REQUEST_OVERHEAD_TOKENS
    messages = body["messages"]
    # Above what the fake upstream bills, even when it counts a token a byte.
    assert bound >= count_prompt_tokens(messages, unit="bytes") >= count_prompt_tokens(messages)
    assert bound > estimate_prompt_tokens(body)


def test_the_bound_of_a_plain_prompt_is_its_bytes_plus_the_markers():
    body = {"messages": [{"role": "system", "content": "Be brief."}, user("a " * 1000)]}

    assert _bound(body) == REQUEST_OVERHEAD_TOKENS + 2 * MESSAGE_OVERHEAD_TOKENS + 9 + 2000


@pytest.mark.parametrize(
    ("part", "tokens"),
    [
        (IMAGE, 50_000),  # whatever its size in bytes
        ({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}, 50_000),
        ({"type": "input_audio", "input_audio": {"data": "A" * 16_000, "format": "mp3"}}, 1000),
        ({"type": "input_audio", "input_audio": {"data": "A" * 16_001, "format": "wav"}}, 1001),
        ({"type": "file", "file": {"file_data": "A" * 400_000, "filename": "a.pdf"}}, 400_005),
        ({"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA"}}, 100_000),
        ({"type": "file", "file": {"file_id": "file-123"}}, 100_000),
        ({"type": "video_url", "video_url": {"url": "https://youtu.be/x"}}, 300_000),
        (
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + "A" * 10**6}},
            10**6 + 22,
        ),
        ({"type": "input_text", "text": "hello"}, len(b'{"type":"input_text","text":"hello"}')),
    ],
    ids=[
        "image-inline",
        "image-url",
        "audio",
        "audio-rounded-up",
        "file-inline-large",
        "file-inline-small",
        "file-by-id",
        "video-url",
        "video-inline",
        "unknown-part",
    ],
)
def test_attachments_count_their_allowance_or_their_data(part, tokens):
    body = {"messages": [user([part])]}

    assert _bound(body) == (
        REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + PART_OVERHEAD_TOKENS + tokens
    )


def test_the_allowances_are_settings(settings):
    settings.GATEWAY_IMAGE_PART_TOKENS = 1600
    body = {"messages": [user([IMAGE, IMAGE])]}

    assert _bound(body) == (
        REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 2 * (PART_OVERHEAD_TOKENS + 1600)
    )


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [user("hi")], "tools": [{"type": "function", "function": _nested(300)}]},
        {"messages": [user("hi")], "response_format": {"type": "json_schema", "s": _nested(300)}},
        {"messages": [user([{"type": "custom", "data": _nested(300)}])]},
        {"messages": [{"role": "user", "content": "hi", "extra": _nested(300)}]},
    ],
    ids=["tools", "response-format", "unknown-part", "message-field"],
)
def test_a_body_nested_deeper_than_orjson_writes_counts_the_whole_body(body):
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(body)
    raw_size = 100_000

    assert prompt_tokens_bound(body, body_bytes=raw_size) >= raw_size

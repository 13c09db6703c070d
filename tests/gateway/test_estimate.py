"""Token estimates (~4 characters a token) for reservations and usage an upstream never sent."""

import orjson
import pytest

from channels.adapters.base import Usage
from gateway.estimate import CHARS_PER_TOKEN, estimate_prompt_tokens, estimate_usage

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

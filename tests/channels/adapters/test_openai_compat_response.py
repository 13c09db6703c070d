"""The OpenAI-compatible adapter: non-stream answers stamped, priced and validated."""

from typing import Any

import orjson
import pytest

from channels.adapters.base import (
    BadUpstreamResponse,
)
from core.usage import Usage
from gateway.estimate import estimate_usage
from tests.channels.adapters.openai_compat_helpers import (
    PROMPT_ESTIMATE,
    UPSTREAM_USAGE,
    completion,
    cost,
    translate,
)

# --- translate_response ---------------------------------------------------------------------


def test_response_is_stamped_and_priced_with_the_upstream_usage():
    result, body = translate(completion())

    usage = Usage(prompt_tokens=82, completion_tokens=17, cached_tokens=64, reasoning_tokens=9)
    assert (result.usage, result.usage_estimated) == (usage, False)
    assert body["id"] == "chatcmpl-upstream1"
    assert (body["model"], body["provider"]) == ("acme/chat-large", "acme")
    assert body["system_fingerprint"] == "fp_1"
    assert body["usage"] == {**UPSTREAM_USAGE, "cost": cost(usage)}
    assert body["choices"][0]["message"]["content"] == "Hello there"


def test_openrouters_cache_writes_are_read_as_five_minute_writes_and_priced():
    details = {"cached_tokens": 10, "cache_write_tokens": 50}
    usage_in = {**UPSTREAM_USAGE, "prompt_tokens_details": details}
    result, body = translate(completion(usage=usage_in))

    usage = Usage(
        prompt_tokens=82,
        completion_tokens=17,
        cached_tokens=10,
        reasoning_tokens=9,
        cache_write_tokens=50,
    )
    assert result.usage == usage
    # Reported on as the upstream sent it, priced with the writes at their own price.
    assert body["usage"] == {**usage_in, "cost": cost(usage)}
    assert cost(usage) != cost(Usage(prompt_tokens=82, completion_tokens=17, cached_tokens=10))


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
    mirrored = [
        {**c["message"], "reasoning": c["message"]["reasoning_content"]}
        if "reasoning_content" in c["message"]
        else c["message"]
        for c in choices
    ]
    assert [c["message"] for c in body["choices"]] == mirrored


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

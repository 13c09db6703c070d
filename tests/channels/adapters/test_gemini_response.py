"""Golden tests of the Gemini adapter's answers: candidates, thoughts, function calls, finish
reasons, usageMetadata, the stream that ends at EOF, errors. Streams in
`tests/fixtures/gemini/` are recordings of the fake upstream (`gemini_dialect.py`)."""

from typing import Any

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import BadUpstreamResponse, UpstreamStreamError
from core.usage import Usage
from gateway.estimate import estimate_usage
from tests.channels.adapters.openai_compat_helpers import (
    FIXTURES,
    IDENTITY,
    METERING,
    PROMPT_ESTIMATE,
    cost,
)

ADAPTER = adapter_for("gemini")
THINKING = "The user wants a short friendly answer, so I will greet them."
REPLY = "Hello from the fake upstream, this is deterministic."
USAGE = {
    "promptTokenCount": 100,
    "toolUsePromptTokenCount": 5,
    "candidatesTokenCount": 30,
    "thoughtsTokenCount": 12,
    "cachedContentTokenCount": 60,
    "totalTokenCount": 147,
}
CALL_PART = {
    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
    "thoughtSignature": "sig",
}


def candidate(
    *parts: dict[str, Any], finish: str | None = "STOP", index: int = 0
) -> dict[str, Any]:
    found: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": index}
    if finish:
        found["finishReason"] = finish
    return found


def translate(response: dict[str, Any]) -> Any:
    result = ADAPTER.translate_response(
        payload=orjson.dumps(response), identity=IDENTITY, metering=METERING
    )
    return result, orjson.loads(result.body)


def test_answer_with_thoughts_text_and_a_signed_call():
    result, body = translate(
        {
            "candidates": [
                candidate(
                    {"text": "Hmm.", "thought": True},
                    {"text": "Sure. "},
                    {"text": "Calling."},
                    CALL_PART,
                )
            ],
            "usageMetadata": USAGE,
        }
    )

    [choice] = body["choices"]
    message = choice["message"]
    assert (message["content"], message["reasoning_content"], message["reasoning"]) == (
        "Sure. Calling.",
        "Hmm.",
        "Hmm.",
    )
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert call["extra_content"] == {"google": {"thought_signature": "sig"}}
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("tool_calls", "STOP")
    assert result.usage == Usage(
        prompt_tokens=105, completion_tokens=42, cached_tokens=60, reasoning_tokens=12
    )
    assert body["usage"] == {
        "prompt_tokens": 105,
        "completion_tokens": 42,
        "total_tokens": 147,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 12},
        "cost": cost(result.usage),
    }


def test_candidates_become_choices_in_index_order():
    _, body = translate(
        {"candidates": [candidate({"text": "b"}, index=1), candidate({"text": "a"}, index=0)]}
    )
    assert [(c["index"], c["message"]["content"]) for c in body["choices"]] == [(0, "a"), (1, "b")]


@pytest.mark.parametrize(
    ("native", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
    ],
)
def test_finish_reasons(native, finish):
    _, body = translate({"candidates": [candidate({"text": "x"}, finish=native)]})
    assert (body["choices"][0]["finish_reason"], body["choices"][0]["native_finish_reason"]) == (
        finish,
        native,
    )


def test_a_blocked_prompt_is_a_content_filter_finish():
    _, body = translate({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE})
    [choice] = body["choices"]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("content_filter", "SAFETY")
    assert choice["message"]["content"] == ""


@pytest.mark.parametrize("usage", [None, {}], ids=["absent", "empty"])
def test_missing_usage_is_estimated(usage):
    result, _ = translate(
        {"candidates": [candidate({"text": "Hello there"})], "usageMetadata": usage}
    )
    expected = estimate_usage(prompt_tokens=PROMPT_ESTIMATE, completion_chars=11)
    assert (result.usage, result.usage_estimated) == (expected, True)


@pytest.mark.parametrize(
    "payload",
    [b"nope", b"[1]", b"{}", b'{"candidates": "x"}'],
    ids=["text", "list", "empty", "bad"],
)
def test_garbled_answers_are_bad_responses(payload):
    with pytest.raises(BadUpstreamResponse):
        ADAPTER.translate_response(payload=payload, identity=IDENTITY, metering=METERING)


# --- streams ----------------------------------------------------------------------------------


def stream(include_usage: bool = True) -> Any:
    return ADAPTER.stream_translator(
        identity=IDENTITY, include_usage=include_usage, metering=METERING
    )


def chunks(events: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(e[6:]) for e in events if e != b"data: [DONE]\n\n"]


def data(response: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(response) + b"\r\n\r\n"


def test_recorded_stream_with_thoughts_ends_at_eof():
    translator = stream()
    events = translator.feed((FIXTURES / "gemini" / "thoughts_text.sse").read_bytes())

    assert not translator.done, "no [DONE]: only the end of the body says the stream is over"
    translator.end_of_input()
    assert translator.done
    out = chunks(events + translator.finish())
    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": THINKING, "reasoning": THINKING}
    assert "".join(d.get("content", "") for d in deltas) == REPLY
    assert out[-2]["choices"][0]["finish_reason"] == "stop"
    assert translator.usage == Usage(
        prompt_tokens=4, completion_tokens=20, cached_tokens=2, reasoning_tokens=12
    )
    assert out[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 12}


def test_recorded_tool_call_stream():
    translator = stream()
    events = translator.feed((FIXTURES / "gemini" / "tool_call.sse").read_bytes())
    translator.end_of_input()

    out = chunks(events)
    [call] = out[1]["choices"][0]["delta"]["tool_calls"]
    assert call["index"] == 0
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"test"}'}
    assert call["extra_content"] == {"google": {"thought_signature": "CiQBFakeThoughtSignature"}}
    assert out[2]["choices"][0]["finish_reason"] == "tool_calls"
    assert translator.done


def test_a_stream_split_anywhere_gives_the_same_chunks():
    recorded = (FIXTURES / "gemini" / "thoughts_text.sse").read_bytes()
    whole, bytewise = stream(), stream()
    at_once = whole.feed(recorded)
    one_by_one = [e for i in range(len(recorded)) for e in bytewise.feed(recorded[i : i + 1])]
    assert [c["choices"] for c in chunks(one_by_one)] == [c["choices"] for c in chunks(at_once)]


def test_running_usage_is_only_final_with_the_finish():
    translator = stream()
    translator.feed(
        data(
            {
                "candidates": [candidate({"text": "Hi"}, finish=None)],
                "usageMetadata": {"promptTokenCount": 9},
            }
        )
    )
    assert translator.usage is None
    translator.end_of_input()
    assert not translator.done, "cut before any finishReason"
    assert translator.completion_chars == 2


def test_an_empty_usage_with_the_finish_is_estimated_not_free():
    translator = stream()
    translator.feed(data({"candidates": [candidate({"text": "Hi"})], "usageMetadata": {}}))
    translator.end_of_input()

    assert translator.done
    assert translator.usage is None, "no counts: the gateway estimates instead of billing 0"


def test_a_last_event_without_its_blank_line_still_counts():
    translator = stream()
    events = translator.feed(data({"candidates": [candidate({"text": "Hi"}, finish=None)]}))
    last = b'data: {"candidates":[{"content":{"parts":[{"text":"!"}]},"finishReason":"STOP"}]}'
    events += translator.feed(last)
    translator.end_of_input()
    assert translator.done
    out = chunks(events + translator.finish())
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in out if c["choices"]) == "Hi!"
    )


def test_two_candidates_stream_with_their_own_index_and_role():
    translator = stream(include_usage=False)
    events = translator.feed(
        data(
            {
                "candidates": [
                    candidate({"text": "a"}, finish=None),
                    candidate({"text": "b"}, index=1, finish=None),
                ]
            }
        )
        + data({"candidates": [candidate(CALL_PART, index=1)]})
    )
    choices = [c["choices"][0] for c in chunks(events)]
    assert [
        (c["index"], c["delta"].get("role"), c["delta"].get("content")) for c in choices[:4]
    ] == [
        (0, "assistant", ""),
        (0, None, "a"),
        (1, "assistant", ""),
        (1, None, "b"),
    ]
    assert choices[4]["delta"]["tool_calls"][0]["index"] == 0
    assert (choices[5]["index"], choices[5]["finish_reason"]) == (1, "tool_calls")


def test_a_blocked_prompt_in_a_stream_finishes_with_content_filter():
    translator = stream(include_usage=False)
    events = translator.feed(data({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}))
    translator.end_of_input()
    assert chunks(events)[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert translator.done


def test_an_error_event_fails_the_stream_after_what_came_before():
    translator = stream()
    error = data(
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    )
    events = translator.feed(data({"candidates": [candidate({"text": "Hi"}, finish=None)]}) + error)
    assert chunks(events)[-1]["choices"][0]["delta"] == {"content": "Hi"}
    assert isinstance(translator.failure, UpstreamStreamError)
    assert (translator.failure.message, translator.failure.code) == (
        "The model is overloaded.",
        "UNAVAILABLE",
    )
    translator.end_of_input()
    assert not translator.done


def test_malformed_event_is_a_bad_response():
    translator = stream()
    translator.feed(b"data: {not json\r\n\r\n")
    assert isinstance(translator.failure, BadUpstreamResponse)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            b'{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}',
            "Quota exceeded (RESOURCE_EXHAUSTED)",
        ),
        (b'[{"error":{"code":400}}]', '[{"error":{"code":400}}]'),
        (b"", "upstream answered HTTP 429"),
    ],
)
def test_error_messages(payload, message):
    assert ADAPTER.error_message(status=429, payload=payload) == message


def test_models_url():
    assert ADAPTER.models_url(base_url="https://generativelanguage.googleapis.com/") == (
        "https://generativelanguage.googleapis.com/v1beta/models"
    )

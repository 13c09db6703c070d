"""Golden tests of the Anthropic adapter's request building."""

from typing import Any

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import UnsupportedContent, UpstreamTarget
from tests.channels.adapters.openai_compat_helpers import SECRET, WEATHER_TOOL

ADAPTER = adapter_for("anthropic")
TARGET = UpstreamTarget("https://api.anthropic.com/", SECRET, "claude-sonnet-4-5")
USER = {"role": "user", "content": "Hi"}
CALL = {
    "id": "toolu_01",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def built(
    messages: list[dict[str, Any]] | None = None,
    *,
    target: UpstreamTarget = TARGET,
    stream: bool = False,
    **body: Any,
) -> dict[str, Any]:
    request = ADAPTER.build_request(
        body={"model": "public", "messages": messages or [USER], **body},
        target=target,
        stream=stream,
    )
    payload: dict[str, Any] = orjson.loads(request.content)
    return payload


def test_url_headers_model_and_default_budget():
    request = ADAPTER.build_request(body={"messages": [USER]}, target=TARGET, stream=True)

    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": SECRET,
    }
    assert orjson.loads(request.content) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "stream": True,
    }


def test_a_base_url_with_the_version_is_not_doubled():
    target = UpstreamTarget("https://proxy.example/anthropic/v1", "", "m")
    request = ADAPTER.build_request(body={"messages": [USER]}, target=target, stream=False)
    assert request.url == "https://proxy.example/anthropic/v1/messages"
    assert "x-api-key" not in request.headers


@pytest.mark.parametrize(
    ("body", "target_default", "expected"),
    [
        ({}, None, 4096),
        ({}, 512, 512),
        ({"max_tokens": 40}, 512, 40),
        ({"max_completion_tokens": 30, "max_tokens": 40}, None, 30),
    ],
    ids=["default", "model-default", "client", "max_completion_tokens-first"],
)
def test_max_tokens(body, target_default, expected):
    target = UpstreamTarget(TARGET.base_url, SECRET, "m", target_default)
    assert built(target=target, **body)["max_tokens"] == expected


def test_system_and_developer_messages_anywhere_become_the_system_blocks():
    payload = built(
        [
            {"role": "system", "content": "One."},
            USER,
            {"role": "developer", "content": [{"type": "text", "text": "Two."}]},
        ]
    )
    assert payload["system"] == [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    assert [turn["role"] for turn in payload["messages"]] == ["user"]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "Only rules."}],
        [{"role": "assistant", "content": "Hi!"}, USER],
    ],
    ids=["system-only", "assistant-first"],
)
def test_a_conversation_always_opens_with_a_user_turn(messages):
    first = built(messages)["messages"][0]
    assert first == {"role": "user", "content": [{"type": "text", "text": "."}]}


def test_consecutive_same_role_turns_are_merged():
    payload = built(
        [USER, {"role": "user", "content": "Again"}, {"role": "assistant", "content": ""}]
    )
    assert payload["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Again"}],
        }
    ]


def test_parts_text_images_and_pdf():
    content = [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.gif"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a"},
        },
    ]
    assert built([{"role": "user", "content": content}])["messages"][0]["content"] == [
        {"type": "text", "text": "Look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.gif"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        },
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}},
        {"type": "file", "file": {"file_id": "file-1"}},
    ],
    ids=["audio", "video", "file-id"],
)
def test_parts_anthropic_cannot_take_are_refused(part):
    with pytest.raises(UnsupportedContent) as caught:
        built([USER, {"role": "assistant", "content": "ok"}, {"role": "user", "content": [part]}])
    assert caught.value.param in ("messages[2].content[0]", "file")


def test_tool_calls_and_results():
    payload = built(
        [
            USER,
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    CALL,
                    {**CALL, "id": "toolu_02", "function": {"name": "now", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01", "content": '{"temp_c": 18}'},
            {
                "role": "tool",
                "tool_call_id": "toolu_02",
                "content": [{"type": "text", "text": "noon"}],
                "is_error": True,
            },
            {"role": "user", "content": "Thanks"},
        ]
    )
    assert payload["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_02", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": '{"temp_c": 18}'},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": [{"type": "text", "text": "noon"}],
                    "is_error": True,
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [("not json", {"arguments": "not json"}), ("[1]", {"value": [1]}), ("", {})],
)
def test_tool_arguments_that_are_not_an_object_are_wrapped(arguments, expected):
    call = {**CALL, "function": {"name": "f", "arguments": arguments}}
    payload = built([USER, {"role": "assistant", "content": None, "tool_calls": [call]}])
    assert payload["messages"][1]["content"][0]["input"] == expected


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tools_and_tool_choice(choice, parallel, expected):
    body: dict[str, Any] = {
        "tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "now"}}]
    }
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    payload = built(**body)
    assert payload["tools"] == [
        {"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert payload["tool_choice"] == expected


def test_sampling_stop_and_user():
    payload = built(temperature=1.7, top_p=0.9, top_k=20, stop="END", user="u-1", seed=3)
    assert payload["temperature"] == 1.0, "clamped to Anthropic's range"
    assert (payload["top_p"], payload["top_k"]) == (0.9, 20)
    assert payload["stop_sequences"] == ["END"]
    assert payload["metadata"] == {"user_id": "u-1"}
    assert "seed" not in payload
    assert built(stop=["a", "b"])["stop_sequences"] == ["a", "b"]
    assert "top_k" not in built(top_k=-1), "vLLM's 'off' means leave it out"


@pytest.mark.parametrize(
    ("body", "expected_budget", "expected_max"),
    [
        ({"reasoning": {"effort": "high"}, "max_tokens": 10000}, 8000, 10000),
        ({"reasoning": {"effort": "minimal"}, "max_tokens": 4000}, 1024, 4000),
        ({"reasoning": {"max_tokens": 3000}, "max_tokens": 2000}, 1999, 2000),
        ({"reasoning": {"enabled": True}}, 2048, 4096),
        ({"reasoning_effort": "low", "max_tokens": 20000}, 4000, 20000),
        ({"reasoning": {"max_tokens": 500000}, "max_tokens": 200000}, 128000, 200000),
    ],
    ids=["high", "minimal-floor", "budget-within-max", "enabled", "reasoning_effort", "cap"],
)
def test_reasoning_becomes_a_thinking_budget(body, expected_budget, expected_max):
    payload = built(**body, temperature=0.5, tool_choice="required", tools=[WEATHER_TOOL])
    assert payload["thinking"] == {"type": "enabled", "budget_tokens": expected_budget}
    assert payload["max_tokens"] == expected_max
    assert "temperature" not in payload
    assert payload["tool_choice"] == {"type": "auto"}, "forced tool use is not allowed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reasoning": {"effort": "none"}},
        {"reasoning": {"enabled": False}},
        {"reasoning_effort": "none"},
    ],
)
def test_no_thinking_unless_asked(body):
    assert "thinking" not in built(**body)


def test_thinking_never_raises_the_clients_max_tokens():
    payload = built(reasoning={"effort": "high"}, max_tokens=1024, temperature=0.5)

    assert payload["max_tokens"] == 1024, "what the client asked for and the gateway reserved"
    assert "thinking" not in payload, "no room for Anthropic's 1024-token minimum budget"
    assert payload["temperature"] == 0.5


def test_thinking_blocks_sent_back_keep_thinking_on():
    block = {"type": "thinking", "thinking": "Hmm", "signature": "sig"}
    turn = {"role": "assistant", "content": None, "tool_calls": [CALL], "thinking_blocks": [block]}
    result = {"role": "tool", "tool_call_id": "toolu_01", "content": "18"}

    with_blocks = built([USER, turn, result], reasoning={"effort": "low"})
    without = built([USER, {**turn, "thinking_blocks": []}, result], reasoning={"effort": "low"})

    assert with_blocks["messages"][1]["content"][0] == block
    assert "thinking" in with_blocks
    assert "thinking" not in without, "a tool-use turn without its thinking would be refused"

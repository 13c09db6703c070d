"""Golden tests of the Gemini adapter's request building."""

from typing import Any

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import UnsupportedContent, UpstreamTarget
from tests.channels.adapters.openai_compat_helpers import SECRET, WEATHER_TOOL

ADAPTER = adapter_for("gemini")
ROOT = "https://generativelanguage.googleapis.com"
TARGET = UpstreamTarget(ROOT, SECRET, "gemini-2.5-flash")
USER = {"role": "user", "content": "Hi"}
SIGNED_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    "extra_content": {"google": {"thought_signature": "sig-1"}},
}


def built(messages: list[dict[str, Any]] | None = None, **body: Any) -> dict[str, Any]:
    request = ADAPTER.build_request(
        body={"model": "public", "messages": messages or [USER], **body},
        target=TARGET,
        stream=False,
    )
    payload: dict[str, Any] = orjson.loads(request.content)
    return payload


@pytest.mark.parametrize(
    ("base_url", "stream", "url"),
    [
        (ROOT, False, f"{ROOT}/v1beta/models/m:generateContent"),
        (ROOT + "/", True, f"{ROOT}/v1beta/models/m:streamGenerateContent?alt=sse"),
        (ROOT + "/v1", False, f"{ROOT}/v1/models/m:generateContent"),
    ],
)
def test_url_and_key_header(base_url, stream, url):
    request = ADAPTER.build_request(
        body={"messages": [USER]}, target=UpstreamTarget(base_url, SECRET, "m"), stream=stream
    )
    assert request.url == url
    assert request.headers == {"content-type": "application/json", "x-goog-api-key": SECRET}
    assert orjson.loads(request.content) == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]
    }


def test_system_instruction_roles_and_merged_turns():
    payload = built(
        [
            {"role": "system", "content": "One."},
            {"role": "developer", "content": [{"type": "text", "text": "Two."}]},
            USER,
            {"role": "user", "content": "Again"},
            {"role": "assistant", "content": "Hello"},
        ]
    )
    assert payload["systemInstruction"] == {"parts": [{"text": "One."}, {"text": "Two."}]}
    assert payload["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
    ]


def test_system_only_conversations_get_a_user_turn():
    payload = built([{"role": "system", "content": "Only rules."}])
    assert payload["contents"] == [{"role": "user", "parts": [{"text": "."}]}]


def test_parts_images_audio_video_and_files():
    content = [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
    ]
    assert built([{"role": "user", "content": content}])["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
        {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/clip.mp4"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
    ]


def test_unknown_parts_are_refused_naming_the_part():
    with pytest.raises(UnsupportedContent) as caught:
        built([{"role": "user", "content": [{"type": "hologram"}]}])
    assert caught.value.param == "messages[0].content[0]"


def test_calls_carry_their_signature_and_results_their_function_name():
    foreign = {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}
    payload = built(
        [
            USER,
            {"role": "assistant", "content": None, "tool_calls": [SIGNED_CALL, foreign]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        ]
    )
    assert payload["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "sig-1",
                },
                {
                    "functionCall": {"name": "now", "args": {}},
                    "thoughtSignature": "skip_thought_signature_validator",
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "now", "response": {"content": "noon"}}},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (None, None),
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tools_become_function_declarations(choice, config):
    body: dict[str, Any] = {
        "tools": [
            WEATHER_TOOL,
            {"type": "function", "function": {"name": "now", "description": "Time"}},
        ]
    }
    if choice is not None:
        body["tool_choice"] = choice
    payload = built(**body)
    assert payload["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"]},
                {"name": "now", "description": "Time"},
            ]
        }
    ]
    assert payload.get("toolConfig") == (
        None if config is None else {"functionCallingConfig": config}
    )


def test_generation_config():
    payload = built(
        temperature=1.5,
        top_p=0.9,
        top_k=40,
        max_completion_tokens=100,
        stop="END",
        n=3,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        seed=7,
        response_format={"type": "json_object"},
    )
    assert payload["generationConfig"] == {
        "temperature": 1.5,
        "topP": 0.9,
        "topK": 40,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "seed": 7,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
        "candidateCount": 3,
        "responseMimeType": "application/json",
    }


def test_top_k_off_is_left_out():
    assert "generationConfig" not in built(top_k=-1)


def test_json_schema_and_the_models_default_budget():
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": False,
    }
    request = ADAPTER.build_request(
        body={
            "messages": [USER],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        },
        target=UpstreamTarget(ROOT, SECRET, "m", 900),
        stream=False,
    )
    assert orjson.loads(request.content)["generationConfig"] == {
        "maxOutputTokens": 900,
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


@pytest.mark.parametrize(
    ("body", "thinking"),
    [
        ({"reasoning": {"max_tokens": 2048}}, {"thinkingBudget": 2048, "includeThoughts": True}),
        (
            {"reasoning": {"effort": "high"}, "max_tokens": 1000},
            {"thinkingBudget": 800, "includeThoughts": True},
        ),
        ({"reasoning_effort": "low"}, {"thinkingBudget": 819, "includeThoughts": True}),
        (
            {"reasoning": {"effort": "medium", "exclude": True}},
            {"thinkingBudget": 2048, "includeThoughts": False},
        ),
        ({"reasoning": {"enabled": False}}, {"thinkingBudget": 0}),
        ({"enable_thinking": False}, {"thinkingBudget": 0}),
    ],
    ids=["budget", "effort-of-max", "reasoning_effort", "exclude", "off", "enable_thinking"],
)
def test_reasoning_becomes_thinking_config(body, thinking):
    assert built(**body)["generationConfig"]["thinkingConfig"] == thinking


def test_no_thinking_config_unless_asked():
    assert "generationConfig" not in built()

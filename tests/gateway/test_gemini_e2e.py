"""Gemini channels end to end: the OpenAI SDK as the client, the fake upstream speaking
`generateContent` / `streamGenerateContent?alt=sse`: text, tools with thought
signatures, images, reasoning, the stream without `[DONE]`, errors."""

from decimal import Decimal

import openai
import pytest

from bench.fake_upstream import fault_model
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import (
    COMPLETION_TOKENS,
    MESSAGES,
    PIXEL,
    PROMPT_TOKENS,
    REPLY,
    STREAM,
    THINKING,
    THINKING_TOKENS,
    WEATHER_ARGUMENTS,
    WEATHER_TOOL,
    answer_of,
    cost,
    create,
    image_message,
    in_band_error,
    provider_channel,
    sent,
)

GEMINI = "gemini-2.5-flash"
SIGNATURE = "CiQBFakeThoughtSignature"  # what the fake upstream signs its calls with


def gemini(gateway, upstream_model=GEMINI, **options):
    return provider_channel(
        gateway, "gemini", api_type="gemini", upstream_model=upstream_model, **options
    )


def requests_sent(gateway):
    return sent(gateway, "/v1beta/models/")


@STREAM
def test_text_answer_usage_and_record(gateway, stream):
    gemini(gateway)

    answer = answer_of(gateway, stream=stream, temperature=0.2, stop=["END"], seed=7)

    assert answer["text"] == REPLY
    assert answer["finish_reason"] == "stop"
    usage = answer["usage"]
    assert (usage.prompt_tokens, usage.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert Decimal(str(usage.model_extra["cost"])) == expected
    [request] = requests_sent(gateway)
    method = "streamGenerateContent" if stream else "generateContent"
    assert request["path"] == f"/v1beta/models/{GEMINI}:{method}"
    assert request["query"] == ("alt=sse" if stream else "")
    assert request["headers"]["x-goog-api-key"] == CHANNEL_SECRET_PREFIX + "gemini"
    body = request["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": MESSAGES[1]["content"]}]}]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "seed": 7,
        "stopSequences": ["END"],
        "maxOutputTokens": 4096,  # no max_tokens: capped at what admission reserved
    }
    record = gateway.record()
    assert (record.status, record.stream, record.provider) == ("ok", stream, "gemini")
    assert (record.prompt_tokens, record.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert (record.usage_source, record.cost) == ("provider", expected)


def test_max_tokens_and_n_become_generation_config(gateway):
    gemini(gateway)

    completion, _ = create(gateway, max_tokens=3, n=2)

    assert [c.message.content for c in completion.choices] == ["Hello from the", "from the fake"]
    assert {c.finish_reason for c in completion.choices} == {"length"}
    assert completion.choices[0].model_extra["native_finish_reason"] == "MAX_TOKENS"
    [request] = requests_sent(gateway)
    config = request["body"]["generationConfig"]
    assert (config["maxOutputTokens"], config["candidateCount"]) == (3, 2)


@STREAM
def test_tool_call_carries_its_thought_signature(gateway, stream):
    gemini(gateway)

    answer = answer_of(gateway, stream=stream, tools=[WEATHER_TOOL], tool_choice="required")

    assert answer["finish_reason"] == "tool_calls"
    [call] = answer["calls"].values()
    assert (call["name"], call["arguments"]) == ("get_weather", WEATHER_ARGUMENTS)
    assert call["id"].startswith("call_")
    [request] = requests_sent(gateway)
    declaration = request["body"]["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    assert declaration["parameters"] == WEATHER_TOOL["function"]["parameters"]
    assert request["body"]["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_signed_calls_round_trip_through_the_openai_history(gateway):
    gemini(gateway)
    first, _ = create(gateway, tools=[WEATHER_TOOL], tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    assert call.model_extra["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
    history = [
        *MESSAGES,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
    ]

    second, _ = create(gateway, messages=history, tools=[WEATHER_TOOL], tool_choice="none")

    assert second.choices[0].message.content == REPLY
    contents = requests_sent(gateway)[-1]["body"]["contents"]
    assert contents[1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "test"}},
                    "thoughtSignature": SIGNATURE,
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}],
        },
    ]


def test_foreign_calls_get_the_documented_stand_in_signature(gateway):
    gemini(gateway)
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]

    completion, _ = create(gateway, messages=history)

    assert completion.choices[0].message.content == REPLY
    parts = requests_sent(gateway)[-1]["body"]["contents"]
    assert parts[1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert parts[2]["parts"][0]["functionResponse"] == {
        "name": "f",
        "response": {"content": "sunny"},
    }


def test_images_as_inline_data_and_file_data(gateway):
    gemini(gateway)
    completion, _ = create(gateway, messages=[image_message("https://example.com/cat.png")])

    assert completion.choices[0].message.content == REPLY
    parts = requests_sent(gateway)[-1]["body"]["contents"][0]["parts"]
    assert parts[1:] == [
        {"inlineData": {"mimeType": "image/png", "data": PIXEL}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
    ]


def test_json_schema_response_format(gateway):
    gemini(gateway)
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}

    create(
        gateway,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )

    config = requests_sent(gateway)[-1]["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


@STREAM
def test_reasoning_comes_back_in_both_spellings_and_is_billed(gateway, stream):
    gemini(gateway, upstream_model=fault_model(GEMINI, cached_tokens=4), price=("1", "2", "0.5"))

    answer = answer_of(gateway, stream=stream, extra_body={"reasoning": {"max_tokens": 512}})

    assert answer["text"] == REPLY
    assert answer["reasoning"] == (THINKING, THINKING)
    usage = answer["usage"]
    assert usage.completion_tokens == COMPLETION_TOKENS + THINKING_TOKENS
    assert usage.completion_tokens_details.reasoning_tokens == THINKING_TOKENS
    assert usage.prompt_tokens_details.cached_tokens == 4
    [request] = requests_sent(gateway)
    thinking = request["body"]["generationConfig"]["thinkingConfig"]
    assert thinking == {"thinkingBudget": 512, "includeThoughts": True}
    record = gateway.record()
    assert (record.reasoning_tokens, record.cached_tokens) == (THINKING_TOKENS, 4)
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS + THINKING_TOKENS, 4, ("1", "2", "0.5"))
    assert record.cost == expected


def test_reasoning_off_sets_a_zero_budget(gateway):
    gemini(gateway)

    completion, _ = create(gateway, reasoning_effort="none")

    assert "reasoning_content" not in (completion.choices[0].message.model_extra or {})
    config = requests_sent(gateway)[-1]["body"]["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 0}


def test_a_stream_cut_before_its_finish_is_an_in_band_error(gateway):
    gemini(gateway, upstream_model=fault_model(GEMINI, cut_after=3, chunk_delay_ms=30))

    text, error = in_band_error(gateway)

    assert text == "Hello from the"
    assert type(error) is openai.APIError
    assert error.code == "upstream_stream_error"
    record = gateway.record()
    assert (record.status, record.error_code, record.usage_source) == (
        "error",
        "upstream_stream_error",
        "estimated",
    )


def test_an_error_event_mid_stream_is_the_in_band_error(gateway):
    gemini(gateway, upstream_model=fault_model(GEMINI, error_after=2, chunk_delay_ms=30))

    text, error = in_band_error(gateway)

    assert text == "Hello from"
    assert error.message == "Fake upstream injected mid-stream error"
    assert error.code == "INTERNAL"


def test_rate_limits_everywhere_are_a_429_with_retry_after(gateway):
    gemini(gateway, upstream_model=fault_model(GEMINI, status=429, retry_after=3))

    with pytest.raises(openai.RateLimitError) as caught:
        create(gateway)

    assert "RESOURCE_EXHAUSTED" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "3"


def test_a_refused_key_is_not_shown_as_the_clients(gateway):
    gemini(gateway, upstream_model=fault_model(GEMINI, status=403))

    with pytest.raises(openai.APIStatusError) as caught:
        create(gateway)

    assert caught.value.status_code not in (401, 403)
    assert "credentials were refused" in caught.value.message


@STREAM
def test_missing_usage_is_estimated_and_marked(gateway, stream):
    gemini(gateway, upstream_model=fault_model(GEMINI, no_usage=True))

    answer = answer_of(gateway, stream=stream)

    assert answer["text"] == REPLY
    assert answer["usage"].completion_tokens > 0
    record = gateway.record()
    assert record.usage_source == "estimated"
    assert record.cost > 0

"""Anthropic channels end to end: the OpenAI SDK as the client, the fake upstream speaking the
Messages API: text, tools, images, reasoning, cache tokens, errors, fallback."""

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
    USER,
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

CLAUDE = "claude-sonnet-4-5"


def claude(gateway, upstream_model=CLAUDE, **options):
    return provider_channel(
        gateway, "claude", api_type="anthropic", upstream_model=upstream_model, **options
    )


def messages_sent(gateway):
    return [r["body"] for r in sent(gateway, "/v1/messages")]


@STREAM
def test_text_answer_usage_and_record(gateway, stream):
    claude(gateway)

    answer = answer_of(gateway, stream=stream)

    assert answer["text"] == REPLY
    assert answer["finish_reason"] == "stop"
    assert (answer["usage"].prompt_tokens, answer["usage"].completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert Decimal(str(answer["usage"].model_extra["cost"])) == expected
    [request] = sent(gateway, "/v1/messages")
    assert request["headers"]["x-api-key"] == CHANNEL_SECRET_PREFIX + "claude"
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request["headers"]
    body = request["body"]
    assert body["model"] == CLAUDE
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": USER["content"]}]}
    ]
    assert body["max_tokens"] == 4096, "Anthropic requires max_tokens: the default fills in"
    record = gateway.record()
    assert (record.status, record.stream, record.provider) == ("ok", stream, "anthropic")
    assert (record.prompt_tokens, record.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert (record.usage_source, record.cost) == ("provider", expected)


def test_the_models_answer_budget_is_the_default_and_the_clients_wins(gateway):
    claude(gateway, max_output_tokens=300)

    completion, _ = create(gateway)
    short, _ = create(gateway, max_tokens=3)

    assert [body["max_tokens"] for body in messages_sent(gateway)] == [300, 3]
    assert completion.choices[0].finish_reason == "stop"
    assert short.choices[0].message.content == "Hello from the"
    assert short.choices[0].finish_reason == "length"
    assert short.choices[0].model_extra["native_finish_reason"] == "max_tokens"


@STREAM
def test_tool_call_with_streamed_arguments(gateway, stream):
    claude(gateway)

    answer = answer_of(
        gateway,
        stream=stream,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        parallel_tool_calls=False,
    )

    assert answer["finish_reason"] == "tool_calls"
    [call] = answer["calls"].values()
    assert (call["name"], call["arguments"]) == ("get_weather", WEATHER_ARGUMENTS)
    assert call["id"].startswith("toolu_")
    [body] = messages_sent(gateway)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_tool_results_go_back_as_tool_result_blocks(gateway):
    claude(gateway)
    call = {
        "id": "toolu_01",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    history = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_01", "content": '{"temp_c": 18}'},
        {"role": "user", "content": "And tomorrow?"},
    ]

    completion, _ = create(gateway, messages=history, tools=[WEATHER_TOOL], tool_choice="none")

    assert completion.choices[0].message.content == REPLY
    [body] = messages_sent(gateway)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": '{"temp_c": 18}'},
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]


def test_images_as_base64_and_url_sources(gateway):
    claude(gateway)
    completion, _ = create(gateway, messages=[image_message("https://example.com/cat.jpg")])

    assert completion.choices[0].message.content == REPLY
    [body] = messages_sent(gateway)
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_audio_is_refused_as_the_clients_400_naming_the_part(gateway):
    claude(gateway)
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}

    with pytest.raises(openai.BadRequestError) as caught:
        create(gateway, messages=[{"role": "user", "content": [audio]}])

    assert "input_audio" in caught.value.message
    assert caught.value.body["param"] == "messages[0].content[0]"
    assert sent(gateway, "/v1/messages") == []


@STREAM
def test_reasoning_comes_back_in_both_spellings_and_is_billed(gateway, stream):
    claude(gateway, max_output_tokens=2000)

    answer = answer_of(
        gateway, stream=stream, extra_body={"reasoning": {"effort": "high"}}, temperature=0.3
    )

    assert answer["text"] == REPLY
    assert answer["reasoning"] == (THINKING, THINKING)
    details = answer["usage"].completion_tokens_details
    assert details.reasoning_tokens == THINKING_TOKENS
    assert answer["usage"].completion_tokens == COMPLETION_TOKENS + THINKING_TOKENS
    [body] = messages_sent(gateway)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1600}
    assert "temperature" not in body, "Anthropic forbids sampling changes while thinking"
    record = gateway.record()
    assert record.reasoning_tokens == THINKING_TOKENS
    assert record.completion_tokens == COMPLETION_TOKENS + THINKING_TOKENS


def test_excluded_reasoning_is_thought_but_not_shown(gateway):
    claude(gateway)

    completion, _ = create(gateway, extra_body={"reasoning": {"max_tokens": 2048, "exclude": True}})

    message = completion.choices[0].message
    assert message.content == REPLY
    assert "reasoning_content" not in (message.model_extra or {})
    assert "reasoning" not in (message.model_extra or {})
    assert completion.usage.completion_tokens_details.reasoning_tokens == THINKING_TOKENS
    [body] = messages_sent(gateway)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 4096


@STREAM
def test_cache_reads_are_part_of_the_prompt_at_the_cached_price(gateway, stream):
    claude(gateway, upstream_model=fault_model(CLAUDE, cached_tokens=10), price=("1", "2", "0.1"))

    answer = answer_of(gateway, stream=stream)

    usage = answer["usage"]
    assert usage.prompt_tokens == PROMPT_TOKENS
    assert usage.prompt_tokens_details.cached_tokens == 10
    expected = cost(PROMPT_TOKENS, COMPLETION_TOKENS, 10, ("1", "2", "0.1"))
    assert Decimal(str(usage.model_extra["cost"])) == expected
    record = gateway.record()
    assert (record.prompt_tokens, record.cached_tokens, record.cost) == (
        PROMPT_TOKENS,
        10,
        expected,
    )


@STREAM
def test_missing_usage_is_estimated_and_marked(gateway, stream):
    claude(gateway, upstream_model=fault_model(CLAUDE, no_usage=True))

    answer = answer_of(gateway, stream=stream)

    assert answer["text"] == REPLY
    assert answer["usage"].completion_tokens > 0
    record = gateway.record()
    assert record.usage_source == "estimated"
    assert record.cost > 0


def test_an_upstream_400_reaches_the_client_with_anthropics_message(gateway):
    claude(gateway, upstream_model=fault_model(CLAUDE, status=400))

    with pytest.raises(openai.BadRequestError) as caught:
        create(gateway)

    assert "Fake upstream injected HTTP 400 fault" in caught.value.message


def test_an_error_event_mid_stream_is_the_in_band_error(gateway):
    claude(gateway, upstream_model=fault_model(CLAUDE, error_after=5, chunk_delay_ms=30))

    text, error = in_band_error(gateway)

    assert text == "Hello from"
    assert type(error) is openai.APIError
    assert error.message == "Fake upstream injected mid-stream error"
    assert error.code == "overloaded_error"
    record = gateway.record()
    assert (record.status, record.error_code) == ("error", "overloaded_error")


@STREAM
def test_overloaded_529_falls_back_to_an_openai_channel(gateway, stream):
    claude(gateway, upstream_model=fault_model(CLAUDE, status=529), priority=10)
    provider_channel(gateway, "main", api_type="openai", upstream_model="gpt-4o-mini")

    answer = answer_of(gateway, stream=stream)

    assert answer["text"] == REPLY
    record = gateway.record()
    assert [(a["channel"], a["outcome"], a["http_status"]) for a in record.attempts] == [
        ("claude", "server_error", 529),
        ("main", "ok", 200),
    ]
    assert "overloaded_error" in record.attempts[0]["error"]
    assert record.provider == "openai"


def test_overloaded_everywhere_is_a_503_for_the_client(gateway):
    claude(gateway, upstream_model=fault_model(CLAUDE, status=529))

    with pytest.raises(openai.InternalServerError) as caught:
        create(gateway)

    assert caught.value.status_code == 503
    assert caught.value.code == "all_channels_failed"
    assert "overloaded_error" in caught.value.message


def test_signed_thinking_round_trips_on_a_tool_use_turn(gateway):
    claude(gateway, max_output_tokens=4000)
    reasoning = {"reasoning": {"effort": "medium"}}
    first, _ = create(gateway, tools=[WEATHER_TOOL], extra_body=reasoning)
    message = first.choices[0].message
    [block] = message.model_extra["thinking_blocks"]
    assert (block["thinking"], block["signature"]) == (THINKING, "EqQBCkgIARABGAIiQFakeSignature")
    call = message.tool_calls[0]
    history = [
        *MESSAGES,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
    ]

    second, _ = create(gateway, messages=history, tools=[WEATHER_TOOL], extra_body=reasoning)

    # The fake upstream answers a tool result with text, so agent loops end.
    assert second.choices[0].finish_reason == "stop"
    body = messages_sent(gateway)[-1]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert [b["type"] for b in body["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert body["messages"][1]["content"][0] == block

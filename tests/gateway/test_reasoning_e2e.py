"""Reasoning through OpenAI-compatible channels end to end: OpenRouter's `reasoning` object goes
upstream also as `reasoning_effort`, and the upstream's reasoning (vLLM's `reasoning`) reaches
the client in both spellings, counted in the usage."""

from tests.gateway.providers_helpers import (
    COMPLETION_TOKENS,
    REPLY,
    STREAM,
    THINKING,
    THINKING_TOKENS,
    answer_of,
    provider_channel,
    sent,
)


@STREAM
def test_reasoning_from_an_openai_compatible_upstream_in_both_spellings(gateway, stream):
    provider_channel(gateway, "vllm", api_type="openai", upstream_model="qwen3")

    answer = answer_of(gateway, stream=stream, extra_body={"reasoning": {"effort": "high"}})

    assert answer["text"] == REPLY
    assert answer["reasoning"] == (THINKING, THINKING)
    usage = answer["usage"]
    assert usage.completion_tokens == COMPLETION_TOKENS + THINKING_TOKENS
    assert usage.completion_tokens_details.reasoning_tokens == THINKING_TOKENS
    [request] = sent(gateway, "/v1/chat/completions")
    assert request["body"]["reasoning_effort"] == "high"
    assert request["body"]["reasoning"] == {"effort": "high"}
    assert gateway.record().reasoning_tokens == THINKING_TOKENS


def test_reasoning_switched_off_asks_for_no_effort(gateway):
    provider_channel(gateway, "vllm", api_type="openai", upstream_model="qwen3")

    answer = answer_of(gateway, stream=False, extra_body={"reasoning": {"enabled": False}})

    assert answer["reasoning"] == (None, None)
    [request] = sent(gateway, "/v1/chat/completions")
    assert request["body"]["reasoning_effort"] == "none"

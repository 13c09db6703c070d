"""Helpers for end-to-end tests against Anthropic and Gemini channels on the fake upstream."""

from decimal import Decimal
from typing import Any

import openai
import pytest

from channels.models import Channel
from channels.services import ModelOffer, channel_create
from gateway import catalog
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX, Gateway

MODEL = "acme/chat"
SYSTEM = {"role": "system", "content": "Be brief."}
USER = {"role": "user", "content": "Say hello to the gateway"}
MESSAGES = [SYSTEM, USER]
REPLY = "Hello from the fake upstream, this is deterministic."
# The fake upstream counts 3 tokens per message (the system one too) plus the words.
PROMPT_TOKENS = 3 + 2 + 3 + 5
COMPLETION_TOKENS = 8
THINKING = "The user wants a short friendly answer, so I will greet them."
THINKING_TOKENS = len(THINKING.split())
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_ARGUMENTS = '{"city":"test"}'
PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAAB"
    "JRU5ErkJggg=="
)


def image_message(url: str) -> dict[str, Any]:
    """A user turn with text, a data-URL image and an image at `url`."""
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return {"role": "user", "content": content}


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])


def provider_channel(
    gateway: Gateway,
    name: str,
    *,
    api_type: str,
    upstream_model: str,
    model: str = MODEL,
    price: tuple[str, str, str | None] = ("1", "2", None),
    priority: int = 0,
    **model_options: Any,
) -> Channel:
    """A channel of `api_type` on the fake upstream serving `model` as `upstream_model`."""
    offer = ModelOffer(
        model=model,
        upstream_model=upstream_model,
        input_price=Decimal(price[0]),
        output_price=Decimal(price[1]),
        cached_input_price=None if price[2] is None else Decimal(price[2]),
        **model_options,
    )
    root = gateway.upstream.url
    channel = channel_create(
        name=name,
        provider=api_type if api_type != "openai" else "openai",
        api_type=api_type,
        base_url=root + "/v1" if api_type == "openai" else root,
        api_key=CHANNEL_SECRET_PREFIX + name,
        models=[offer],
        priority=priority,
    )
    catalog.invalidate_catalog()
    gateway.channels.append(channel)
    return channel


def sent(gateway: Gateway, path_start: str) -> list[dict[str, Any]]:
    """Requests the fake upstream received on paths starting with `path_start`."""
    return [r for r in gateway.upstream.requests if r["path"].startswith(path_start)]


def create(gateway: Gateway, **params: Any) -> Any:
    """A non-streaming completion through the SDK, with the raw response's headers."""
    params.setdefault("model", MODEL)
    params.setdefault("messages", MESSAGES)
    raw = gateway.client().chat.completions.with_raw_response.create(**params)
    return raw.parse(), raw.headers


def stream_chunks(gateway: Gateway, **params: Any) -> list[Any]:
    """Every chunk of a streamed completion (usage asked for)."""
    params.setdefault("model", MODEL)
    params.setdefault("messages", MESSAGES)
    params.setdefault("stream_options", {"include_usage": True})
    return list(gateway.client().chat.completions.create(stream=True, **params))


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def reasoning_of(chunks: list[Any]) -> tuple[str, str]:
    """The streamed reasoning under both spellings: (`reasoning_content`, `reasoning`)."""
    deltas = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    return (
        "".join(d.get("reasoning_content") or "" for d in deltas),
        "".join(d.get("reasoning") or "" for d in deltas),
    )


def streamed_calls(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """Tool calls assembled from stream deltas, by their index."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta_call.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = delta_call.id or call["id"]
            if delta_call.function is not None:
                call["name"] += delta_call.function.name or ""
                call["arguments"] += delta_call.function.arguments or ""
    return calls


def answer_of(gateway: Gateway, *, stream: bool, **params: Any) -> dict[str, Any]:
    """The answer as a client sees it, streamed or not: text, reasoning, tool calls, finish
    reason, usage."""
    if not stream:
        completion, headers = create(gateway, **params)
        choice = completion.choices[0]
        extra = choice.message.model_extra or {}
        return {
            "text": choice.message.content,
            "reasoning": (extra.get("reasoning_content"), extra.get("reasoning")),
            "calls": {
                i: {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                for i, c in enumerate(choice.message.tool_calls or [])
            },
            "finish_reason": choice.finish_reason,
            "usage": completion.usage,
            "channel": headers["x-switchyard-channel"],
        }
    chunks = stream_chunks(gateway, **params)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    reasoning = reasoning_of(chunks)
    return {
        "text": text_of(chunks) or None,
        "reasoning": tuple(part or None for part in reasoning),
        "calls": streamed_calls(chunks),
        "finish_reason": next(f for f in finishes if f),
        "usage": chunks[-1].usage,
        "channel": None,
    }


def in_band_error(gateway: Gateway, **params: Any) -> tuple[str, openai.APIError]:
    """A stream that fails after content: the text the client got, and the error raised."""
    chunks: list[Any] = []
    params.setdefault("model", MODEL)
    params.setdefault("messages", MESSAGES)
    stream = gateway.client().chat.completions.create(stream=True, **params)
    with pytest.raises(openai.APIError) as caught:
        chunks.extend(stream)
    return text_of(chunks), caught.value


def cost(
    prompt: int, completion: int, cached: int = 0, prices: tuple[str, ...] = ("1", "2")
) -> Decimal:
    """USD for the tokens at (input, output[, cached input]) prices per 1M."""
    cached_price = Decimal(prices[2]) if len(prices) > 2 else Decimal(prices[0])
    return (
        (prompt - cached) * Decimal(prices[0])
        + cached * cached_price
        + completion * Decimal(prices[1])
    ) / Decimal(10**6)

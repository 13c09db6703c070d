"""Shared constants and helpers for the OpenAI-compatible adapter tests.

Streams come from `tests/fixtures/*.sse`: real recordings of the fake upstream (re-record with
`python -m tests.channels.adapters.test_openai_compat_stream_fixtures`) plus two hand-written ones
(vLLM usage in the last content chunk; OpenRouter-style CRLF framing with keep-alive comments).
"""

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bench.fake_upstream import reply_text
from billing.pricing import Prices, usage_cost
from channels.adapters import adapter_for
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    UpstreamStreamError,
)
from core.usage import Usage
from gateway.estimate import estimate_usage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
IDENTITY = ResponseIdentity(model="acme/chat-large", provider="acme")
PRICES = Prices(input=Decimal("0.15"), output=Decimal("0.6"), cached_input=Decimal("0.075"))
PROMPT_ESTIMATE = 7
METERING = Metering(
    cost=lambda usage: usage_cost(usage, PRICES),
    estimate=lambda chars: estimate_usage(prompt_tokens=PROMPT_ESTIMATE, completion_chars=chars),
)
ADAPTER = adapter_for("openai")
SECRET = "sk-live-AbCdEfGh1234567890abcdefghijkl"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def cost(usage: Usage) -> float:
    return float(usage_cost(usage, PRICES))


UPSTREAM_USAGE = {
    "prompt_tokens": 82,
    "completion_tokens": 17,
    "total_tokens": 99,
    "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 9, "accepted_prediction_tokens": 0},
}


def completion(*, choices=None, usage: Any = UPSTREAM_USAGE, **fields) -> bytes:
    body = {
        "id": "chatcmpl-upstream1",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "m-7",
        "system_fingerprint": "fp_1",
        "choices": choices
        if choices is not None
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        **fields,
    }
    if usage is not ...:
        body["usage"] = usage
    return orjson.dumps(body)


def translate(payload: bytes):
    result = ADAPTER.translate_response(payload=payload, identity=IDENTITY, metering=METERING)
    return result, orjson.loads(result.body)


def translator(include_usage: bool = True) -> StreamTranslator:
    return ADAPTER.stream_translator(
        identity=IDENTITY, include_usage=include_usage, metering=METERING
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def relay(pieces, include_usage: bool = True):
    """Feed pieces like the relay does; return (events, error, translator), finishing on [DONE]."""
    stream = translator(include_usage)
    events: list[bytes] = []
    for piece in pieces:
        events += stream.feed(piece)
        if stream.failure is not None:
            return events, stream.failure, stream
    if stream.done:
        events += stream.finish()
    return events, None, stream


def read_sse(stream: bytes) -> list[str]:
    """A plain SSE reader: the `data` of each event."""
    assert not stream or stream.endswith(b"\n\n")
    payloads = []
    for event in stream.decode().split("\n\n")[:-1]:
        lines = event.split("\n")
        assert len(lines) == 1, event
        assert lines[0].startswith("data: "), event
        payloads.append(lines[0][len("data: ") :])
    return payloads


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 40))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# What each recording must read as: the text (or tool-call arguments) per choice, the upstream
# usage if it reported one, and how the stream ends.
STREAMS: dict[str, dict[str, Any]] = {
    "plain_usage.sse": {
        "texts": [reply_text(20)],
        "usage": Usage(prompt_tokens=5, completion_tokens=20),
        "end": "done",
    },
    "plain_no_usage.sse": {"texts": [reply_text(20)], "usage": None, "end": "done"},
    "tool_call.sse": {
        "texts": ['get_weather{"city":"test"}'],
        "usage": Usage(prompt_tokens=5, completion_tokens=10),
        "end": "done",
    },
    "n2.sse": {
        "texts": [reply_text(5, 0), reply_text(5, 1)],
        "usage": Usage(prompt_tokens=5, completion_tokens=10),
        "end": "done",
    },
    "vllm_usage_in_last_chunk.sse": {
        "texts": ["The user greets. Reply briefly.Hi there!"],
        "usage": Usage(
            prompt_tokens=12, completion_tokens=18, cached_tokens=8, reasoning_tokens=11
        ),
        "end": "done",
    },
    "crlf_keepalive.sse": {
        "texts": ["Bonjour le monde"],
        "usage": Usage(prompt_tokens=10, completion_tokens=4),
        "end": "done",
    },
    "cut.sse": {"texts": [reply_text(5)], "usage": None, "end": "cut"},
    "malformed.sse": {"texts": [reply_text(3)], "usage": None, "end": BadUpstreamResponse},
    "error.sse": {"texts": [reply_text(3)], "usage": None, "end": UpstreamStreamError},
}


def generated_text(chunks: list[dict[str, Any]]) -> list[str]:
    texts: dict[int, str] = {}
    for chunk in chunks:
        for item in chunk["choices"]:
            delta = item["delta"]
            text = (delta.get("reasoning_content") or "") + (delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                text += call["function"].get("name", "") + call["function"].get("arguments", "")
            texts[item["index"]] = texts.get(item["index"], "") + text
    return [texts[index] for index in sorted(texts)]


def emitted(events: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(p) for p in read_sse(b"".join(events)) if p != "[DONE]"]

"""Shared helpers for the end-to-end upstream fault tests: asking, failing, channels, outcomes."""

import socket
from collections import Counter
from decimal import Decimal
from typing import Any

import openai
import pytest

from billing.models import UsageRecord
from channels.services import ModelOffer, channel_create
from gateway import catalog
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX, Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
REPLY = "Hello from the fake upstream, this is deterministic."
PROMPT_TOKENS = 3 + 5  # the fake upstream: 3 per message + the words
COMPLETION_TOKENS = 8
GOOD = "good-model"


# --- helpers -------------------------------------------------------------------------------


def ask(
    gateway: Gateway, *, stream: bool, include_usage: bool = True, **extra: Any
) -> dict[str, Any]:
    """One request through the SDK; the answer's text, headers, chunks or completion."""
    options: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, **extra}
    if stream and include_usage:
        options["stream_options"] = {"include_usage": True}
    client: Any = gateway.client()
    raw = client.chat.completions.with_raw_response.create(stream=stream, **options)
    if not stream:
        completion = raw.parse()
        return {
            "text": completion.choices[0].message.content,
            "headers": raw.headers,
            "completion": completion,
            "usage": completion.usage,
        }
    chunks = list(raw.parse())
    usage = [c.usage for c in chunks if c.usage is not None]
    return {
        "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
        "headers": raw.headers,
        "chunks": chunks,
        "usage": usage[-1] if usage else None,
    }


def fail(gateway: Gateway, *, stream: bool, **extra: Any) -> openai.APIStatusError:
    """One request that must end in an HTTP error; the SDK's exception."""
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, stream=stream, **extra)
    return caught.value


def stream_until_error(gateway: Gateway) -> tuple[str, list[Any], openai.APIError, Any]:
    """A stream that fails in-band: the text before the error, the chunks, the error."""
    client: Any = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks: list[Any] = []
    stream = raw.parse()
    with pytest.raises(openai.APIError) as caught:
        chunks.extend(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks, caught.value, raw.headers


def calls(gateway: Gateway) -> Counter[str]:
    """How often each upstream model name (one per channel) was called."""
    return Counter(request["body"]["model"] for request in gateway.received())


def attempts(record: UsageRecord) -> list[tuple[str, str, int | None]]:
    return [(a["channel"], a["outcome"], a["http_status"]) for a in record.attempts]


def cost_of(record: UsageRecord) -> Decimal:
    """What the record's tokens cost at its prices (no cached tokens in these tests)."""
    assert record.input_price is not None
    assert record.output_price is not None
    return (
        record.prompt_tokens * record.input_price + record.completion_tokens * record.output_price
    ) / Decimal(10**6)


def bad_and_good(gateway: Gateway, bad_upstream: str, **bad_fields: Any) -> tuple[Any, Any]:
    """A failing channel tried first (higher priority) and a healthy one after it."""
    bad = gateway.channel("bad", models={MODEL: bad_upstream}, priority=1, **bad_fields)
    good = gateway.channel("good", models={MODEL: GOOD}, priority=0)
    return bad, good


def assert_served_by_good(
    gateway: Gateway, answer: dict[str, Any], good: Any, stream: bool
) -> None:
    """The client got the full normal answer from `good`, with provider usage billed."""
    assert answer["text"] == REPLY
    assert answer["headers"]["x-switchyard-channel"] == "good"
    assert answer["usage"].prompt_tokens == PROMPT_TOKENS
    assert answer["usage"].completion_tokens == COMPLETION_TOKENS
    record = gateway.record()
    assert record.id == answer["headers"]["x-request-id"]
    assert (record.status, record.http_status, record.error_code) == ("ok", 200, "")
    assert record.stream is stream
    assert record.channel_id == good.pk
    assert (record.served_model, record.provider) == (MODEL, "openai")
    assert record.usage_source == "provider"
    assert (record.prompt_tokens, record.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    expected = (PROMPT_TOKENS * Decimal(1) + COMPLETION_TOKENS * Decimal(2)) / Decimal(10**6)
    assert record.cost == expected
    assert Decimal(str(answer["usage"].model_extra["cost"])) == expected


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refusing_channel(gateway: Gateway, name: str, **fields: Any) -> Any:
    """A channel whose base URL points at a closed port (connection refused)."""
    channel = channel_create(
        name=name,
        provider="openai",
        api_type="openai",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        api_key=CHANNEL_SECRET_PREFIX + name,
        models=[
            ModelOffer(
                model=MODEL,
                upstream_model="refused-model",
                input_price=Decimal(1),
                output_price=Decimal(2),
            )
        ],
        **fields,
    )
    catalog.invalidate_catalog()
    gateway.channels.append(channel)
    return channel


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])

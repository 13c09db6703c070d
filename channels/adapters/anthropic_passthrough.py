"""Anthropic's Messages API passed through: a Messages client's own body to an `anthropic`
channel, and the upstream's answer and events back as sent.

Only the model (the channel's upstream name on the way out, the public name on the way back)
and the credentials change; the gateway's routing fields (`provider`, `models`) are removed.
Thinking signatures, `cache_control`, citations, server tools, betas and fields this gateway
does not know reach the upstream and come back untouched. Usage is read from the answer and
the events on the way through; the final `message_stop` is held until the request is billed.
"""

from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.anthropic import AnthropicAdapter, reported_usage, stream_error
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamStreamError,
    UpstreamTarget,
)
from channels.adapters.synthesis import parse_json
from channels.adapters.wire import SSESplitter

GATEWAY_FIELDS = ("provider", "models")
"""OpenRouter's routing controls, which the gateway consumes and Anthropic would refuse."""
# Anthropic's stream events that carry the answer: the first one is the relay's commit point.
CONTENT_EVENTS = frozenset({"content_block_start", "content_block_delta"})
DELTA_TEXT_FIELDS = ("text", "thinking", "partial_json")


def event_bytes(kind: str, data: Mapping[str, Any]) -> bytes:
    """One Messages stream event, named as its `type`."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_event(*, message: str, kind: str) -> bytes:
    """Anthropic's in-band `event: error` (the stream ends after it)."""
    return event_bytes("error", {"type": "error", "error": {"type": kind, "message": message}})


class PassthroughStream(StreamTranslator):
    """An Anthropic stream relayed event by event; only `message_start`'s model is rewritten."""

    # Anthropic's streams end with `message_stop`, never with OpenAI's `[DONE]`.
    error_tail = b""

    def __init__(self, *, identity: ResponseIdentity, metering: Metering) -> None:
        self.identity = identity
        self.metering = metering
        self.content_started = False
        self.done = False
        self.usage = None
        self.failure = None
        self.completion_chars = 0
        self._splitter = SSESplitter()
        self._usage: dict[str, Any] = {}
        self._stop = event_bytes("message_stop", {"type": "message_stop"})

    def feed(self, data: bytes) -> list[bytes]:
        """The events `data` completes, as the upstream sent them."""
        events: list[bytes] = []
        if self.done or self.failure is not None:
            return events
        try:
            for name, payload in self._splitter.feed(data):
                self._relay(name, payload, events)
                if self.done or self.failure is not None:
                    break
        except (BadUpstreamResponse, UpstreamStreamError) as failure:
            self.failure = failure
        return events

    def _relay(self, name: str, payload: bytes, events: list[bytes]) -> None:
        event = parse_json(payload, "stream event")
        kind = str(event.get("type") or name)
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self._usage = dict(message.get("usage") or {})
                event = {**event, "message": {**message, "model": self.identity.model}}
                payload = orjson.dumps(event)
        elif kind in CONTENT_EVENTS:
            self.content_started = True
            self.completion_chars += _generated_chars(event)
        elif kind == "message_delta":
            usage = event.get("usage")
            if isinstance(usage, dict) and "output_tokens" in usage:
                self._usage.update(usage)
                self.usage = reported_usage(self._usage)
        elif kind == "message_stop":
            self.done = True
            self._stop = b"event: message_stop\ndata: " + payload + b"\n\n"
            return  # held until the request is billed: see `finish`
        elif kind == "error":
            raise stream_error(event.get("error"))
        events.append(b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n")

    def finish(self) -> list[bytes]:
        """The upstream's `message_stop`, once the request is billed."""
        return [self._stop]

    def error_event(self, *, message: str, code: str) -> bytes:
        """Anthropic's `event: error`: overloaded when the gateway is shutting down."""
        kind = "overloaded_error" if code == "gateway_shutting_down" else "api_error"
        return error_event(message=message, kind=kind)


def _generated_chars(event: Mapping[str, Any]) -> int:
    delta = event.get("delta")
    if not isinstance(delta, dict):
        return 0
    return sum(len(text) for key in DELTA_TEXT_FIELDS if isinstance(text := delta.get(key), str))


class AnthropicPassthrough(AnthropicAdapter):
    """The Anthropic adapter for a Messages client: its body and protocol headers
    (`anthropic-version`, `anthropic-beta`) go upstream as sent."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.client_headers = dict(headers)
        """The client's protocol headers (the door picks which), sent on unchanged."""

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<API root>/messages` with the client's Messages body (model replaced) and its
        `anthropic-version` (default 2023-06-01) and `anthropic-beta`."""
        payload = {name: value for name, value in body.items() if name not in GATEWAY_FIELDS}
        payload["model"] = target.upstream_model
        if stream:
            payload["stream"] = True
        return self.messages_request(payload, target, self.client_headers)

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """The upstream's message as sent, its `model` the public one; usage read from it."""
        message = parse_json(payload, "answer")
        blocks = message.get("content")
        if not isinstance(blocks, list):
            raise BadUpstreamResponse("upstream answer has no content list")
        usage = message.get("usage")
        body = orjson.dumps({**message, "model": identity.model})
        if isinstance(usage, dict) and "output_tokens" in usage:
            return TranslatedResponse(body, reported_usage(usage), usage_estimated=False)
        chars = sum(
            _generated_chars({"delta": block}) for block in blocks if isinstance(block, dict)
        )
        return TranslatedResponse(body, metering.estimate(chars), usage_estimated=True)

    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """A fresh pass-through stream."""
        return PassthroughStream(identity=identity, metering=metering)

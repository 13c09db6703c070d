"""OpenAI answers built from scratch, for protocols that are translated rather than relayed
(Anthropic, Gemini): completion bodies, stream chunks stamped with the gateway's identity, priced
usage, and reasoning in both spellings (`reasoning_content` and OpenRouter's `reasoning`)."""

import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

import orjson

from channels.adapters.base import (
    Adapter,
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    TranslatedResponse,
    UpstreamStreamError,
)
from channels.adapters.wire import (
    SSEEvent,
    SSESplitter,
    envelope_message,
    generate_id,
    tool_calls_chars,
)
from core.log_filters import scrub
from core.usage import Usage

DONE_EVENT = b"data: [DONE]\n\n"
_DATA = b"data: "
_END = b"\n\n"


def reasoning_fields(text: str) -> dict[str, str]:
    """Reasoning text under both names clients read."""
    return {"reasoning_content": text, "reasoning": text}


def usage_body(usage: Usage, metering: Metering) -> dict[str, Any]:
    """The client-facing `usage` object with its `cost` in USD; the cache writes (part of the
    prompt, 5-minute and 1-hour together) are reported under OpenRouter's name,
    `prompt_tokens_details.cache_write_tokens`, when the upstream wrote to its cache."""
    prompt_details: dict[str, int] = {"cached_tokens": usage.cached_tokens}
    if usage.cache_writes:
        prompt_details["cache_write_tokens"] = usage.cache_writes
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "cost": float(metering.cost(usage)),
    }


@dataclass(slots=True)
class ChoiceDraft:
    """One choice of a non-streaming answer, assembled from the upstream's content blocks."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = "stop"
    native_finish_reason: str | None = None

    def chars(self) -> int:
        """Characters generated, to estimate usage when the upstream reports none."""
        generated = sum(map(len, self.text)) + sum(map(len, self.reasoning))
        return generated + tool_calls_chars(self.tool_calls)

    def choice(self, index: int, *, exclude_reasoning: bool) -> dict[str, Any]:
        """The OpenAI `choices[]` item."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text) if self.text or not self.tool_calls else None,
        }
        if self.reasoning and not exclude_reasoning:
            message.update(reasoning_fields("".join(self.reasoning)))
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        message.update(self.extra)
        return {
            "index": index,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
            "native_finish_reason": self.native_finish_reason,
        }


def completion_response(
    *,
    identity: ResponseIdentity,
    choices: list[ChoiceDraft],
    reported: Usage | None,
    metering: Metering,
) -> TranslatedResponse:
    """A `chat.completion` body with priced usage: the upstream's, else an estimate (marked)."""
    estimated = reported is None
    usage = metering.estimate(sum(c.chars() for c in choices)) if reported is None else reported
    body = {
        "id": generate_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": identity.model,
        "provider": identity.provider,
        "choices": [
            choice.choice(index, exclude_reasoning=identity.exclude_reasoning)
            for index, choice in enumerate(choices)
        ],
        "usage": usage_body(usage, metering),
    }
    return TranslatedResponse(orjson.dumps(body), usage, estimated)


def parse_json(payload: bytes, what: str) -> dict[str, Any]:
    """A JSON object from the upstream, or BadUpstreamResponse naming `what` it should be."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadUpstreamResponse(f"upstream sent malformed JSON as its {what}") from None
    if not isinstance(value, dict):
        raise BadUpstreamResponse(f"upstream {what} is not a JSON object")
    return value


class SynthesizedStream(StreamTranslator):
    """A stream translator that writes every OpenAI chunk itself from the upstream's events.

    Subclasses implement `_on_event`, calling the `_text`, `_reasoning`, `_tool_call` and
    `_finish_choice` helpers, setting `usage` and `done`.
    """

    def __init__(
        self,
        *,
        identity: ResponseIdentity,
        include_usage: bool,
        metering: Metering,
    ) -> None:
        self.identity = identity
        self.include_usage = include_usage
        self.metering = metering
        self.exclude_reasoning = identity.exclude_reasoning
        self.content_started = False
        self.done = False
        self.usage = None
        self.failure = None
        self.completion_chars = 0
        self._id = generate_id()
        self._created = int(time.time())
        self._splitter = SSESplitter()
        self._roles_sent: set[int] = set()
        self._late: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Consume upstream bytes; return the client events they complete."""
        if self.done or self.failure is not None:
            return []
        events: list[bytes] = []
        try:
            self._consume(self._splitter.feed(data), events)
        except (BadUpstreamResponse, UpstreamStreamError) as failure:
            self.failure = failure
        return events

    def _consume(self, upstream_events: list[SSEEvent], events: list[bytes]) -> None:
        for name, payload in upstream_events:
            self._on_event(name, payload, events)
            if self.done:
                return

    def end_of_input(self) -> None:
        """Translate a last event that lacked its blank line; its chunks go out with `finish`."""
        if self.done or self.failure is not None:
            return
        try:
            self._consume(self._splitter.rest(), self._late)
        except (BadUpstreamResponse, UpstreamStreamError) as failure:
            self.failure = failure

    @abstractmethod
    def _on_event(self, name: str, payload: bytes, events: list[bytes]) -> None:
        """Translate one upstream event into `events`; raise on a malformed or error event."""

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.identity.model,
            "provider": self.identity.provider,
            "choices": choices,
            **extra,
        }
        if self.include_usage and "usage" not in chunk:
            chunk["usage"] = None
        return _DATA + orjson.dumps(chunk) + _END

    def _delta(
        self,
        events: list[bytes],
        index: int,
        delta: dict[str, Any],
        finish: tuple[str, str | None] | None = None,
    ) -> None:
        """Emit one choice's delta (the first one of a choice carries the role)."""
        if index not in self._roles_sent:
            self._roles_sent.add(index)
            delta = {"role": "assistant", **delta}
            delta.setdefault("content", "")
        choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": None}
        if finish is not None:
            choice["finish_reason"], choice["native_finish_reason"] = finish
        events.append(self._chunk([choice]))

    def _role(self, events: list[bytes], index: int = 0) -> None:
        """The opening chunk of a choice: its role and empty content."""
        if index not in self._roles_sent:
            self._delta(events, index, {})

    def _text(self, events: list[bytes], index: int, text: str) -> None:
        if text:
            self.content_started = True
            self.completion_chars += len(text)
            self._delta(events, index, {"content": text})

    def _reasoning(self, events: list[bytes], index: int, text: str) -> None:
        if not text:
            return
        self.completion_chars += len(text)
        if not self.exclude_reasoning:
            self.content_started = True
            self._delta(events, index, reasoning_fields(text))

    def _tool_call(
        self, events: list[bytes], index: int, call: dict[str, Any], *, chars: int
    ) -> None:
        """One `tool_calls[]` delta item (`index` is the choice, `call["index"]` the call's)."""
        self.content_started = True
        self.completion_chars += chars
        self._delta(events, index, {"tool_calls": [call]})

    def _finish_choice(
        self, events: list[bytes], index: int, reason: str, native: str | None
    ) -> None:
        self.content_started = True
        self._delta(events, index, {}, finish=(reason, native))

    def finish(self) -> list[bytes]:
        """Chunks of a last unterminated event, the priced usage chunk when the client asked
        for usage (estimated when the upstream gave none), then `[DONE]`."""
        events = self._late
        if self.include_usage:
            usage = self.usage or self.metering.estimate(self.completion_chars)
            body = usage_body(usage, self.metering)
            events.append(self._chunk([], usage=body))
        events.append(DONE_EVENT)
        return events

    def error_event(self, *, message: str, code: str) -> bytes:
        """One chunk-shaped in-band error event"""
        error = {"message": scrub(message), "type": "upstream_error", "param": None, "code": code}
        return self._chunk([{"index": 0, "delta": {}, "finish_reason": None}], error=error)


class TranslatingAdapter(Adapter):
    """What the translated protocols share: their own stream translator, a versioned API root
    under the channel's base URL, and errors in an `{"error": {"message", …}}` envelope."""

    translator: type[SynthesizedStream]
    api_version: str
    """The path appended to a base URL that does not end in a version already, e.g. `/v1`."""
    known_versions: tuple[str, ...] = ()

    def api_root(self, base_url: str) -> str:
        """The versioned API root for a channel's base URL."""
        root = base_url.rstrip("/")
        versions = (self.api_version, *self.known_versions)
        return root if root.endswith(versions) else root + self.api_version

    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """A fresh translator for one streamed answer."""
        return self.translator(identity=identity, include_usage=include_usage, metering=metering)

    def error_message(self, *, status: int, payload: bytes) -> str:
        """The envelope's `error.message` with its error type or status name; credentials
        scrubbed."""
        return envelope_message(status=status, payload=payload)

    def models_url(self, *, base_url: str) -> str:
        """`<API root>/models`."""
        return self.api_root(base_url) + "/models"

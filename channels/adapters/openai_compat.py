"""OpenAI-compatible upstreams (OpenAI, OpenRouter, vLLM, DeepSeek, …): nearly a pass-through.

The request keeps every field the client sent, plus the answer cap admission reserved for; the
answer is re-stamped with the gateway's identity (public model, provider, one id per stream), its
usage priced, reasoning mirrored as `reasoning_content` and nonstandard finish reasons
normalised.

The answer cap: a request without `max_tokens` and `max_completion_tokens` gets the target's
`max_output_tokens` (the channel model's, else GATEWAY_DEFAULT_MAX_TOKENS: what was reserved), per
choice like the client's own, so that no upstream bills an answer longer than was held. It goes
as `max_tokens`, which every OpenAI-compatible server takes, except as `max_completion_tokens`
when the client spelled its fields that way or the upstream is OpenAI's own (`api.openai.com`,
Azure's `*.openai.azure.com`), whose reasoning models refuse `max_tokens`. A client that sent
both gets its `max_tokens` lowered to its `max_completion_tokens` (the one reserved for) so that a
server that reads `max_tokens` first cannot answer longer either.
"""

import time
from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import orjson

from channels.adapters.base import (
    Adapter,
    BadUpstreamResponse,
    Embeddings,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamStreamError,
    UpstreamTarget,
)
from channels.adapters.embeddings import EMBEDDINGS, vector_of
from channels.adapters.reasoning import reasoning_of
from channels.adapters.wire import (
    MAX_EVENT_BYTES,
    envelope_message,
    function_chars,
    generate_id,
    token_count,
    tool_calls_chars,
)
from core.log_filters import scrub
from core.usage import Usage

CHAT_PATH = "/chat/completions"
EMBEDDINGS_PATH = "/embeddings"
STREAM_ERROR_FALLBACK = "the upstream reported an error in its stream"

STANDARD_FINISH_REASONS = frozenset(
    {"stop", "length", "tool_calls", "content_filter", "function_call"}
)
FINISH_REASON_MAP = {"max_tokens": "length", "tool_use": "tool_calls", "end_turn": "stop"}

REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details")
_DATA = b"data: "
_END = b"\n\n"
_DONE_EVENT = b"data: [DONE]\n\n"
_DONE = b"[DONE]"


def _reports_usage(raw: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(raw, dict) and ("prompt_tokens" in raw or "completion_tokens" in raw)


def usage_from(raw: Mapping[str, Any]) -> Usage:
    """Usage from an OpenAI `usage` object; missing details count as 0. Cache writes are
    OpenRouter's `prompt_tokens_details.cache_write_tokens`, taken as 5-minute writes."""
    prompt_details = raw.get("prompt_tokens_details")
    writes = 0
    if isinstance(prompt_details, dict):
        cached = token_count(prompt_details.get("cached_tokens"))
        writes = token_count(prompt_details.get("cache_write_tokens"))
    else:  # DeepSeek's older spelling
        cached = token_count(raw.get("prompt_cache_hit_tokens"))
    completion_details = raw.get("completion_tokens_details")
    reasoning = (
        token_count(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else 0
    )
    return Usage(
        prompt_tokens=token_count(raw.get("prompt_tokens")),
        completion_tokens=token_count(raw.get("completion_tokens")),
        cached_tokens=cached,
        reasoning_tokens=reasoning,
        cache_write_tokens=writes,
    )


def _priced_usage(
    raw: Mapping[str, Any] | None, usage: Usage, metering: Metering
) -> dict[str, Any]:
    """The client-facing `usage` object: the upstream's (every field kept) or the estimate's
    counts, with `total_tokens` and `cost` (USD) filled in."""
    body: dict[str, Any] = {} if raw is None else dict(raw)
    if raw is None:
        body["prompt_tokens"] = usage.prompt_tokens
        body["completion_tokens"] = usage.completion_tokens
    if body.get("total_tokens") is None:
        body["total_tokens"] = usage.prompt_tokens + usage.completion_tokens
    body["cost"] = float(metering.cost(usage))
    return body


def _normalise_finish(choice: dict[str, Any], reason: object) -> None:
    choice["native_finish_reason"] = reason
    choice["finish_reason"] = (
        FINISH_REASON_MAP.get(reason, "stop") if isinstance(reason, str) else "stop"
    )


def _generated_chars(message: dict[str, Any], *, exclude_reasoning: bool = False) -> int:
    """Characters of generated text in a message or delta; reasoning is mirrored so that it is
    there in both spellings, `reasoning_content` and OpenRouter's `reasoning`, or,
    with `exclude_reasoning`, counted and left out."""
    chars = 0
    value = message.get("content")
    if isinstance(value, str):
        chars += len(value)
    value = message.get("reasoning_content")
    if value is None:
        value = message.get("reasoning")
        if isinstance(value, str):
            message["reasoning_content"] = value
    elif isinstance(value, str) and message.get("reasoning") is None:
        message["reasoning"] = value
    if isinstance(value, str):
        chars += len(value)
    if exclude_reasoning:
        for name in REASONING_FIELDS:
            message.pop(name, None)
    value = message.get("refusal")
    if isinstance(value, str):
        chars += len(value)
    return (
        chars
        + tool_calls_chars(message.get("tool_calls"))
        + function_chars(message.get("function_call"))
    )


def _stream_error(error: object) -> UpstreamStreamError:
    message = STREAM_ERROR_FALLBACK
    code: str | None = None
    if isinstance(error, dict):
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        raw_code = error.get("code")
        code = None if raw_code is None else str(raw_code)
    elif isinstance(error, str):
        message = error
    return UpstreamStreamError(scrub(message), code=code)


def _event_payload(block: bytes) -> bytes | None:
    """The data of one SSE event block (lines already `\\n`-separated), or None if it has none."""
    if block.startswith(_DATA) and b"\n" not in block:
        return block[6:]
    lines = []
    for line in block.split(b"\n"):
        if not line or line[:1] == b":":
            continue
        field, _, value = line.partition(b":")
        if field == b"data":
            lines.append(value[1:] if value[:1] == b" " else value)
    return b"\n".join(lines) if lines else None


class OpenAIStreamTranslator(StreamTranslator):
    """Re-frames an OpenAI-compatible SSE stream for the client."""

    def __init__(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> None:
        self.identity = identity
        self.include_usage = include_usage
        self.metering = metering
        self.content_started = False
        self.done = False
        self.usage = None
        self.completion_chars = 0
        self._raw_usage: dict[str, Any] | None = None
        self._parts: list[bytes] = []
        self._buffered = 0
        self._id: str | None = None
        self._created = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Consume upstream bytes; return the client events they complete."""
        if self.done or self.failure is not None:
            return []
        # Events completed before a failure in the same read are still delivered: the client
        # may already have been sent the first part of this answer.
        events: list[bytes] = []
        try:
            self._read(data, events)
        except (BadUpstreamResponse, UpstreamStreamError) as failure:
            self.failure = failure
        return events

    def _read(self, data: bytes, events: list[bytes]) -> None:
        """Translate every event `data` completes into `events`; hold back an unfinished one."""
        parts = self._parts
        if parts:
            if b"\n" not in data and b"\r" not in data:  # the middle of a long event
                parts.append(data)
                self._buffered += len(data)
                if self._buffered > MAX_EVENT_BYTES:
                    raise BadUpstreamResponse("upstream stream event exceeds the size limit")
                return
            parts.append(data)
            data = b"".join(parts)
            parts.clear()
        tail = b""
        if b"\r" in data:
            if data[-1:] == b"\r":  # may be the first half of a CRLF split across reads
                data, tail = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = data.split(_END)
        pending = blocks.pop() + tail if tail else blocks.pop()
        for block in blocks:
            payload = _event_payload(block)
            if payload is None:
                continue
            if payload == _DONE:
                self._end()
                return
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                stripped = payload.strip()
                if stripped == _DONE:
                    self._end()
                    return
                if not stripped:
                    continue
                raise BadUpstreamResponse("upstream sent a malformed stream event") from None
            event = self._translate(chunk)
            if event is not None:
                events.append(event)
        if pending:
            self._hold(pending)

    def _end(self) -> None:
        self.done = True
        self._parts.clear()

    def _hold(self, pending: bytes) -> None:
        """Keep the start of an incomplete event for the next read."""
        # `data: [DONE]` whose blank line never comes (the upstream closes right after it).
        if _DONE in pending[-8:] and _event_payload(pending.rstrip(b"\r\n")) == _DONE:
            self._end()
            return
        if len(pending) > MAX_EVENT_BYTES:
            raise BadUpstreamResponse("upstream stream event exceeds the size limit")
        self._parts.append(pending)
        self._buffered = len(pending)

    def _translate(self, chunk: Any) -> bytes | None:
        if not isinstance(chunk, dict):
            raise BadUpstreamResponse("upstream stream event is not a JSON object")
        error = chunk.get("error")
        if error:
            raise _stream_error(error)
        choices = chunk.get("choices")
        usage = chunk.get("usage")
        if usage is not None:
            if _reports_usage(usage):
                self._raw_usage = usage
                self.usage = usage_from(usage)
            if not choices:
                return None  # the usage chunk: sent by finish(), priced
        if not isinstance(choices, list):
            raise BadUpstreamResponse("upstream stream event has no choices list")
        if self._id is None:
            self._adopt_identity(chunk)
        chunk["id"] = self._id
        chunk["object"] = "chat.completion.chunk"
        chunk["created"] = self._created
        chunk["model"] = self.identity.model
        chunk["provider"] = self.identity.provider
        if self.include_usage:
            chunk["usage"] = None
        else:
            chunk.pop("usage", None)
        started = self.content_started
        for choice in choices:
            if not isinstance(choice, dict):
                raise BadUpstreamResponse("upstream stream choice is not an object")
            reason = choice.get("finish_reason")
            if reason is not None:
                started = True
                if not isinstance(reason, str) or reason not in STANDARD_FINISH_REASONS:
                    _normalise_finish(choice, reason)
            delta = choice.get("delta")
            if delta and isinstance(delta, dict):
                chars = _generated_chars(delta, exclude_reasoning=self.identity.exclude_reasoning)
                self.completion_chars += chars
                if not started and (chars or delta.get("tool_calls") or delta.get("function_call")):
                    started = True
        self.content_started = started
        return _DATA + orjson.dumps(chunk) + _END

    def _adopt_identity(self, chunk: dict[str, Any]) -> None:
        upstream_id = chunk.get("id")
        self._id = upstream_id if upstream_id and isinstance(upstream_id, str) else generate_id()
        created = chunk.get("created")
        self._created = created if isinstance(created, int) else int(time.time())

    def _identity(self) -> tuple[str, int]:
        if self._id is None:
            self._id, self._created = generate_id(), int(time.time())
        return self._id, self._created

    def _own_chunk(self, **fields: Any) -> bytes:
        """A chunk the gateway adds to the stream, with the stream's identity, as one event."""
        chunk_id, created = self._identity()
        chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": self.identity.model,
            "provider": self.identity.provider,
            **fields,
        }
        return _DATA + orjson.dumps(chunk) + _END

    def finish(self) -> list[bytes]:
        """The priced usage chunk (when the client asked for usage), then `[DONE]`."""
        if not self.include_usage:
            return [_DONE_EVENT]
        usage = self.usage
        if usage is None:
            usage = self.metering.estimate(self.completion_chars)
        priced = _priced_usage(self._raw_usage, usage, self.metering)
        return [self._own_chunk(choices=[], usage=priced), _DONE_EVENT]

    def error_event(self, *, message: str, code: str) -> bytes:
        """One chunk-shaped in-band error event"""
        return self._own_chunk(
            error={
                "message": scrub(message),
                "type": "upstream_error",
                "param": None,
                "code": code,
            },
            choices=[{"index": 0, "delta": {}, "finish_reason": None}],
        )


def _reasoning_effort(body: Mapping[str, Any]) -> str | None:
    """`reasoning_effort` for a `reasoning` object with an effort or an on/off switch, unless
    the client set `reasoning_effort` itself (the object goes upstream too: OpenRouter and
    vLLM read it)."""
    asked = body.get("reasoning")
    if "reasoning_effort" in body or not isinstance(asked, Mapping):
        return None
    if asked.get("effort") is None and not isinstance(asked.get("enabled"), bool):
        return None
    reasoning = reasoning_of(body)
    return None if reasoning is None else reasoning.openai_effort()


def _uses_max_completion_tokens(base_url: str) -> bool:
    """Whether the upstream is OpenAI's own API, where reasoning models refuse `max_tokens`."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def _cap_answer(payload: dict[str, Any], target: UpstreamTarget) -> None:
    """Put the answer cap admission reserved for into the payload (see the module docstring)."""
    asked = payload.get("max_completion_tokens")
    if asked is not None:
        plain = payload.get("max_tokens")
        if isinstance(plain, int) and isinstance(asked, int) and plain > asked:
            payload["max_tokens"] = asked
        return
    if payload.get("max_tokens") is not None or not target.max_output_tokens:
        return
    if "max_completion_tokens" in payload or _uses_max_completion_tokens(target.base_url):
        payload["max_completion_tokens"] = target.max_output_tokens
    else:
        payload["max_tokens"] = target.max_output_tokens


def _headers(target: UpstreamTarget) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return headers


class OpenAICompatAdapter(Adapter):
    """The OpenAI chat completions protocol, spoken by most hosted and self-hosted servers, and
    its embeddings endpoint."""

    api_type = "openai"
    operations = frozenset({"chat", EMBEDDINGS})

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<base_url>/chat/completions` with the client's body, the upstream model name,
        the reserved answer cap when the client set none, OpenRouter's `reasoning` also said as
        `reasoning_effort`, and, when streaming, `stream_options.include_usage` forced on."""
        payload = dict(body)
        payload["model"] = target.upstream_model
        _cap_answer(payload, target)
        effort = _reasoning_effort(body)
        if effort is not None:
            payload["reasoning_effort"] = effort
        if stream:
            payload["stream"] = True
            options = body.get("stream_options")
            merged = dict(options) if isinstance(options, Mapping) else {}
            merged["include_usage"] = True
            payload["stream_options"] = merged
        else:
            # OpenAI rejects stream_options without stream (400).
            payload.pop("stream_options", None)
            if "stream" in payload:
                payload["stream"] = False
        return UpstreamRequest(
            url=target.base_url.rstrip("/") + CHAT_PATH,
            headers=_headers(target),
            content=orjson.dumps(payload),
        )

    def embeddings_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget
    ) -> UpstreamRequest:
        """POST `<base_url>/embeddings` with the client's body and the upstream model name."""
        payload = {**body, "model": target.upstream_model}
        return UpstreamRequest(
            url=target.base_url.rstrip("/") + EMBEDDINGS_PATH,
            headers=_headers(target),
            content=orjson.dumps(payload),
        )

    def embeddings_response(self, *, payload: bytes) -> Embeddings:
        """The `data` items' embeddings in `index` order, and `usage.prompt_tokens` if given."""
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise BadUpstreamResponse("upstream answered malformed JSON") from None
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BadUpstreamResponse("upstream answer has no data list")
        ordered = sorted(items, key=lambda item: token_count(item.get("index")))
        raw = body.get("usage")
        usage = (
            Usage(prompt_tokens=token_count(raw.get("prompt_tokens")))
            if isinstance(raw, dict) and "prompt_tokens" in raw
            else None
        )
        return Embeddings([vector_of(item.get("embedding")) for item in ordered], usage)

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """The upstream's `chat.completion`, stamped and priced (estimated if it gave no usage)."""
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise BadUpstreamResponse("upstream answered malformed JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            raise BadUpstreamResponse("upstream answer has no choices list")
        upstream_id = body.get("id")
        body["id"] = upstream_id if upstream_id and isinstance(upstream_id, str) else generate_id()
        body.setdefault("object", "chat.completion")
        if body.get("created").__class__ is not int:
            body["created"] = int(time.time())
        body["model"] = identity.model
        body["provider"] = identity.provider
        completion_chars = 0
        for choice in body["choices"]:
            if not isinstance(choice, dict):
                raise BadUpstreamResponse("upstream answer has a choice that is not an object")
            reason = choice.get("finish_reason")
            if reason is not None and (
                not isinstance(reason, str) or reason not in STANDARD_FINISH_REASONS
            ):
                _normalise_finish(choice, reason)
            message = choice.get("message")
            if isinstance(message, dict):
                completion_chars += _generated_chars(
                    message, exclude_reasoning=identity.exclude_reasoning
                )
        raw = body.get("usage")
        if _reports_usage(raw):
            usage, estimated = usage_from(raw), False
        else:
            raw, usage, estimated = None, metering.estimate(completion_chars), True
        body["usage"] = _priced_usage(raw, usage, metering)
        return TranslatedResponse(orjson.dumps(body), usage, estimated)

    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """A fresh translator for one streamed answer."""
        return OpenAIStreamTranslator(
            identity=identity, include_usage=include_usage, metering=metering
        )

    def error_message(self, *, status: int, payload: bytes) -> str:
        """The envelope's `error.message` (or a string `error`, or `message`), else the start of
        the body, else the status; credentials scrubbed."""
        return envelope_message(status=status, payload=payload)

    def models_url(self, *, base_url: str) -> str:
        """`<base_url>/models`."""
        return base_url.rstrip("/") + "/models"

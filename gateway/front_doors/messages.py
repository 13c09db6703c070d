"""Anthropic's Messages API (`POST /v1/messages`, what Claude Code speaks) as a front door.

To `anthropic` channels the client's body and its `anthropic-version` / `anthropic-beta` pass
through as sent, and the answer comes back as the upstream sent it (channels.adapters.
anthropic_passthrough). For every other channel the request is translated through the
pipeline's chat form, and the answer maps back as the Anthropic adapter maps it forward, in
reverse: finish reason → `stop_reason`, reasoning → a `thinking` block (without signature),
content → a text block, tool calls → `tool_use` blocks (streamed as `input_json_delta`), usage →
Anthropic usage with cached tokens moved out of `input_tokens`. Errors use Anthropic's
envelope; everything failing because overloaded is 529.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import orjson
from django.http import HttpResponse

from gateway.errors import GatewayError
from gateway.front_doors.chat import body_model, chat_chunks
from gateway.front_doors.messages_request import translate
from gateway.parsing import parse_chat_request, parse_object
from gateway.responses import error_response
from gateway.schemas import ChatRequest, KeyContext, NativeRequest

API_TYPE = "anthropic"
"""The channel protocol that takes a Messages body as sent."""
DIALECT_HEADERS = ("anthropic-version", "anthropic-beta")
"""The client's headers that travel with its body to Anthropic channels."""

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
}
OVERLOADED = 529


def _message_id(chat_id: Any) -> str:
    return "msg_" + str(chat_id or "").removeprefix("chatcmpl-")


def anthropic_usage(usage: Any) -> dict[str, int]:
    """Anthropic's usage for an OpenAI usage object: cache reads and writes (OpenRouter's
    `cache_write_tokens`) are not input tokens."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    return {
        "input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - cached - written),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def _tool_input(arguments: Any) -> Any:
    try:
        return orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}


def anthropic_message(body: bytes) -> dict[str, Any]:
    """The Messages answer for a chat completion body."""
    chat = orjson.loads(body)
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if thinking := reasoning_text(message):
        content.append({"type": "thinking", "thinking": thinking, "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_input(function.get("arguments")),
            }
        )
    return {
        "id": _message_id(chat.get("id")),
        "type": "message",
        "role": "assistant",
        "model": chat.get("model"),
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(chat.get("usage")),
    }


def reasoning_text(message: Mapping[str, Any]) -> str:
    """Reasoning text in either spelling (OpenRouter's `reasoning`, or `reasoning_content`)."""
    text = message.get("reasoning") or message.get("reasoning_content")
    return text if isinstance(text, str) else ""


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


class _StreamTranslator:
    """Chat completion chunks → Messages stream events, one chunk at a time."""

    def __init__(self) -> None:
        self.started = False
        # ("thinking", -2), ("text", -1) or ("tool", openai index)
        self.block: tuple[str, int] | None = None
        self.index = -1
        self.stop_reason = "end_turn"
        self.usage: dict[str, int] = anthropic_usage(None)
        self.done = False

    def _open(self, kind: str, key: int, block: dict[str, Any]) -> list[bytes]:
        events = self._close()
        self.index += 1
        self.block = (kind, key)
        events.append(_event("content_block_start", {"index": self.index, "content_block": block}))
        return events

    def _close(self) -> list[bytes]:
        if self.block is None:
            return []
        self.block = None
        return [_event("content_block_stop", {"index": self.index})]

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        """The events one chat chunk makes."""
        events: list[bytes] = []
        if not self.started:
            self.started = True
            message: dict[str, Any] = {
                "id": _message_id(chunk.get("id")),
                "type": "message",
                "role": "assistant",
                "model": chunk.get("model"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": self.usage,
            }
            events.append(_event("message_start", {"message": message}))
        if chunk.get("usage"):
            self.usage = anthropic_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if thinking := reasoning_text(delta):
                if self.block != ("thinking", -2):
                    opening = {"type": "thinking", "thinking": "", "signature": ""}
                    events += self._open("thinking", -2, opening)
                text = {"type": "thinking_delta", "thinking": thinking}
                events.append(_event("content_block_delta", {"index": self.index, "delta": text}))
            if delta.get("content"):
                if self.block is None or self.block[0] != "text":
                    events += self._open("text", -1, {"type": "text", "text": ""})
                text = {"type": "text_delta", "text": delta["content"]}
                events.append(_event("content_block_delta", {"index": self.index, "delta": text}))
            for call in delta.get("tool_calls") or []:
                key = int(call.get("index") or 0)
                function = call.get("function") or {}
                if self.block != ("tool", key):
                    block = {"type": "tool_use", "id": call.get("id"), "name": function.get("name")}
                    events += self._open("tool", key, {**block, "input": {}})
                if function.get("arguments"):
                    partial = {"type": "input_json_delta", "partial_json": function["arguments"]}
                    events.append(
                        _event("content_block_delta", {"index": self.index, "delta": partial})
                    )
            if choice.get("finish_reason"):
                self.stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return events

    def end(self) -> list[bytes]:
        """The events that close the message."""
        if self.done:
            return []
        self.done = True
        events = self._close()
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        events.append(_event("message_delta", {"delta": delta, "usage": self.usage}))
        events.append(_event("message_stop", {}))
        return events

    def error(self, error: dict[str, Any]) -> list[bytes]:
        """The in-band error that ends a stream after its first content event."""
        self.done = True
        body = {"type": "api_error", "message": str(error.get("message", ""))}
        if error.get("code") == "gateway_shutting_down":
            body["type"] = "overloaded_error"
        return [_event("error", {"error": body})]


class MessagesDoor:
    """`POST /v1/messages`."""

    endpoint = "messages"

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The Messages body as the pipeline's chat request, carrying the body itself and its
        dialect headers for Anthropic channels; InvalidRequest naming the field."""
        data = parse_object(raw)
        translation = translate(data)
        chat = parse_chat_request(orjson.dumps(translation.body))
        forwarded = {name: headers[name] for name in DIALECT_HEADERS if headers.get(name)}
        native = NativeRequest(API_TYPE, data, headers=forwarded, requires=translation.requires)
        return replace(chat, native=native)

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """As it is (this door keeps no state)."""
        return chat

    def requested_model(self, raw: bytes) -> str:
        """The body's `model` (see `body_model`)."""
        return body_model(raw)

    def answer(self, body: bytes) -> bytes:
        """The Messages answer."""
        return orjson.dumps(anthropic_message(body))

    async def events(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The Messages stream for the pipeline's chat chunks."""
        translator = _StreamTranslator()
        async for block in events:
            out: list[bytes] = []
            for chunk in chat_chunks(block):
                if chunk is None:
                    out += translator.end()
                elif isinstance(chunk.get("error"), dict):
                    out += translator.error(chunk["error"])
                else:
                    out += translator.chunk(chunk)
            if out:
                yield b"".join(out)
        last = translator.end()
        if last:
            yield b"".join(last)

    def error_response(self, error: GatewayError, request_id: str) -> HttpResponse:
        """Anthropic's envelope and status: `{"type": "error", "error": {type, message},
        "request_id"}`."""
        status = error.http_status
        # A client error Anthropic has no type for (405, 409, 422) is an invalid request.
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        if status == 503:
            status, kind = OVERLOADED, "overloaded_error"
        envelope = {"type": "error", "error": {"type": kind, "message": error.message}}
        body = orjson.dumps({**envelope, "request_id": request_id})
        return error_response(error, request_id, body=body, status=status)


MESSAGES = MessagesDoor()

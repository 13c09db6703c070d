"""Small pieces every adapter shares: ids, token and character counts, error-body messages,
SSE splitting."""

import os
from collections.abc import Mapping

import orjson

from channels.adapters.base import BadUpstreamResponse
from core.log_filters import scrub

ERROR_BODY_CHARS = 300
MAX_EVENT_BYTES = 16 * 1024 * 1024
"""An upstream that sends this much without ending an event is not speaking SSE."""

SSEEvent = tuple[str, bytes]
"""One server-sent event: its `event:` name ("" when it has none) and its joined `data:`."""


def generate_id() -> str:
    """A fresh OpenAI-shaped completion id, for upstreams that send none (or a foreign one)."""
    return f"chatcmpl-{os.urandom(12).hex()}"


def token_count(value: object) -> int:
    """A token count as reported, or 0 when absent, negative or not a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if isinstance(value, float) and 0 <= value < 1e18:
        return int(value)
    return 0


def function_chars(function: object) -> int:
    """Characters of a function call's name and arguments (for usage estimates)."""
    if not isinstance(function, Mapping):
        return 0
    return sum(
        len(value) for key in ("name", "arguments") if isinstance(value := function.get(key), str)
    )


def tool_calls_chars(tool_calls: object) -> int:
    """Characters of an OpenAI `tool_calls` list's names and arguments (for usage estimates)."""
    if not isinstance(tool_calls, list):
        return 0
    return sum(
        function_chars(call.get("function")) for call in tool_calls if isinstance(call, Mapping)
    )


def envelope_message(*, status: int, payload: bytes) -> str:
    """A readable message from an error body: `error.message` (OpenAI, Anthropic and Gemini
    envelopes alike), a string `error`, or `message`; else the start of the body, else the
    status. The error's `type`/`status` name is appended when the envelope gives one.
    Credentials are scrubbed."""
    message = ""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        candidates = (
            error.get("message") if isinstance(error, dict) else error,
            body.get("message"),
        )
        message = next((c for c in candidates if isinstance(c, str) and c.strip()), "")
        kind = _error_kind(error)
        if message and kind and kind not in message:
            message = f"{message} ({kind})"
    if not message:
        message = payload.decode("utf-8", "replace").strip()[:ERROR_BODY_CHARS]
    return scrub(message or f"upstream answered HTTP {status}")


def _error_kind(error: object) -> str:
    """Gemini's `error.status` or Anthropic's specific `error.type` (OpenAI's generic types
    are left out: they repeat what the status says)."""
    if not isinstance(error, dict):
        return ""
    status = error.get("status")
    if isinstance(status, str) and status:
        return status
    kind = error.get("type")
    return kind if isinstance(kind, str) and kind in ANTHROPIC_ERROR_TYPES else ""


ANTHROPIC_ERROR_TYPES = frozenset(
    {
        "overloaded_error",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "billing_error",
        "not_found_error",
        "permission_error",
        "request_too_large",
    }
)


class SSESplitter:
    """Splits a byte stream into server-sent events, whatever the read boundaries and line
    endings (LF, CRLF or CR); comments and events without data are skipped."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events `data` completes; an unfinished one is held for the next read."""
        buffer = self._pending + data
        tail = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # may be the first half of a CRLF split across reads
                buffer, tail = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = buffer.split(b"\n\n")
        self._pending = blocks.pop() + tail
        if len(self._pending) > MAX_EVENT_BYTES:
            raise BadUpstreamResponse("upstream stream event exceeds the size limit")
        return [event for block in blocks if (event := _parse_block(block)) is not None]

    def rest(self) -> list[SSEEvent]:
        """At the end of the body: the last event, if it lacked its closing blank line."""
        block, self._pending = self._pending.replace(b"\r", b"").strip(b"\n"), b""
        event = _parse_block(block) if block else None
        return [] if event is None else [event]


def _parse_block(block: bytes) -> SSEEvent | None:
    name = ""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    return (name, b"\n".join(data)) if data else None

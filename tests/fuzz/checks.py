"""The fuzz suite's acceptance rule, applied to every response the gateway gives.

1. A 5xx is never acceptable, except 502/503/504 carrying the OpenAI envelope whose
   `(type, code)` is in `ACCEPTABLE_5XX`: an upstream that failed or was unavailable, or the
   key-lookup shedding a flood of made-up keys (503 with `retry-after`). A 500 never is, nor a
   503 `database_unavailable` / `budget_unavailable`: the database and Redis are up throughout,
   so those would mean client input broke the gateway's own plumbing.
2. Every non-2xx answer on a client API path (`/v1/…`, `/api/v1/…`, `/openai/v1/…`,
   `/chat/completions`) is the envelope `{"error": {"message": str, "type": str, "param":
   str|null, "code": str|null}}` with `content-type: application/json` (HEAD: the content type
   alone, since it has no body).
3. A 2xx there with a body is JSON, or, when `text/event-stream`, valid SSE: `data:` lines (and
   `:` comments) in events ended by a blank line, each a JSON object that is a
   `chat.completion.chunk` or an in-band `error`, ending with `data: [DONE]` and nothing after.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

CLIENT_API_PREFIXES = ("/v1/", "/api/v1/", "/openai/v1/")
CLIENT_API_PATHS = ("/chat/completions",)
ACCEPTABLE_5XX = {
    (502, "upstream_error", "all_channels_failed"),
    (503, "upstream_error", "all_channels_failed"),
    (504, "upstream_error", "all_channels_failed"),
    (503, "upstream_error", "no_healthy_channel"),
    (503, "server_error", "authentication_busy"),
}
ENVELOPE_KEYS = {"message", "type", "param", "code"}
EXCERPT = 400


@dataclass(frozen=True)
class Answer:
    """A response reduced to what the rule looks at: status, headers (lower-case names), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def excerpt(self) -> str:
        return repr(self.body[:EXCERPT])


def is_client_api(path: str) -> bool:
    """Whether a request path (query string included or not) belongs to the client API."""
    path = path.split("?", 1)[0]
    return path.startswith(CLIENT_API_PREFIXES) or path in CLIENT_API_PATHS


def violation(answer: Answer, *, method: str, path: str) -> str | None:
    """What is wrong with `answer` to `method path` under the rule above, or None."""
    client_api = is_client_api(path)
    if answer.status >= 500:
        return _server_error(answer)
    if not client_api or answer.status < 200:
        return None
    if answer.status >= 300:
        return _not_envelope(answer, head=method == "HEAD")
    if method == "HEAD" or answer.status == 204 or not answer.body:
        return None
    if answer.content_type.startswith("text/event-stream"):
        return sse_violation(answer.body)
    if not answer.content_type.startswith("application/json"):
        return f"a {answer.status} with content-type {answer.content_type!r}"
    try:
        orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return f"a {answer.status} whose JSON body does not parse"
    return None


def envelope_error(body: bytes) -> dict[str, Any] | None:
    """The `error` object of a well-formed OpenAI envelope, else None."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not set(error) >= ENVELOPE_KEYS:
        return None
    well_typed = (
        isinstance(error["message"], str)
        and bool(error["message"])
        and isinstance(error["type"], str)
        and isinstance(error["param"], str | None)
        and isinstance(error["code"], str | None)
    )
    return error if well_typed else None


def _not_envelope(answer: Answer, *, head: bool) -> str | None:
    if not answer.content_type.startswith("application/json"):
        return f"a {answer.status} with content-type {answer.content_type!r}, not the envelope"
    if head or envelope_error(answer.body) is not None:
        return None
    return f"a {answer.status} whose body is not the OpenAI error envelope"


def _server_error(answer: Answer) -> str | None:
    error = envelope_error(answer.body)
    if error is None or not answer.content_type.startswith("application/json"):
        return f"a {answer.status} without the OpenAI envelope"
    if (answer.status, error["type"], error["code"]) not in ACCEPTABLE_5XX:
        return f"a {answer.status} {error['type']}/{error['code']}"
    if error["code"] == "authentication_busy" and "retry-after" not in answer.headers:
        return "a 503 authentication_busy without retry-after"
    return None


def sse_violation(body: bytes) -> str | None:
    """What makes `body` an invalid chat completion SSE stream, or None."""
    if not body.endswith(b"\n\n"):
        return "the stream does not end with a blank line"
    events = body[:-2].split(b"\n\n")
    done = False
    for event in events:
        for line in event.split(b"\n"):
            if line.startswith(b":"):
                continue
            if done:
                return "data after [DONE]"
            if not line.startswith(b"data:"):
                return f"a stream line that is not data: {line[:80]!r}"
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                continue
            problem = _chunk_violation(data)
            if problem:
                return problem
    return None if done else "the stream has no data: [DONE]"


def _chunk_violation(data: bytes) -> str | None:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return f"a stream event that is not JSON: {data[:80]!r}"
    if not isinstance(chunk, dict):
        return "a stream event that is not an object"
    if "error" in chunk:
        error = chunk["error"]
        return None if isinstance(error, dict) and "message" in error else "a malformed error"
    if chunk.get("object") != "chat.completion.chunk" or not isinstance(chunk.get("choices"), list):
        return f"a stream event that is not a chunk: {data[:80]!r}"
    return None

"""What differs between the wire protocols the fake upstream speaks, behind one interface.

The server handles every protocol the same way (auth, fault directives, pacing, faults in the
stream); a `Dialect` says how this protocol names the model and the key, plans an answer from
its request body, renders it (JSON or SSE events) and words its errors.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.fake_upstream.errors import error_body, status_error
from bench.fake_upstream.faults import Fault
from bench.fake_upstream.openai_dialect import (
    MODEL_CREATED,
    MODEL_IDS,
    ChatPlan,
    RequestError,
    completion_body,
    dumps,
    plan_chat,
)
from bench.fake_upstream.sse import (
    DONE_EVENT,
    MALFORMED_EVENT,
    STREAM_ERROR_EVENT,
    Event,
    stream_events,
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request asks for: the model (with any fault directive) and whether to stream."""

    model: str
    stream: bool


@dataclass(frozen=True, slots=True)
class Dialect:
    """One wire protocol: request reading, answer rendering, error wording."""

    name: str
    key_of: Callable[[web.Request], str]
    """The API key the request presents, as the protocol carries it."""
    target: Callable[[web.Request, dict[str, Any]], Target]
    """The model and stream flag; raises RequestError when they are missing."""
    plan: Callable[[dict[str, Any], str, Fault, bool], ChatPlan]
    """The answer to a body for a model name, a fault and the stream flag; RequestError if bad."""
    body: Callable[[ChatPlan], bytes]
    events: Callable[[ChatPlan], list[Event]]
    error: Callable[[int, str, str | None, str | None], bytes]
    """An error body for (status, message, param, code)."""
    done_event: bytes
    error_event: bytes
    malformed_event: bytes
    model_list: bytes
    """The body of the protocol's model list."""
    numbered_error: Callable[[int], bytes] | None = None
    """The stream error event sent as event number N, for protocols that number their events."""

    def stream_error(self, position: int) -> bytes:
        """The stream error event sent after ``position`` events."""
        return self.error_event if self.numbered_error is None else self.numbered_error(position)

    def authorized(self, request: web.Request, api_key: str | None) -> bool:
        """Whether the request carries `api_key` (any key when None)."""
        if api_key is None:
            return True
        return hmac.compare_digest(self.key_of(request).encode(), api_key.encode())


def _bearer(request: web.Request) -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key if scheme == "Bearer" else ""


def _openai_target(request: web.Request, body: dict[str, Any]) -> Target:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' must be a non-empty string", param="model")
    return Target(model, body.get("stream") is True)


def _openai_plan(body: dict[str, Any], model: str, fault: Fault, stream: bool) -> ChatPlan:
    return plan_chat(body, model, fault)


def _openai_error(status: int, message: str, param: str | None, code: str | None) -> bytes:
    type_, default_code = status_error(status)
    return error_body(message, type_=type_, code=code or default_code, param=param)


OPENAI = Dialect(
    name="openai",
    key_of=_bearer,
    target=_openai_target,
    plan=_openai_plan,
    body=completion_body,
    events=stream_events,
    error=_openai_error,
    done_event=DONE_EVENT,
    error_event=STREAM_ERROR_EVENT,
    malformed_event=MALFORMED_EVENT,
    model_list=dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "fake-upstream"}
                for m in MODEL_IDS
            ],
        }
    ).encode(),
)

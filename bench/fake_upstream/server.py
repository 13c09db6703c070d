"""The fake upstream's aiohttp application: OpenAI routes, API-key check, fault injection."""

from __future__ import annotations

import asyncio
import hmac
import os
from typing import Any

from aiohttp import web

from bench.fake_upstream.errors import (
    DIRECTIVE_CODE,
    INVALID_KEY_MESSAGE,
    error_body,
    injected_error_body,
)
from bench.fake_upstream.faults import (
    FAULT_HEADER,
    Fault,
    FaultDirectiveError,
    request_fault,
    split_model,
)
from bench.fake_upstream.openai_dialect import (
    MODEL_CREATED,
    MODEL_IDS,
    ChatPlan,
    RequestError,
    completion_body,
    dumps,
    plan_chat,
)
from bench.fake_upstream.recording import (
    STATE_KEY,
    RequestLog,
    UpstreamState,
    clear_requests,
    health,
    read_and_record,
    recorded_requests,
)
from bench.fake_upstream.sse import (
    DONE_EVENT,
    MALFORMED_EVENT,
    STREAM_ERROR_EVENT,
    stream_events,
)

JSON_TYPE = "application/json"
_MODELS = [
    {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "fake-upstream"}
    for model in MODEL_IDS
]
_MODELS_BODY = dumps({"object": "list", "data": _MODELS}).encode()
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _request_id() -> str:
    return f"req_{os.urandom(8).hex()}"


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    """Return a JSON response carrying an ``x-request-id`` header."""
    response = web.Response(status=status, body=body, content_type=JSON_TYPE, headers=headers)
    response.headers["x-request-id"] = _request_id()
    return response


def _error(
    status: int, message: str, type_: str, code: str, param: str | None = None
) -> web.Response:
    return json_response(status, error_body(message, type_=type_, code=code, param=param))


def _invalid(message: str, param: str | None = None, code: str = "invalid_request") -> web.Response:
    return _error(400, message, "invalid_request_error", code, param)


def _auth_error(request: web.Request) -> web.Response | None:
    api_key = request.app[STATE_KEY].api_key
    if api_key is None:
        return None
    sent = request.headers.get("Authorization", "")
    if hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode()):
        return None
    return _error(401, INVALID_KEY_MESSAGE, "authentication_error", "invalid_api_key")


def _fault_error(fault: Fault) -> web.Response | None:
    if fault.status is None:
        return None
    headers = None if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
    return json_response(fault.status, injected_error_body(fault.status), headers)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve ``POST /v1/chat/completions`` with the faults the request's directive asks for."""
    record, body = await read_and_record(request)
    try:
        response = await _chat(request, record, body)
    except asyncio.CancelledError:
        record["outcome"] = "client_disconnected"
        raise
    if record["outcome"] is None:
        record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def _chat(request: web.Request, record: dict[str, Any], body: object) -> web.StreamResponse:
    if (denied := _auth_error(request)) is not None:
        return denied
    if not isinstance(body, dict):
        return _invalid("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _invalid("'model' must be a non-empty string", "model")
    name, directive = split_model(model)
    try:
        fault = request_fault(directive, request.headers.get(FAULT_HEADER, ""))
    except FaultDirectiveError as exc:
        return _invalid(f"Invalid fault directive: {exc}", "model", DIRECTIVE_CODE)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.drop:
        record["outcome"] = "dropped"
        return _drop(request)
    if (injected := _fault_error(fault)) is not None:
        return injected
    try:
        plan = plan_chat(body, name, fault)
    except RequestError as exc:
        return _invalid(exc.message, exc.param)
    if body.get("stream") is True:
        return await _stream(request, record, plan, fault)
    steps = max((len(pieces) for pieces in plan.pieces), default=0)
    wait_ms = fault.ttft_ms + max(steps - 1, 0) * fault.chunk_delay_ms
    if wait_ms:
        await asyncio.sleep(wait_ms / 1000)
    return json_response(200, completion_body(plan))


def _drop(request: web.Request) -> web.Response:
    # Close the socket without a status line; aiohttp discards the unsent response.
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def _position(after: int | None, total: int) -> int:
    return -1 if after is None else min(after, total)


async def _stream(
    request: web.Request, record: dict[str, Any], plan: ChatPlan, fault: Fault
) -> web.StreamResponse:
    response = web.StreamResponse(headers=_SSE_HEADERS)
    response.headers["x-request-id"] = _request_id()
    await response.prepare(request)
    events = stream_events(plan)
    total = len(events)
    malformed = _position(fault.malformed_after, total)
    stall = _position(fault.stall_after, total)
    error = _position(fault.error_after, total)
    cut = _position(fault.cut_after, total)
    delay = fault.chunk_delay_ms / 1000
    pending: list[bytes] = []

    async def flush() -> None:
        if pending:
            data = b"".join(pending)
            pending.clear()
            await response.write(data)

    try:
        if fault.ttft_ms:
            await asyncio.sleep(fault.ttft_ms / 1000)
        for position in range(total + 1):
            if position == malformed:
                pending.append(MALFORMED_EVENT)
            if position == stall:
                await flush()
                await _stall(fault.stall_ms)
            if position == error:
                pending.append(STREAM_ERROR_EVENT)
                record["outcome"] = "stream_error"
                break
            if position == cut:
                await flush()
                record["outcome"] = "cut"
                if request.transport is not None:
                    request.transport.close()
                return response
            if position == total:
                pending.append(DONE_EVENT)
                break
            paced, data = events[position]
            if paced and delay:
                await flush()
                await asyncio.sleep(delay)
            pending.append(data)
        await flush()
        await response.write_eof()
    except ConnectionError:
        record["outcome"] = "client_disconnected"
    return response


async def _stall(stall_ms: int) -> None:
    if stall_ms >= 0:
        await asyncio.sleep(stall_ms / 1000)
        return
    # Until the client disconnects: the server runs with handler_cancellation=True.
    await asyncio.get_running_loop().create_future()


async def list_models(request: web.Request) -> web.Response:
    """Serve ``GET /v1/models`` (OpenAI list format); honours header status/latency faults."""
    record, _ = await read_and_record(request)
    response = await _models(request, None)
    record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def retrieve_model(request: web.Request) -> web.Response:
    """Serve ``GET /v1/models/{id}``: any id exists."""
    record, _ = await read_and_record(request)
    response = await _models(request, request.match_info["model"])
    record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def _models(request: web.Request, model: str | None) -> web.Response:
    if (denied := _auth_error(request)) is not None:
        return denied
    try:
        fault = request_fault("", request.headers.get(FAULT_HEADER, ""))
    except FaultDirectiveError as exc:
        return _invalid(f"Invalid fault directive: {exc}", FAULT_HEADER, DIRECTIVE_CODE)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if (injected := _fault_error(fault)) is not None:
        return injected
    if model is None:
        return json_response(200, _MODELS_BODY)
    item = {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "fake-upstream"}
    return json_response(200, dumps(item).encode())


async def unknown_route(request: web.Request) -> web.Response:
    """Answer any other ``/v1`` path with a 404 OpenAI envelope."""
    record, _ = await read_and_record(request)
    record["outcome"] = "error"
    message = f"Unknown fake upstream URL: {request.method} {request.path}"
    return _error(404, message, "invalid_request_error", "unknown_url")


def create_app(*, api_key: str | None = None, log: RequestLog | None = None) -> web.Application:
    """Build the fake upstream application (``api_key=None`` accepts any Authorization)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = UpstreamState(api_key=api_key, log=log if log is not None else RequestLog())
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", retrieve_model)
    app.router.add_get("/_fake/requests", recorded_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    app.router.add_get("/_fake/health", health)
    app.router.add_route("*", "/v1/{tail:.*}", unknown_route)
    return app

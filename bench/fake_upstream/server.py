"""The fake upstream's aiohttp application: OpenAI, Anthropic and Gemini routes, API-key check,
fault injection."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.fake_upstream.anthropic_dialect import ANTHROPIC, count_tokens
from bench.fake_upstream.dialects import OPENAI, Dialect, Target
from bench.fake_upstream.echo import credential_echo, echoed_event
from bench.fake_upstream.errors import DIRECTIVE_CODE, INJECTED_MESSAGE, INVALID_KEY_MESSAGE
from bench.fake_upstream.faults import (
    FAULT_HEADER,
    Fault,
    FaultDirectiveError,
    request_fault,
    split_model,
)
from bench.fake_upstream.gemini_dialect import GEMINI
from bench.fake_upstream.openai_dialect import MODEL_CREATED, ChatPlan, RequestError, dumps
from bench.fake_upstream.recording import (
    STATE_KEY,
    RequestLog,
    UpstreamState,
    clear_requests,
    health,
    read_and_record,
    recorded_requests,
)
from bench.fake_upstream.responses_dialect import responses_dialect

JSON_TYPE = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _request_id() -> str:
    return f"req_{os.urandom(8).hex()}"


def json_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    """Return a JSON response carrying an ``x-request-id`` header."""
    response = web.Response(status=status, body=body, content_type=JSON_TYPE, headers=headers)
    response.headers["x-request-id"] = _request_id()
    return response


def _error(
    dialect: Dialect,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return json_response(status, dialect.error(status, message, param, code), headers)


def _auth_error(request: web.Request, dialect: Dialect = OPENAI) -> web.Response | None:
    if dialect.authorized(request, request.app[STATE_KEY].api_key):
        return None
    return _error(dialect, 401, INVALID_KEY_MESSAGE)


def _fault_error(
    request: web.Request, fault: Fault, dialect: Dialect = OPENAI
) -> web.Response | None:
    if fault.status is None:
        return None
    headers = None if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
    message = INJECTED_MESSAGE.format(status=fault.status)
    if fault.echo_credential:
        message = f"{message}: {credential_echo(request, dialect.key_of(request))}"
    return _error(dialect, fault.status, message, headers=headers)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve ``POST /v1/chat/completions`` with the faults the request's directive asks for."""
    return await _serve(request, OPENAI)


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    """Serve Anthropic's ``POST /v1/messages``, with the same faults."""
    return await _serve(request, ANTHROPIC)


async def gemini_generate(request: web.Request) -> web.StreamResponse:
    """Serve Gemini's ``POST /v1beta/models/{model}:generateContent`` and
    ``:streamGenerateContent?alt=sse``, with the same faults."""
    return await _serve(request, GEMINI)


async def openai_responses(request: web.Request) -> web.StreamResponse:
    """Serve ``POST /v1/responses`` (and ``/v1/responses/compact``), with the same faults."""
    compact = request.path.endswith("/compact")
    return await _serve(request, responses_dialect(request, compact=compact))


async def _serve(request: web.Request, dialect: Dialect) -> web.StreamResponse:
    record, body = await read_and_record(request)
    try:
        response = await _chat(request, record, body, dialect)
    except asyncio.CancelledError:
        record["outcome"] = "client_disconnected"
        raise
    if record["outcome"] is None:
        record["outcome"] = "ok" if response.status < 400 else "error"
    return response


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A request past the checks every answering route shares: its body, target and fault."""

    body: dict[str, Any]
    target: Target
    name: str
    fault: Fault


async def _admit(
    request: web.Request, record: dict[str, Any], body: object, dialect: Dialect
) -> _Admitted | web.StreamResponse:
    """Auth, body, target and fault directive; the response when the request ends here."""
    if (denied := _auth_error(request, dialect)) is not None:
        return denied
    if not isinstance(body, dict):
        return _error(dialect, 400, "Request body must be a JSON object")
    try:
        target = dialect.target(request, body)
    except RequestError as exc:
        return _error(dialect, 400, exc.message, param=exc.param)
    name, directive = split_model(target.model)
    try:
        fault = request_fault(directive, request.headers.get(FAULT_HEADER, ""))
    except FaultDirectiveError as exc:
        message = f"Invalid fault directive: {exc}"
        return _error(dialect, 400, message, param="model", code=DIRECTIVE_CODE)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.drop:
        record["outcome"] = "dropped"
        return _drop(request)
    if (injected := _fault_error(request, fault, dialect)) is not None:
        return injected
    return _Admitted(body, target, name, fault)


async def anthropic_count_tokens(request: web.Request) -> web.StreamResponse:
    """Serve Anthropic's ``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, with the
    auth and faults of ``/v1/messages``."""
    record, body = await read_and_record(request)
    admitted = await _admit(request, record, body, ANTHROPIC)
    if not isinstance(admitted, _Admitted):
        response = admitted
    else:
        try:
            tokens = count_tokens(admitted.body, admitted.fault)
        except RequestError as exc:
            response = _error(ANTHROPIC, 400, exc.message, param=exc.param)
        else:
            response = json_response(200, dumps({"input_tokens": tokens}).encode())
    if record["outcome"] is None:
        record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def _chat(
    request: web.Request, record: dict[str, Any], body: object, dialect: Dialect
) -> web.StreamResponse:
    admitted = await _admit(request, record, body, dialect)
    if not isinstance(admitted, _Admitted):
        return admitted
    body, target, name, fault = admitted.body, admitted.target, admitted.name, admitted.fault
    try:
        plan = dialect.plan(body, name, fault, target.stream)
    except RequestError as exc:
        return _error(dialect, 400, exc.message, param=exc.param, code=exc.code)
    if target.stream:
        return await _stream(request, record, dialect, plan, fault)
    steps = max((len(pieces) for pieces in plan.pieces), default=0)
    wait_ms = fault.ttft_ms + max(steps - 1, 0) * fault.chunk_delay_ms
    if wait_ms:
        await asyncio.sleep(wait_ms / 1000)
    return json_response(200, dialect.body(plan))


def _drop(request: web.Request) -> web.Response:
    # Close the socket without a status line; aiohttp discards the unsent response.
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def _position(after: int | None, total: int) -> int:
    return -1 if after is None else min(after, total)


async def _stream(
    request: web.Request, record: dict[str, Any], dialect: Dialect, plan: ChatPlan, fault: Fault
) -> web.StreamResponse:
    response = web.StreamResponse(headers=_SSE_HEADERS)
    response.headers["x-request-id"] = _request_id()
    await response.prepare(request)
    events = dialect.events(plan)
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
                pending.append(dialect.malformed_event)
            if position == stall:
                await flush()
                await _stall(fault.stall_ms)
            if position == error:
                error_event = dialect.stream_error(position)
                pending.append(
                    echoed_event(error_event, credential_echo(request, dialect.key_of(request)))
                    if fault.echo_credential
                    else error_event
                )
                record["outcome"] = "stream_error"
                break
            if position == cut:
                await flush()
                record["outcome"] = "cut"
                if request.transport is not None:
                    request.transport.close()
                return response
            if position == total:
                pending.append(dialect.done_event)
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
    """Serve ``GET /v1/models`` (OpenAI's list, or Anthropic's when the request carries
    ``x-api-key``) and Gemini's ``GET /v1beta/models``; honours header status/latency faults."""
    record, _ = await read_and_record(request)
    if request.path.startswith("/v1beta/"):
        dialect = GEMINI
    else:
        dialect = ANTHROPIC if "x-api-key" in request.headers else OPENAI
    response = await _models(request, None, dialect)
    record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def retrieve_model(request: web.Request) -> web.Response:
    """Serve ``GET /v1/models/{id}``: any id exists."""
    record, _ = await read_and_record(request)
    response = await _models(request, request.match_info["model"], OPENAI)
    record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def _models(request: web.Request, model: str | None, dialect: Dialect) -> web.Response:
    if (denied := _auth_error(request, dialect)) is not None:
        return denied
    try:
        fault = request_fault("", request.headers.get(FAULT_HEADER, ""))
    except FaultDirectiveError as exc:
        message = f"Invalid fault directive: {exc}"
        return _error(dialect, 400, message, param=FAULT_HEADER, code=DIRECTIVE_CODE)
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if (injected := _fault_error(request, fault, dialect)) is not None:
        return injected
    if model is None:
        return json_response(200, dialect.model_list)
    item = {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "fake-upstream"}
    return json_response(200, dumps(item).encode())


async def unknown_route(request: web.Request) -> web.Response:
    """Answer any other ``/v1`` or ``/v1beta`` path with a 404 OpenAI envelope."""
    record, _ = await read_and_record(request)
    record["outcome"] = "error"
    message = f"Unknown fake upstream URL: {request.method} {request.path}"
    return _error(OPENAI, 404, message, code="unknown_url")


def create_app(*, api_key: str | None = None, log: RequestLog | None = None) -> web.Application:
    """Build the fake upstream application (``api_key=None`` accepts any Authorization)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = UpstreamState(api_key=api_key, log=log if log is not None else RequestLog())
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", anthropic_messages)
    app.router.add_post("/v1/responses", openai_responses)
    app.router.add_post("/v1/responses/compact", openai_responses)
    app.router.add_post("/v1/messages/count_tokens", anthropic_count_tokens)
    from bench.fake_upstream import embeddings  # here: the embeddings routes build on this module

    embeddings.add_routes(app)
    app.router.add_post("/v1beta/models/{model_method}", gemini_generate)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1beta/models", list_models)
    app.router.add_get("/v1/models/{model}", retrieve_model)
    app.router.add_get("/_fake/requests", recorded_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    app.router.add_get("/_fake/health", health)
    app.router.add_route("*", "/v1/{tail:.*}", unknown_route)
    app.router.add_route("*", "/v1beta/{tail:.*}", unknown_route)
    return app

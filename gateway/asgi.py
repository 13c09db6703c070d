"""ASGI plumbing: the client API served without the browser middleware, and a lifespan.

Under ASGI every Django `MiddlewareMixin` runs its hooks through `sync_to_async`, two thread
hops per middleware per request. Sessions, CSRF, messages and the rest serve the admin and the
dashboard; the client API (`/v1/…` and its aliases) authenticates by key and needs none of
them, so its paths go to a handler with an empty middleware chain.
"""

import asyncio
from functools import partial
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_urlconf

from gateway.bridge.journal import journal
from gateway.bridge.recorder import recorder
from gateway.config_follow import start_following, stop_following
from gateway.edge.bodies import BodyLimits
from gateway.edge.cors import Cors
from gateway.errors import InvalidRequest
from gateway.metrics import mark_process_dead
from gateway.upstream_client import close_upstream_clients

ASGIApp = Any
CLIENT_API_PREFIXES = ("/v1/", "/api/v1/", "/openai/v1/")
CLIENT_API_PATHS = frozenset({"/chat/completions", "/healthz", "/readyz", "/metrics"})
WEBSOCKET_REFUSED = (
    "This gateway does not serve WebSockets; send the request over HTTP (POST /v1/responses)."
)
UPGRADE_REQUIRED = 426


class ClientApiHandler(ASGIHandler):
    """Django's ASGI handler with no middleware: URL routing, views, nothing else."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Handle one request without Django's per-request ThreadSensitiveContext.

        That context starts a new thread for each request's first thread-sensitive hop (the
        sync receivers of request_started/finished, response.close()). The client API's views
        never use the ORM on that thread, so Django's one shared sync thread serves instead.
        """
        await self.handle(scope, receive, send)

    async def get_response_async(self, request: Any) -> Any:
        """BaseHandler's, without its "Not Found: <path>" line (and thread hop) for every
        4xx and 5xx: client mistakes would flood the log with strings of their choosing. The
        request log (gateway.request_log) and the views' own errors say what happened."""
        set_urlconf(settings.ROOT_URLCONF)
        response = await self._middleware_chain(request)  # type: ignore[attr-defined]
        response._resource_closers.append(request.close)
        return response

    def load_middleware(self, is_async: bool = False) -> None:
        """An empty middleware chain (BaseHandler.load_middleware with MIDDLEWARE = [])."""
        handler: Any = self  # the attributes below are BaseHandler's, absent from the stubs
        handler._view_middleware = []
        handler._template_response_middleware = []
        handler._exception_middleware = []
        get_response = handler._get_response_async if is_async else handler._get_response
        handler._middleware_chain = convert_exception_to_response(get_response)


def is_client_api(path: str) -> bool:
    """Whether a request path belongs to the client API."""
    return path.startswith(CLIENT_API_PREFIXES) or path in CLIENT_API_PATHS


async def refuse_websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse a WebSocket handshake at once (Codex tries one on `/v1/responses` before HTTP):
    a 426 in the OpenAI envelope where the server can send one, else a close before accept
    (the server answers 403)."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = InvalidRequest(
        WEBSOCKET_REFUSED, status=UPGRADE_REQUIRED, code="websocket_not_supported"
    ).body()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send(
        {"type": "websocket.http.response.start", "status": UPGRADE_REQUIRED, "headers": headers}
    )
    await send({"type": "websocket.http.response.body", "body": body})


class GatewayApplication:
    """Route client API paths to `client_api`, the rest to `site`, every body bounded in size
    and time (GATEWAY_MAX_BODY_BYTES, GATEWAY_BODY_TIMEOUT); answer lifespan events.

    The client API's CORS (GATEWAY_CORS_ORIGINS) is outside the body limits, so that their 413
    and 408 carry its headers too and a browser can read them."""

    def __init__(self, *, client_api: ASGIApp, site: ASGIApp) -> None:
        self.site = site
        self.bodies = BodyLimits(
            max_bytes=settings.GATEWAY_MAX_BODY_BYTES, timeout=settings.GATEWAY_BODY_TIMEOUT
        )
        self.client_api = Cors(
            partial(self.bodies.serve, client_api), origins=settings.GATEWAY_CORS_ORIGINS
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Dispatch one ASGI connection."""
        if scope["type"] == "http":
            if is_client_api(scope["path"]):
                await self.client_api(scope, receive, send)
            else:
                await self.bodies.serve(self.site, scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
        else:
            await self.site(scope, receive, send)

    @staticmethod
    async def _lifespan(receive: Any, send: Any) -> None:
        """At start-up open the journal (its sweeper bills dead siblings' journals) and follow
        configuration notices; at shutdown stop following, store every queued usage record, then
        remove the journal, and close the upstream pool."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                journal.open()
                start_following()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop_following()
                await close_upstream_clients()
                await asyncio.to_thread(recorder.stop)
                journal.close()
                mark_process_dead()
                await send({"type": "lifespan.shutdown.complete"})
                return

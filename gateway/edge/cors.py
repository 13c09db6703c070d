"""CORS for browser clients of the client API: a pure ASGI wrapper around its handler.

An allowed origin's preflight is answered here at once; its other requests go to the app,
whose response start gets the CORS headers. Anything else passes through untouched: a request
without an `Origin` header costs one scan of its headers. Keys travel in headers, never in
cookies, so no response allows credentials.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ANY_ORIGIN = "*"
ALLOW_METHODS = b"GET, POST, OPTIONS"
MAX_AGE_SECONDS = 600
# Response headers a browser script may read beyond the safelisted ones (Content-Type, …).
EXPOSE_HEADERS = (
    "x-request-id",
    "x-switchyard-channel",
    "retry-after",
    *(
        f"x-ratelimit-{what}-{kind}"
        for kind in ("requests", "tokens")
        for what in ("limit", "remaining", "reset")
    ),
)
PREFLIGHT_VARY = b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _normalized(origin: str) -> str:
    """An origin as browsers send it: lower case, no trailing slash."""
    return origin.strip().rstrip("/").lower()


class Cors:
    """Allow `origins` (`*`: any) to call `app` from a browser; no origins: a pass-through."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        allowed = {_normalized(origin) for origin in origins} - {""}
        self.any_origin = ANY_ORIGIN in allowed
        self.origins = frozenset(origin.encode("latin-1") for origin in allowed - {ANY_ORIGIN})
        self.enabled = self.any_origin or bool(self.origins)
        self._expose = ", ".join(EXPOSE_HEADERS).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an allowed origin's preflight, or pass the request on (with CORS headers)."""
        if not self.enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        if origin is None or not self._allows(origin):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            requested = {
                name: value
                for name, value in scope["headers"]
                if name.startswith(b"access-control-request-")
            }
            if b"access-control-request-method" in requested:
                await self._preflight(origin, requested, send)
                return
        await self.app(scope, receive, self._with_cors_headers(origin, send))

    def _allows(self, origin: bytes) -> bool:
        return self.any_origin or origin.lower() in self.origins

    @staticmethod
    async def _preflight(origin: bytes, requested: dict[bytes, bytes], send: Send) -> None:
        """204 allowing the origin our methods and, echoed, the headers it asked for."""
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ALLOW_METHODS),
            (b"access-control-max-age", str(MAX_AGE_SECONDS).encode()),
            (b"vary", PREFLIGHT_VARY),
        ]
        asked_headers = requested.get(b"access-control-request-headers")
        if asked_headers:
            headers.append((b"access-control-allow-headers", asked_headers))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _with_cors_headers(self, origin: bytes, send: Send) -> Send:
        """`send`, adding the origin's CORS headers to the response start."""
        extra = [
            (b"access-control-allow-origin", origin),
            (b"vary", b"Origin"),
            (b"access-control-expose-headers", self._expose),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        return send_with_cors

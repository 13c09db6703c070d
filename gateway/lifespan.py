"""ASGI lifespan for the gateway: at shutdown, drain the usage recorder and close the pool.

Django answers no lifespan events itself; this wrapper does, and passes everything else on.
"""

import asyncio
from typing import Any

from gateway.recorder import recorder
from gateway.upstream_client import close_upstream_clients

Scope = dict[str, Any]
Receive = Any
Send = Any
ASGIApp = Any


class GatewayLifespan:
    """Wrap an ASGI app; on `lifespan.shutdown`, store every queued usage record first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle lifespan messages; delegate every other scope."""
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await close_upstream_clients()
                await asyncio.to_thread(recorder.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

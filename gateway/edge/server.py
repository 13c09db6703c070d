"""`python -m gateway.edge.server`: uvicorn serving the gateway within its connection limits,
with a drain on shutdown that ends within the grace period.

On SIGTERM the listener closes; an idle connection closes at its keep-alive timeout (a request
sent on it meanwhile is answered, as its last); requests in flight have
GATEWAY_SHUTDOWN_GRACE seconds to finish. Then the drain ends what is left — a stream with an
in-band error event, an unanswered request with a 503 — each billed and recorded, and the
process exits. uvicorn's own graceful timeout, a little later, is only the last resort.
"""

import argparse
import asyncio
import os
import resource
import socket
from typing import Any

import django
import uvicorn
from django.conf import settings
from django.core import checks

from gateway.edge.drain import drain
from gateway.edge.protocol import BoundedHttpProtocol, ConnectionLimits

APPLICATION = "config.asgi:application"
# Time for the drain's last events, records and the usage writer's flush after the grace.
SHUTDOWN_MARGIN_SECONDS = 5.0
# Descriptors kept for what is not a client connection: upstream sockets are counted one per
# client connection, and these cover the database, Redis, the journal, logs and the rest.
RESERVED_DESCRIPTORS = 128


class EdgeConfig(uvicorn.Config):
    """uvicorn's configuration plus the `ConnectionLimits` its protocol enforces."""

    def __init__(self, app: Any, *, connection_limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, http=BoundedHttpProtocol, **options)
        self.connection_limits = connection_limits
        self.idle_connections: dict[BoundedHttpProtocol, None] = {}


class GatewayServer(uvicorn.Server):
    """A uvicorn server whose shutdown begins the drain."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, give requests in flight the grace period, then end the rest."""
        grace = settings.GATEWAY_SHUTDOWN_GRACE
        drain.begin(grace)
        asyncio.get_running_loop().call_later(grace, self._drop_stalled_readers)
        await super().shutdown(sockets)

    def _drop_stalled_readers(self) -> None:
        """Disconnect the clients that read nothing: an in-band ending cannot reach them (their
        streams are billed as cancelled, as any disconnect)."""
        for connection in list(self.server_state.connections):
            if isinstance(connection, BoundedHttpProtocol):
                connection.drop_if_stalled()


def connection_limits() -> ConnectionLimits:
    """The limits the settings ask for; the connection cap follows the descriptor limit
    unless GATEWAY_MAX_CONNECTIONS sets it."""
    descriptors = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    fitting = max(16, (descriptors - RESERVED_DESCRIPTORS) // 2)
    return ConnectionLimits(
        head_timeout=settings.GATEWAY_HEADER_TIMEOUT,
        max_head_bytes=settings.GATEWAY_MAX_HEADER_BYTES,
        write_timeout=settings.GATEWAY_WRITE_TIMEOUT,
        max_connections=settings.GATEWAY_MAX_CONNECTIONS or fitting,
    )


def edge_config(app: Any = APPLICATION, **options: Any) -> EdgeConfig:
    """The uvicorn configuration the gateway is served with; `options` go to uvicorn."""
    options.setdefault("timeout_keep_alive", settings.GATEWAY_KEEPALIVE_TIMEOUT)
    options.setdefault(
        "timeout_graceful_shutdown",
        settings.GATEWAY_SHUTDOWN_GRACE + SHUTDOWN_MARGIN_SECONDS,
    )
    return EdgeConfig(app, connection_limits=connection_limits(), **options)


def raise_descriptor_limit() -> None:
    """Let this process open as many descriptors as the system allows it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def refuse_bad_settings() -> None:
    """Stop before serving when a system check (gateway.checks, Django's own) finds an error."""
    django.setup()
    errors = [message for message in checks.run_checks() if message.is_serious()]
    if errors:
        raise SystemExit("Switchyard will not start:\n" + "\n".join(map(str, errors)))


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or SIGINT (once the system checks pass)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--access-log", action="store_true", help="uvicorn's access log too")
    args = parser.parse_args(argv)
    refuse_bad_settings()
    raise_descriptor_limit()
    config = edge_config(
        host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log
    )
    GatewayServer(config).run()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    main()

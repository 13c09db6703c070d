"""End-to-end harness: the real ASGI app under uvicorn in a thread, the fake upstream, the SDK.

Tests here use committed data (`transactional_db`) because the server answers from its own
threads; each test starts with empty gateway caches and ends with the usage recorder drained.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from django.db import connection

from bench.fake_upstream import FakeUpstream, running_fake_upstream
from billing.models import Account, UsageRecord
from billing.services import account_create, account_credit, api_key_create
from channels.models import Channel
from channels.services import ModelOffer, channel_create
from gateway import auth, catalog, ratelimit, stats
from gateway.affinity import affinity_store
from gateway.bridge.recorder import recorder
from gateway.edge.server import GatewayServer, edge_config

CHANNEL_SECRET_PREFIX = "sk-upstream-e2e-"


class _Server(GatewayServer):
    def install_signal_handlers(self) -> None:
        """Signals belong to pytest."""


@dataclass
class RunningGateway:
    """The gateway's base URL and the thread serving it."""

    url: str
    server: _Server
    thread: threading.Thread


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _disconnect_other_sessions() -> None:
    """End the server threads' database sessions so the test database can be dropped (on
    PostgreSQL; SQLite's test file is deleted whoever has it open)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def gateway_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[RunningGateway]:
    """`config.asgi:application` served as in production (gateway.edge.server) on a free port,
    for the whole session."""
    from config.asgi import application

    port = _free_port()
    config = edge_config(application, host="127.0.0.1", port=port, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.01)
        yield RunningGateway(f"http://127.0.0.1:{port}", server, thread)
        server.should_exit = True
        thread.join(timeout=10)
        _disconnect_other_sessions()


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[FakeUpstream]:
    """The fake upstream for the whole session."""
    with running_fake_upstream() as upstream:
        yield upstream


@dataclass
class Gateway:
    """One test's view of the running stack, with helpers to set it up and inspect it."""

    url: str
    upstream: FakeUpstream
    account: Account
    key: str
    channels: list[Channel] = field(default_factory=list)

    def client(self, key: str | None = None, prefix: str = "/v1", **options: Any) -> openai.OpenAI:
        """The official SDK pointed at the gateway, without its own retries."""
        return openai.OpenAI(
            base_url=self.url + prefix, api_key=key or self.key, max_retries=0, **options
        )

    def http(self, key: str | None = None) -> httpx.Client:
        """A plain HTTP client with the test key."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=30,
        )

    def channel(
        self,
        name: str,
        *,
        provider: str = "openai",
        models: dict[str, str] | None = None,
        price: tuple[str, str] = ("1", "2"),
        **fields: Any,
    ) -> Channel:
        """A channel on the fake upstream; `models` maps public ids to upstream names."""
        offers = [
            ModelOffer(
                model=public,
                upstream_model=upstream,
                input_price=Decimal(price[0]),
                output_price=Decimal(price[1]),
            )
            for public, upstream in (models or {"gpt-4o-mini": "gpt-4o-mini"}).items()
        ]
        channel = channel_create(
            name=name,
            provider=provider,
            api_type="openai",
            base_url=self.upstream.base_url,
            api_key=CHANNEL_SECRET_PREFIX + name,
            models=offers,
            **fields,
        )
        catalog.invalidate_catalog()
        self.channels.append(channel)
        return channel

    def new_key(self, **options: Any) -> str:
        """Another key of the test account."""
        _, secret = api_key_create(account=self.account, name="extra", **options)
        return secret

    def records(self) -> list[UsageRecord]:
        """Every usage record, oldest first, once the recorder has stored what it was given."""
        assert recorder.flush(timeout=10), "the usage recorder did not drain"
        return list(UsageRecord.objects.order_by("created_at", "id"))

    def wait_records(self, count: int) -> list[UsageRecord]:
        """Exactly `count` records, waiting up to 5 s for them: a stream's record is submitted
        just after its last event reached the client."""
        deadline = time.monotonic() + 5
        found = self.records()
        while len(found) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            found = self.records()
        assert len(found) == count, [(r.id, r.status, r.http_status) for r in found]
        return found

    def record(self) -> UsageRecord:
        """The one usage record there must be."""
        return self.wait_records(1)[0]

    def received(self) -> list[dict[str, Any]]:
        """Chat requests the fake upstream received, oldest first."""
        return [r for r in self.upstream.requests if r["path"].endswith("/chat/completions")]


@pytest.fixture
def gateway(
    transactional_db: None, gateway_server: RunningGateway, upstream_server: FakeUpstream
) -> Iterator[Gateway]:
    """A clean stack: an account with 100 USD, a key, no channels, empty caches."""
    auth.forget_keys()
    catalog.invalidate_catalog()
    stats.reset_figures()
    affinity_store().forget_all()
    upstream_server.clear_requests()
    account = account_create(name="e2e")
    account_credit(account=account, amount=Decimal(100))
    _, secret = api_key_create(account=account, name="e2e")
    yield Gateway(gateway_server.url, upstream_server, account, secret)
    recorder.flush(timeout=10)
    # A reload the server started (a change notice, its timer) must not be reading the tables
    # while the test database is emptied: PostgreSQL's TRUNCATE and its SELECT can deadlock.
    deadline = time.monotonic() + 5
    while catalog.reload_under_way() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture(params=["redis", "database"])
def reservations(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run a test with reservations in Redis, then again in the database (no REDIS_URL); the
    SQLite run has no Redis, only the second."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("no Redis in the SQLite run (config.settings.test_sqlite)")
    if request.param == "database":
        settings.REDIS_URL = ""
    return str(request.param)


@pytest.fixture(autouse=True)
def fresh_local_limits() -> None:
    """Each test starts with no per-process rate-limit counts."""
    ratelimit.forget_local_limits()


@pytest.fixture(params=["redis", "per-process"])
def limits_store(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run a test with rate limits in Redis, then again per process (no REDIS_URL)."""
    if request.param == "per-process":
        settings.REDIS_URL = ""
    return str(request.param)

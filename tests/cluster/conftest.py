"""The cluster suite's harness: one cluster of real processes (`python -m bench.cluster`: nginx,
gateway processes, a Celery worker, one beat, the fake upstream) for the whole session, on the
test database and the Redis of `make cluster-test`.

The test process writes accounts, keys and channels with the ORM and counts money afterwards;
requests go through nginx or straight to one gateway process. Data stays between tests (each
test makes its own), and Redis is not emptied per test: the cluster's broker lives there.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.cluster import kill_left_behind
from billing.models import Account, UsageRecord
from billing.services import account_create, account_credit, api_key_create
from channels.models import Channel
from channels.services import ModelOffer, channel_create
from config.env import BASE_DIR
from tests.gateway.process_helpers import database_url

GATEWAYS = 2
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
# Settings of the cluster's processes for these tests (the rest are production defaults).
CLUSTER_SETTINGS = {
    "BREAKER_FAILURE_THRESHOLD": "2",
    "BREAKER_COOLDOWN": "60",
    "GATEWAY_SHUTDOWN_GRACE": "10",
    # Polling only every minute: a change obeyed at once was broadcast (test_config_changes).
    "GATEWAY_CATALOG_SECONDS": "60",
    "GATEWAY_AUTH_CACHE_SECONDS": "60",
    "LOG_LEVEL": "WARNING",
}
# What the test settings put in the environment for their own gateway subprocesses.
TEST_ONLY_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "GATEWAY_JOURNAL_DIR",
    "GATEWAY_JOURNAL_SWEEP_SECONDS",
    "GATEWAY_RESERVATION_RESYNC_SECONDS",
)


@dataclass
class Cluster:
    """The running cluster, as its state file says."""

    process: subprocess.Popen[bytes]
    state_file: Path
    log: Path

    def state(self) -> dict[str, Any]:
        """The state file as it is now (rewritten after a gateway restarts)."""
        return dict(json.loads(self.state_file.read_text()))

    @property
    def url(self) -> str:
        """nginx, in front of every gateway process."""
        return str(self.state()["url"])

    def gateway_urls(self) -> list[str]:
        """Each gateway process, reached directly."""
        return [gateway["url"] for gateway in self.state()["gateways"]]

    @property
    def upstream_url(self) -> str:
        """The fake upstream's root (`/_fake/requests` lives here)."""
        return str(self.state()["upstream_url"])

    def upstream_models(self, prefix: str) -> list[str]:
        """The upstream models the fake upstream was asked for, oldest first, of those that
        start with `prefix`."""
        bodies = [request["body"] for request in self.upstream_requests()]
        models = [body.get("model", "") for body in bodies if isinstance(body, dict)]
        return [model for model in models if model.startswith(prefix)]

    def upstream_requests(self) -> list[dict[str, Any]]:
        """What the fake upstream received (its last 1,000 requests), oldest first."""
        return list(httpx.get(f"{self.upstream_url}/_fake/requests", timeout=10).json())


@dataclass
class Tenant:
    """A test's own account, key and channel."""

    account: Account
    key: str
    channel: Channel
    model: str

    @property
    def headers(self) -> dict[str, str]:
        """The key's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Replaces the suite's emptying of Redis per test: the cluster's broker and shared state
    live in that Redis while it runs."""


@pytest.fixture(scope="session")
def cluster(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """`python -m bench.cluster` with GATEWAYS gateway processes on the test database, for
    the session; the test process may use the database meanwhile. Stopped with SIGTERM."""
    work = tmp_path_factory.mktemp("cluster")
    state_file = work / "state.json"
    log = work / "runner.log"
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    env |= CLUSTER_SETTINGS | {
        "DATABASE_URL": database_url(),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    }
    argv = [sys.executable, "-m", "bench.cluster", "--gateways", str(GATEWAYS), "--no-demo"]
    argv += ["--work-dir", str(work / "run"), "--state-file", str(state_file)]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and runner)
            argv, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    running = Cluster(process, state_file, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not state_file.exists():
            assert process.poll() is None, f"the cluster did not start:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the cluster took too long:\n{log.read_text()}"
            time.sleep(0.2)
        with django_db_blocker.unblock():
            yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            kill_left_behind(state_file)


def make_tenant(
    cluster: Cluster,
    name: str,
    *,
    upstream_model: str,
    credit: Decimal = Decimal(100),
    prices: tuple[str, str] = ("0", "0"),
    rpm_limit: int | None = None,
    wait: bool = True,
    **channel_fields: Any,
) -> Tenant:
    """An account with `credit`, a key and a channel serving public model `name` from the
    fake upstream as `upstream_model`; returns once every gateway process serves it (unless
    not `wait`: then see `wait_served`)."""
    account = account_create(name=name)
    account_credit(account=account, amount=credit)
    _, key = api_key_create(account=account, name=name, rpm_limit=rpm_limit)
    channel = channel_create(
        name=name,
        provider="openai",
        api_type="openai",
        base_url=f"{cluster.upstream_url}/v1",
        api_key=f"sk-upstream-{name}-{secrets.token_hex(8)}",
        models=[
            ModelOffer(
                model=name,
                upstream_model=upstream_model,
                input_price=Decimal(prices[0]),
                output_price=Decimal(prices[1]),
            )
        ],
        **channel_fields,
    )
    # Another key of the account watches for the model: the tenant's key keeps its whole rpm.
    _, watcher = api_key_create(account=account, name=f"{name}-watcher")
    if wait:
        wait_served(cluster, name, watcher)
    return Tenant(account, key, channel, name)


def wait_served(cluster: Cluster, model: str, key: str, timeout: float = 15.0) -> None:
    """Return once every gateway process lists `model` to `key`."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {key}"}
    for url in cluster.gateway_urls():
        while True:
            models = httpx.get(f"{url}/v1/models", headers=headers, timeout=5)
            if models.status_code == 200 and model in {m["id"] for m in models.json()["data"]}:
                break
            assert time.monotonic() < deadline, f"{url} does not serve {model}"
            time.sleep(0.2)


def wait_records(tenant: Tenant, count: int, timeout: float = 30.0) -> list[UsageRecord]:
    """The key's usage records once there are `count` (they are written after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        records = list(UsageRecord.objects.filter(account=tenant.account))
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def chat(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    """A chat completion body for the tenant's model."""
    return {"model": tenant.model, "messages": [{"role": "user", "content": "hi"}], **extra}

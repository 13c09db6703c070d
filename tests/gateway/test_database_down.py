"""The database stops under a running gateway: keys it has cached keep working, others get a
503 envelope with retry-after within seconds, and everything works again once it is back.

The gateway subprocess runs against a PostgreSQL of this test's own (tests/postgres_server.py),
migrated and seeded by subprocesses, without Redis: reservations and limits in the database and
the process, so the stopped database is the only thing missing.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bench.fake_upstream import FakeUpstream
from config.env import BASE_DIR
from tests.gateway.process_helpers import gateway_process
from tests.postgres_server import PostgresServer, postgres_server

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
OTHER_KEYS = 40
BOUND_SECONDS = 5.0
# The outage outlasts the snapshot's bound: routing on an older one is refused, not done.
CATALOG_SECONDS = 8


def seed(upstream_url: str) -> None:
    """Run in a subprocess against the test's own database: an account with credit, a channel
    on the fake upstream, and keys; prints the keys' secrets as a JSON list."""
    from billing.services import account_create, account_credit, api_key_create
    from channels.services import ModelOffer, channel_create

    account = account_create(name="outage")
    account_credit(account=account, amount=Decimal(100))
    offer = ModelOffer(
        model="gpt-4o-mini",
        upstream_model="gpt-4o-mini",
        input_price=Decimal(1),
        output_price=Decimal(2),
    )
    channel_create(
        name="main",
        provider="openai",
        api_type="openai",
        base_url=upstream_url,
        api_key="sk-upstream-outage",
        models=[offer],
    )
    keys = [api_key_create(account=account, name=f"k{i}")[1] for i in range(1 + OTHER_KEYS)]
    print(json.dumps(keys))


def _manage(database: PostgresServer, *code: str) -> str:
    environment = {
        **os.environ,
        "DATABASE_URL": database.url,
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", "import django; django.setup(); " + "; ".join(code)],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@dataclass
class Outage:
    """The gateway's URL, its database, and keys: `cached` used before the outage."""

    url: str
    database: PostgresServer
    cached: str
    others: list[str]
    log: Path


@pytest.fixture
def outage(upstream_server: FakeUpstream, tmp_path) -> Iterator[Outage]:
    """A gateway subprocess on its own seeded database, with the first key cached (60 s)."""
    with postgres_server() as database:
        _manage(
            database,
            "from django.core.management import call_command",
            "call_command('migrate', verbosity=0)",
        )
        output = _manage(
            database,
            "from tests.gateway.test_database_down import seed",
            f"seed({upstream_server.base_url!r})",
        )
        cached, *others = json.loads(output.strip().splitlines()[-1])
        with gateway_process(
            DATABASE_URL=database.url,
            REDIS_URL="",
            CELERY_BROKER_URL="",
            GATEWAY_AUTH_CACHE_SECONDS="60",
            GATEWAY_CATALOG_SECONDS=str(CATALOG_SECONDS),
            GATEWAY_JOURNAL_DIR=str(tmp_path),
            log=tmp_path / "gateway.log",
        ) as (_, url):
            yield Outage(url, database, cached, others, tmp_path / "gateway.log")


def _get(url: str, key: str, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("server_error", "database_unavailable")
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert elapsed <= BOUND_SECONDS, elapsed


async def _many(url: str, keys: list[str]) -> list[tuple[httpx.Response, float]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(key: str) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            headers = {"Authorization": f"Bearer {key}"}
            response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
            return response, time.monotonic() - started

        return await asyncio.gather(*(one(key) for key in keys))


def test_a_stopped_database_is_a_prompt_503_and_cached_keys_keep_working(outage):
    with httpx.Client(base_url=outage.url, timeout=30) as client:
        answer = client.post(
            "/v1/chat/completions",
            json=BODY,
            headers={"Authorization": f"Bearer {outage.cached}"},
        )
        assert answer.status_code == 200, answer.text

    outage.database.stop()

    # The cached key still authenticates; the model list comes from the gateway's snapshot
    # (reloaded every CATALOG_SECONDS / 2, so at most that old when the database stopped).
    models, _ = _get(outage.url, outage.cached, "/v1/models")
    assert models.status_code == 200
    assert [entry["id"] for entry in models.json()["data"]] == ["gpt-4o-mini"]
    # Keys the gateway has not seen: a JSON 503 within the bound, one at a time and all at once.
    for path in ("/v1/models", "/v1/key"):
        _assert_unavailable(*_get(outage.url, outage.others[0], path))
    for response, elapsed in asyncio.run(_many(outage.url, outage.others)):
        _assert_unavailable(response, elapsed)
    # A read the cached key needs from the database fails the same way.
    _assert_unavailable(*_get(outage.url, outage.cached, "/v1/key"))
    # Ten seconds of steady traffic with new keys (the measured 20 requests a second): every
    # answer a prompt 503, none stuck behind the others.
    until = time.monotonic() + 10
    while time.monotonic() < until:
        for response, elapsed in asyncio.run(_many(outage.url, outage.others[:4])):
            _assert_unavailable(response, elapsed)
        time.sleep(0.2)
    # By now the snapshot is older than GATEWAY_CATALOG_SECONDS: nothing is routed on it.
    _assert_unavailable(*_get(outage.url, outage.cached, "/v1/models"))

    outage.database.start()

    restarted = time.monotonic()
    while (response := _get(outage.url, outage.others[0], "/v1/models")[0]).status_code != 200:
        _assert_unavailable(response, 0)
        assert time.monotonic() - restarted < 10, "the gateway did not recover"
        time.sleep(0.2)
    results = asyncio.run(_many(outage.url, outage.others))
    failed = [response.text for response, _ in results if response.status_code != 200]
    assert failed == [], "every key, its reservation and its upstream call work again"
    summary, _ = _get(outage.url, outage.cached, "/v1/key")
    assert summary.status_code == 200
    assert summary.json()["data"]["prefix"] == outage.cached[:14]
    logged = outage.log.read_text()
    assert logged.count("catalog reload failed") == 1, "once per outage, not once per reload"
    assert logged.count("catalog reloaded again") == 1

"""A rolling restart behind nginx: each gateway process in turn gets SIGTERM (and is started
again by the cluster) while 200 streams flow; every stream ends whole, and every request has
exactly one usage record and one charge."""

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import httpx
import orjson

from bench.fake_upstream import fault_model
from billing.models import LedgerEntry, LedgerKind
from core.usage import UsageStatus
from tests.cluster.conftest import Cluster, chat, make_tenant, wait_records

STREAMS = 200
PACE_S = 0.08
"""A stream starts every PACE_S seconds; each lasts about 3 s (30 words, 100 ms apart)."""
WORDS = 30
FIRST_RESTART_AFTER_S = 2.0
RESTART_TIMEOUT_S = 60.0


@dataclass
class Outcome:
    """What one streamed request gave its client."""

    status: int
    request_id: str
    whole: bool
    """Ended with `data: [DONE]` and carried no error event."""


async def _stream(client: httpx.AsyncClient, body: dict[str, object]) -> Outcome:
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        text = (await response.aread()).decode()
    data = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    whole = bool(data) and data[-1] == "[DONE]"
    whole = whole and not any("error" in orjson.loads(item) for item in data[:-1])
    return Outcome(response.status_code, response.headers.get("x-request-id", ""), whole)


async def _restart_each(cluster: Cluster, in_flight: list[int], flowing: set[object]) -> None:
    """SIGTERM each gateway process in turn; return once its replacement answers."""
    for number, gateway in enumerate(cluster.state()["gateways"]):
        in_flight.append(len(flowing))
        os.kill(gateway["pid"], signal.SIGTERM)
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while cluster.state()["gateways"][number]["pid"] == gateway["pid"]:
            assert time.monotonic() < deadline, f"{gateway['name']} was not started again"
            await asyncio.sleep(0.2)


def test_a_rolling_restart_under_200_streams_loses_and_duplicates_nothing(
    cluster: Cluster,
) -> None:
    upstream = fault_model("rolling", words=WORDS, chunk_delay_ms=100)
    tenant = make_tenant(cluster, "cluster-rolling", upstream_model=upstream, prices=("1", "2"))
    body = chat(tenant, stream=True, stream_options={"include_usage": True})
    before = {gateway["pid"] for gateway in cluster.state()["gateways"]}
    in_flight: list[int] = []

    async def scenario() -> list[Outcome]:
        flowing: set[object] = set()
        limits = httpx.Limits(max_connections=STREAMS, max_keepalive_connections=STREAMS)
        async with httpx.AsyncClient(
            base_url=cluster.url, headers=tenant.headers, timeout=60, limits=limits
        ) as client:
            restarts = asyncio.create_task(_restart_after(cluster, in_flight, flowing))
            streams = []
            for _ in range(STREAMS):
                task = asyncio.create_task(_stream(client, body))
                flowing.add(task)
                task.add_done_callback(flowing.discard)
                streams.append(task)
                await asyncio.sleep(PACE_S)
            outcomes = await asyncio.gather(*streams)
            await restarts
        return outcomes

    outcomes = asyncio.run(scenario())

    after = {gateway["pid"] for gateway in cluster.state()["gateways"]}
    assert not before & after, "every gateway process was replaced"
    assert all(in_flight), f"streams in flight at each SIGTERM: {in_flight}"
    failed = [outcome for outcome in outcomes if outcome.status != 200 or not outcome.whole]
    assert failed == []
    ids = [outcome.request_id for outcome in outcomes]
    assert len(set(ids)) == STREAMS
    records = wait_records(tenant, STREAMS)
    assert sorted(record.id for record in records) == sorted(ids)
    assert {record.status for record in records} == {UsageStatus.OK}
    charges = LedgerEntry.objects.filter(account=tenant.account, kind=LedgerKind.CHARGE)
    assert Counter(charges.values_list("request_id", flat=True)) == Counter(ids)
    tenant.account.refresh_from_db()
    charged = sum((record.cost for record in records), Decimal(0))
    assert charged > 0
    assert tenant.account.balance == Decimal(100) - charged


async def _restart_after(cluster: Cluster, in_flight: list[int], flowing: set[object]) -> None:
    await asyncio.sleep(FIRST_RESTART_AFTER_S)
    await _restart_each(cluster, in_flight, flowing)

"""Credit and rate limits hold exactly across gateway processes: requests spread over every
process of the cluster spend no more than the credit and pass an rpm limit exactly its count."""

import asyncio
from decimal import Decimal
from itertools import cycle

import httpx
import orjson

from bench.fake_upstream import fault_model
from billing.pricing import Prices, usage_cost_bound
from core.usage import Usage
from gateway.estimate import prompt_tokens_bound
from tests.cluster.conftest import Cluster, Tenant, chat, make_tenant, wait_records

CREDITED = 20
"""Requests the credit pays for at their worst case; five times as many are sent at once."""
MAX_TOKENS = 50
PRICES = ("1", "2")
RPM = 10


def _spread(cluster: Cluster, tenant: Tenant, body: dict[str, object], count: int) -> list[int]:
    """Send `count` requests at once, round-robin over the gateway processes; their statuses."""

    async def send() -> list[httpx.Response]:
        clients = [
            httpx.AsyncClient(base_url=url, headers=tenant.headers, timeout=60)
            for url in cluster.gateway_urls()
        ]
        try:
            targets = cycle(clients)
            return await asyncio.gather(
                *(next(targets).post("/v1/chat/completions", json=body) for _ in range(count))
            )
        finally:
            for client in clients:
                await client.aclose()

    return [response.status_code for response in asyncio.run(send())]


def test_credit_for_n_requests_pays_for_n_of_5n_sent_at_once_to_every_process(cluster):
    # The upstream bills a token per byte of the prompt and answers at the full cap, slowly:
    # every admitted request costs the worst case admission held for it, and all overlap.
    name = "cluster-credit"
    body = {
        "model": name,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": MAX_TOKENS,
    }
    prompt = prompt_tokens_bound(body, body_bytes=len(orjson.dumps(body)))
    worst = usage_cost_bound(
        Usage(prompt_tokens=prompt, completion_tokens=MAX_TOKENS),
        Prices(input=Decimal(PRICES[0]), output=Decimal(PRICES[1])),
    )
    credit = CREDITED * worst
    upstream = fault_model(name, prompt_tokens="bytes", words=10 * MAX_TOKENS, latency_ms=1500)
    tenant = make_tenant(cluster, name, upstream_model=upstream, prices=PRICES, credit=credit)

    statuses = _spread(cluster, tenant, body, 5 * CREDITED)

    assert statuses.count(200) == CREDITED
    assert set(statuses) == {200, 402}
    records = wait_records(tenant, 5 * CREDITED)
    assert len(records) == 5 * CREDITED
    charged = sum((record.cost for record in records), Decimal(0))
    assert charged <= credit
    tenant.account.refresh_from_db()
    assert tenant.account.balance >= 0
    assert tenant.account.balance == credit - charged


def test_an_rpm_limit_admits_exactly_its_count_across_processes(cluster):
    tenant = make_tenant(cluster, "cluster-rpm", upstream_model="rpm", rpm_limit=RPM)

    statuses = _spread(cluster, tenant, chat(tenant), 3 * RPM)

    assert statuses.count(200) == RPM
    assert set(statuses) == {200, 429}

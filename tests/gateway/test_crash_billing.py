"""Nothing unbilled after a crash: SIGKILL a gateway process in the middle of a burst, and count.

Every upstream call the killed process made must end with exactly one usage record and its
charge — answered ones with the provider's usage, those in flight `interrupted` and estimated —
billed by another gateway process's journal sweep within 60 s, with the dead process's holds
given back and the books reconciled.
"""

import asyncio
import signal
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings

from billing.models import Account, ApiKey, Reservation, UsageRecord
from billing.reconcile import reconcile
from tests.gateway.process_helpers import gateway_process

BURST = 200
MODELS = {
    "fast": "gpt-4o-mini",
    "slow": "gpt-4o-mini@latency_ms=4000",
    "long-stream": "gpt-4o-mini@words=80;chunk_delay_ms=50",
}


def _body(i: int) -> dict[str, Any]:
    model = ["fast", "slow", "long-stream", "fast"][i % 4]
    return {
        "model": model,
        "stream": model == "long-stream" or i % 8 == 0,
        "user": f"crash-{i}",
        "messages": [{"role": "user", "content": f"request number {i}"}],
    }


async def _send_all(url: str, key: str, outcomes: dict[str, str]) -> None:
    limits = httpx.Limits(max_connections=BURST)
    headers = {"Authorization": f"Bearer {key}"}
    client = httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits)
    async with client:

        async def one(i: int) -> None:
            body = _body(i)
            try:
                if body["stream"]:
                    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                        text = "".join([chunk async for chunk in response.aiter_text()])
                    answered = response.status_code == 200 and "[DONE]" in text
                else:
                    response = await client.post("/v1/chat/completions", json=body)
                    answered = response.status_code == 200
                status = response.status_code
                outcomes[body["user"]] = "answered" if answered else f"status {status}"
            except httpx.HTTPError:
                outcomes[body["user"]] = "cut"

        await asyncio.gather(*(one(i) for i in range(BURST)))


def _holds_in_redis(account: Account, key_id: int) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    totals = [
        client.hget(f"switchyard:budget:{budget}:{budget_id}:amounts", "total")
        for budget, budget_id in (("account", account.pk), ("key", key_id))
    ]
    return sum(int(total or 0) for total in totals)


@pytest.mark.parametrize("backend", ["redis", "database"])
def test_sigkill_mid_burst_leaves_every_upstream_call_billed_once(gateway, backend, tmp_path):
    for public, upstream in MODELS.items():
        gateway.channel(f"crash-{public}", models={public: upstream})
    env = {"GATEWAY_JOURNAL_DIR": str(tmp_path)}  # the two processes' machine
    if backend == "database":
        env["REDIS_URL"] = ""
    outcomes: dict[str, str] = {}

    with gateway_process(GATEWAY_JOURNAL_SWEEP_SECONDS="0", **env) as (victim, url):
        burst = threading.Thread(target=lambda: asyncio.run(_send_all(url, gateway.key, outcomes)))
        burst.start()
        deadline = time.monotonic() + 20
        while len(gateway.received()) < BURST and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(gateway.received()) == BURST, "the burst did not reach the upstream"
        time.sleep(0.3)  # the fast ones are answered, the slow ones are not
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        burst.join(timeout=30)

    answered = {user for user, outcome in outcomes.items() if outcome == "answered"}
    assert 0 < len(answered) < BURST, outcomes
    called = [request["body"]["user"] for request in gateway.received()]

    killed_at = time.monotonic()
    with gateway_process(GATEWAY_JOURNAL_SWEEP_SECONDS="1", **env):
        while time.monotonic() < killed_at + 60:
            records = list(UsageRecord.objects.filter(user__startswith="crash-"))
            if len(records) >= BURST:
                break
            time.sleep(0.2)

    by_user: dict[str, list[UsageRecord]] = {}
    for record in records:
        by_user.setdefault(record.user, []).append(record)
    assert sorted(by_user) == sorted(called), "one record per upstream call"
    assert all(len(found) == 1 for found in by_user.values()), "no request billed twice"
    for user, (record,) in by_user.items():
        assert record.cost > 0
        assert record.charge.amount == -record.cost
        if user in answered:
            assert record.status == "ok"
            assert record.usage_source == "provider"
        else:
            assert record.status in {"interrupted", "ok"}
    interrupted = [r for r in records if r.status == "interrupted"]
    assert interrupted, "the slow requests were in flight when the process died"
    assert all(r.usage_source == "estimated" and r.channel_id for r in interrupted)

    account = Account.objects.get(pk=gateway.account.pk)
    key_id = ApiKey.objects.get(account=account).pk
    assert account.reserved == 0
    assert not Reservation.objects.exists()
    if backend == "redis":
        assert _holds_in_redis(account, key_id) == 0, "the dead process's holds were given back"
    assert account.balance == Decimal(100) - sum(r.cost for r in records)
    assert reconcile().ok, reconcile().problems

"""How requests end outside the happy path: a client that leaves, a server told to stop."""

import signal
import time

import httpx
from django.db import transaction

from billing.models import Account, UsageRecord
from tests.gateway.process_helpers import gateway_process

SLOW_STREAM = "gpt-4o-mini@words=40;chunk_delay_ms=100"


def test_client_disconnect_closes_the_upstream_and_records_cancelled(gateway):
    gateway.channel("slow", models={"gpt-4o-mini": SLOW_STREAM})
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    with (
        gateway.http() as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if '"content":"Hello"' in line:
                break
        else:
            raise AssertionError("no content arrived before the end of the stream")

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        outcomes = [r.get("outcome") for r in gateway.received()]
        if outcomes == ["client_disconnected"]:
            break
        time.sleep(0.05)
    assert outcomes == ["client_disconnected"], "the gateway must close the upstream request"
    record = gateway.record()
    assert (record.status, record.error_code) == ("cancelled", "client_disconnected")
    assert record.usage_source == "estimated"
    assert 0 < record.completion_tokens < 40
    assert record.cost > 0
    assert [a["outcome"] for a in record.attempts] == ["cancelled"]


def test_sigterm_stores_queued_usage_records_before_exit(gateway):
    gateway.channel("main")
    with gateway_process() as (server, url):
        with transaction.atomic():
            # Hold the account row: the server's recorder cannot store its batch until we let go.
            Account.objects.select_for_update().get(pk=gateway.account.pk)
            response = httpx.post(
                f"{url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {gateway.key}"},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
            assert response.status_code == 200
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.poll() is None, "the server waits for its queued records"
        # uvicorn re-raises the signal after its graceful shutdown.
        assert server.wait(timeout=20) in {0, -signal.SIGTERM}

    record = UsageRecord.objects.get(pk=response.headers["x-request-id"])
    assert record.status == "ok"
    assert record.charge.amount == -record.cost

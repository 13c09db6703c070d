"""Channel health is shared by the cluster: a breaker one gateway process opens keeps every
other process off the channel, and a channel is probed once per interval however many
workers are asked to probe it."""

import threading
import time
from itertools import pairwise

import httpx
from django.db import connection, transaction

from bench.fake_upstream import fault_model
from channels.services import ModelOffer, channel_create
from channels.tasks import probe_channel_task
from tests.cluster.conftest import CLUSTER_SETTINGS, chat, make_tenant, wait_served

BREAKER_THRESHOLD = int(CLUSTER_SETTINGS["BREAKER_FAILURE_THRESHOLD"])
BREAKER_REFRESH_S = 1.5
"""The shared breakers are re-read every second (gateway.breakers.REFRESH_SECONDS)."""
PROBE_INTERVAL_S = 2
PROBE_WINDOW_S = 7.0
PROBERS = 4
CLOCK_SLACK_S = 0.05


def test_a_breaker_opened_in_one_process_keeps_the_others_off_the_channel(cluster):
    flaky = fault_model("breaker-flaky", status=503)
    with transaction.atomic():  # every process sees both channels or neither
        tenant = make_tenant(
            cluster, "cluster-breaker", upstream_model=flaky, priority=10, wait=False
        )
        channel_create(
            name="cluster-breaker-steady",
            provider="openai",
            api_type="openai",
            base_url=f"{cluster.upstream_url}/v1",
            api_key="sk-upstream-cluster-breaker-steady",
            models=[ModelOffer(model=tenant.model, upstream_model="breaker-steady")],
        )
    wait_served(cluster, tenant.model, tenant.key)
    first, second = cluster.gateway_urls()

    with httpx.Client(base_url=first, headers=tenant.headers, timeout=30) as client:
        opened = [
            client.post("/v1/chat/completions", json=chat(tenant)) for _ in range(BREAKER_THRESHOLD)
        ]
    time.sleep(BREAKER_REFRESH_S)
    with httpx.Client(base_url=second, headers=tenant.headers, timeout=30) as client:
        after = [client.post("/v1/chat/completions", json=chat(tenant)) for _ in range(3)]

    assert [response.status_code for response in opened + after] == [200] * (BREAKER_THRESHOLD + 3)
    called = cluster.upstream_models("breaker-")
    # The first process tried the flaky channel until its breaker opened; the second never did.
    assert called == [flaky, "breaker-steady"] * BREAKER_THRESHOLD + ["breaker-steady"] * 3


def test_one_probe_per_channel_per_interval_however_many_workers_probe(cluster):
    secret = "sk-upstream-cluster-probe"
    channel = channel_create(
        name="cluster-probe",
        provider="openai",
        api_type="openai",
        base_url=f"{cluster.upstream_url}/v1",
        api_key=secret,
        probe_interval=PROBE_INTERVAL_S,
        models=[ModelOffer(model="cluster-probe", upstream_model="probe")],
    )
    stop = threading.Event()

    def prober() -> None:
        # Every round asks the cluster's worker (through the broker) and this process to probe.
        try:
            while not stop.is_set():
                probe_channel_task.delay(channel.pk)
                probe_channel_task(channel.pk)
                time.sleep(0.1)
        finally:
            connection.close()

    threads = [threading.Thread(target=prober) for _ in range(PROBERS)]
    for thread in threads:
        thread.start()
    time.sleep(PROBE_WINDOW_S)
    stop.set()
    for thread in threads:
        thread.join()
    time.sleep(1)  # the worker's last queued asks are answered

    probed_at = [
        request["received_at"]
        for request in cluster.upstream_requests()
        if request["headers"].get("authorization") == f"Bearer {secret}"
    ]
    gaps = [later - earlier for earlier, later in pairwise(probed_at)]
    assert len(probed_at) >= PROBE_WINDOW_S // PROBE_INTERVAL_S
    assert min(gaps) >= PROBE_INTERVAL_S - CLOCK_SLACK_S, f"probes {gaps} s apart"

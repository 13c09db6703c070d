"""Metrics: one finished request moves every family with bounded labels; `/metrics` exposes them,
summed over worker processes in multiprocess mode."""

import asyncio
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from core.usage import Usage
from gateway import metrics
from gateway.accounting import AttemptLog, UsageDraft

GPT = "openai/gpt-4o"
ROOT = Path(__file__).resolve().parents[2]


def draft(**fields) -> UsageDraft:
    values: dict[str, Any] = {
        "id": "req_1",
        "created_at": timezone.now(),
        "account_id": 1,
        "key_id": 2,
        "model": GPT,
    } | fields
    return UsageDraft(**values)


def served_draft(**fields) -> UsageDraft:
    return draft(
        served_model=GPT,
        provider="openai",
        channel_id=7,
        status="ok",
        http_status=200,
        stream=True,
        usage=Usage(prompt_tokens=100, completion_tokens=40, cached_tokens=20, reasoning_tokens=5),
        cost=Decimal("0.0012500000"),
        latency_ms=1500,
        ttft_ms=300,
        attempts=[
            AttemptLog("openai-a", "openai", "rate_limited", 429, 50, "slow down"),
            AttemptLog("openai-b", "openai", "ok", 200, 1400),
        ],
        **fields,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def fresh(registry) -> metrics.Metrics:
    return metrics.build_metrics(registry)


def test_observe_request_counts_a_fallback_request(registry, fresh):
    metrics.observe_request(served_draft(), "openai-b", metrics=fresh)

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value(
        "switchyard_requests_total",
        model=GPT,
        provider="openai",
        channel="openai-b",
        status="ok",
    ) == pytest.approx(1)
    assert value("switchyard_request_latency_seconds_sum", model=GPT, stream="true") == 1.5
    assert value(
        "switchyard_request_latency_seconds_bucket", model=GPT, stream="true", le="1.0"
    ) == pytest.approx(0)
    assert value(
        "switchyard_request_latency_seconds_bucket", model=GPT, stream="true", le="2.5"
    ) == pytest.approx(1)
    assert value("switchyard_ttft_seconds_sum", model=GPT, stream="true") == pytest.approx(0.3)
    assert value(
        "switchyard_upstream_attempts_total",
        channel="openai-a",
        provider="openai",
        outcome="rate_limited",
    ) == pytest.approx(1)
    assert value(
        "switchyard_upstream_attempts_total", channel="openai-b", provider="openai", outcome="ok"
    ) == pytest.approx(1)
    assert value("switchyard_fallbacks_total", model=GPT) == pytest.approx(1)
    for kind, count in [("prompt", 100), ("completion", 40), ("cached", 20), ("reasoning", 5)]:
        assert value(
            "switchyard_tokens_total", model=GPT, provider="openai", kind=kind
        ) == pytest.approx(count)
    assert value("switchyard_cost_usd_total", model=GPT, provider="openai") == pytest.approx(
        0.00125
    )


def test_first_attempt_success_is_not_a_fallback(registry, fresh):
    single = served_draft()
    single.attempts = single.attempts[1:]
    metrics.observe_request(single, "openai-b", metrics=fresh)

    assert registry.get_sample_value("switchyard_fallbacks_total", {"model": GPT}) is None


def test_failed_request_counts_without_tokens_ttft_or_cost(registry, fresh):
    failed = draft(
        status="error",
        http_status=503,
        error_code="all_channels_failed",
        latency_ms=200,
        attempts=[AttemptLog("openai-a", "openai", "server_error", 500, 200, "boom")],
    )
    metrics.observe_request(failed, None, metrics=fresh)

    labels = {"model": GPT, "provider": "", "channel": "", "status": "error"}
    assert registry.get_sample_value("switchyard_requests_total", labels) == pytest.approx(1)
    assert registry.get_sample_value("switchyard_fallbacks_total", {"model": GPT}) is None
    assert registry.get_sample_value(
        "switchyard_ttft_seconds_count", {"model": GPT, "stream": "false"}
    ) in (None, 0)
    names = {sample.name for family in registry.collect() for sample in family.samples}
    assert "switchyard_tokens_total" not in names
    assert "switchyard_cost_usd_total" not in names


@pytest.mark.parametrize(
    ("error_code", "expected"),
    [
        ("model_not_found", metrics.UNROUTED_MODEL),
        ("invalid_request", metrics.UNROUTED_MODEL),
        ("request_too_large", metrics.UNROUTED_MODEL),
        ("model_not_allowed", "client/made-up-model"),
        ("no_healthy_channel", "client/made-up-model"),
    ],
)
def test_a_model_the_catalog_never_accepted_is_not_a_label(registry, fresh, error_code, expected):
    rejected = draft(model="client/made-up-model", error_code=error_code, http_status=404)
    metrics.observe_request(rejected, None, metrics=fresh)

    labels = {"model": expected, "provider": "", "channel": "", "status": "error"}
    assert registry.get_sample_value("switchyard_requests_total", labels) == pytest.approx(1)


@pytest.mark.parametrize(("state", "expected"), [("closed", 0), ("half_open", 1), ("open", 2)])
def test_breaker_state_gauge(registry, fresh, state, expected):
    metrics.set_breaker_state("openai-a", state, metrics=fresh)

    assert registry.get_sample_value(
        "switchyard_breaker_state", {"channel": "openai-a"}
    ) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "expected"), [("unknown", 0), ("healthy", 1), ("down", 2), ("bogus", 0)]
)
def test_channel_status_gauge(registry, fresh, status, expected):
    metrics.set_channel_status("openai-a", status, metrics=fresh)

    assert registry.get_sample_value(
        "switchyard_channel_status", {"channel": "openai-a"}
    ) == pytest.approx(expected)


def test_default_registry_metrics_move(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROC_DIR_ENV, raising=False)
    labels = {"model": GPT, "provider": "openai", "channel": "openai-b", "status": "ok"}
    before = metrics.REGISTRY.get_sample_value("switchyard_requests_total", labels) or 0

    metrics.observe_request(served_draft(), "openai-b")

    after = metrics.REGISTRY.get_sample_value("switchyard_requests_total", labels)
    assert after == pytest.approx(before + 1)


def test_metrics_view_exposes_the_families(monkeypatch, db):
    monkeypatch.delenv(metrics.MULTIPROC_DIR_ENV, raising=False)
    metrics.observe_request(served_draft(), "openai-b")
    metrics.set_breaker_state("openai-a", "open")
    metrics.set_channel_status("openai-a", "down")

    response = asyncio.run(metrics.metrics_view(RequestFactory().get("/metrics")))

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    text = response.content.decode()
    for name in [
        "switchyard_requests_total",
        "switchyard_request_latency_seconds_bucket",
        "switchyard_ttft_seconds_bucket",
        "switchyard_upstream_attempts_total",
        "switchyard_fallbacks_total",
        "switchyard_tokens_total",
        "switchyard_cost_usd_total",
        "switchyard_breaker_state",
        "switchyard_channel_status",
    ]:
        assert name in text
    assert 'switchyard_breaker_state{channel="openai-a"} 2.0' in text


WORKER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal

    from django.utils import timezone

    from core.usage import Usage
    from gateway import metrics
    from gateway.accounting import UsageDraft

    draft = UsageDraft(
        id="req_x", created_at=timezone.now(), account_id=1, key_id=1, model="m",
        served_model="m", provider="p", status="ok", http_status=200, latency_ms=100,
        usage=Usage(prompt_tokens=10), cost=Decimal("0.5"),
    )
    metrics.observe_request(draft, "c")
    metrics.set_breaker_state("c", sys.argv[1])
    """
)


def run_workers(directory: Path, states: list[str]) -> None:
    """Record one request in each of len(states) fresh processes sharing `directory`."""
    env = os.environ | {
        metrics.MULTIPROC_DIR_ENV: str(directory),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, state], cwd=ROOT, env=env)  # noqa: S603
        for state in states
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0


def test_multiprocess_mode_sums_the_workers(tmp_path, monkeypatch, db):  # the scrape reads channels
    run_workers(tmp_path, ["open", "half_open"])
    monkeypatch.setenv(metrics.MULTIPROC_DIR_ENV, str(tmp_path))

    response = asyncio.run(metrics.metrics_view(RequestFactory().get("/metrics")))

    text = response.content.decode()
    assert 'switchyard_requests_total{channel="c",model="m",provider="p",status="ok"} 2.0' in text
    assert 'switchyard_tokens_total{kind="prompt",model="m",provider="p"} 20.0' in text
    assert 'switchyard_cost_usd_total{model="m",provider="p"} 1.0' in text
    assert 'switchyard_breaker_state{channel="c"}' in text
    # This process's own (single-process) series are not what is exposed.
    assert "openai-b" not in text


def test_a_dead_workers_gauges_are_dropped(tmp_path, monkeypatch):
    run_workers(tmp_path, ["open"])
    monkeypatch.setenv(metrics.MULTIPROC_DIR_ENV, str(tmp_path))
    (gauge_file,) = tmp_path.glob("gauge_livemostrecent_*.db")
    pid = int(gauge_file.stem.rsplit("_", 1)[1])

    metrics.mark_process_dead(pid)

    text = metrics.exposition().decode()
    assert 'switchyard_breaker_state{channel="c"}' not in text
    assert 'switchyard_requests_total{channel="c",model="m",provider="p",status="ok"} 1.0' in text

"""Prometheus metrics of the client API: what each finished request adds, and `/metrics`.

With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` (an empty, writable directory)
in the environment before the workers start: prometheus-client then keeps every process's
values in files there, and `metrics_view` sums them. Without it, the process's default
registry is exposed.

The labels name channels and what each model costs: with GATEWAY_METRICS_TOKEN set, only a
request bearing that token sees them (`/readyz` shares the rule for its checks).
"""

import asyncio
import hmac
import os
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway.accounting import UsageDraft
from gateway.schemas import BreakerState

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_TOKEN_REQUIRED = "A bearer token is required for /metrics.\n"  # noqa: S105 (no secret)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

BREAKER_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
CHANNEL_STATUS_VALUES: dict[str, int] = {"unknown": 0, "healthy": 1, "down": 2}

# The requested model is the client's own text until the catalog has accepted it; these
# failures happen before (or are) that check, so their model is not used as a label value.
UNROUTED_MODEL = "(unrouted)"
TRUSTED_MODEL_ERRORS = frozenset(
    {"model_not_allowed", "no_available_channel", "no_healthy_channel"}
)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The gateway's metric families, registered in one registry."""

    requests: Counter
    request_latency: Histogram
    ttft: Histogram
    attempts: Counter
    fallbacks: Counter
    tokens: Counter
    cost: Counter
    breaker_state: Gauge
    model_breaker_state: Gauge
    channel_status: Gauge


def build_metrics(registry: CollectorRegistry) -> Metrics:
    """Create every metric family in `registry` (the default one in production)."""
    return Metrics(
        requests=Counter(
            "switchyard_requests",
            "Finished chat completion requests.",
            ["model", "provider", "channel", "status"],
            registry=registry,
        ),
        request_latency=Histogram(
            "switchyard_request_latency_seconds",
            "Time from receiving a request to its end (the last byte, for a stream).",
            ["model", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        ttft=Histogram(
            "switchyard_ttft_seconds",
            "Time from receiving a request to its first content token.",
            ["model", "stream"],
            buckets=TTFT_BUCKETS,
            registry=registry,
        ),
        attempts=Counter(
            "switchyard_upstream_attempts",
            "Upstream attempts, by their outcome.",
            ["channel", "provider", "outcome"],
            registry=registry,
        ),
        fallbacks=Counter(
            "switchyard_fallbacks",
            "Requests served by other than their first attempt.",
            ["model"],
            registry=registry,
        ),
        tokens=Counter(
            "switchyard_tokens",
            "Tokens billed, by kind (cached and cache_write are part of prompt, reasoning part of "
            "completion).",
            ["model", "provider", "kind"],
            registry=registry,
        ),
        cost=Counter(
            "switchyard_cost_usd",
            "Cost billed to accounts, in USD.",
            ["model", "provider"],
            registry=registry,
        ),
        breaker_state=Gauge(
            "switchyard_breaker_state",
            "Circuit breaker of a channel: 0 closed, 1 half-open, 2 open.",
            ["channel"],
            multiprocess_mode="livemostrecent",
            registry=registry,
        ),
        model_breaker_state=Gauge(
            "switchyard_model_breaker_state",
            "Circuit breaker of one model on a channel: 0 closed, 1 half-open, 2 open.",
            ["channel", "model"],
            multiprocess_mode="livemostrecent",
            registry=registry,
        ),
        channel_status=Gauge(
            "switchyard_channel_status",
            "Probed status of a channel: 0 unknown, 1 healthy, 2 down.",
            ["channel"],
            multiprocess_mode="livemostrecent",
            registry=registry,
        ),
    )


METRICS = build_metrics(REGISTRY)


def model_label(draft: UsageDraft) -> str:
    """The requested model as a label value, once the catalog has accepted it."""
    if draft.served_model or draft.attempts or draft.error_code in TRUSTED_MODEL_ERRORS:
        return draft.model
    return UNROUTED_MODEL


def observe_request(
    draft: UsageDraft, channel_name: str | None, *, metrics: Metrics = METRICS
) -> None:
    """Count one finished request: its outcome, timings, attempts, tokens and cost (no I/O)."""
    model = model_label(draft)
    provider = draft.provider
    stream = "true" if draft.stream else "false"
    metrics.requests.labels(model, provider, channel_name or "", draft.status).inc()
    metrics.request_latency.labels(model, stream).observe(draft.latency_ms / 1000)
    if draft.ttft_ms is not None:
        metrics.ttft.labels(model, stream).observe(draft.ttft_ms / 1000)
    for attempt in draft.attempts:
        metrics.attempts.labels(attempt.channel, attempt.provider, attempt.outcome).inc()
    if draft.status == "ok" and len(draft.attempts) > 1:
        metrics.fallbacks.labels(model).inc()
    usage = draft.usage
    for kind, count in (
        ("prompt", usage.prompt_tokens),
        ("completion", usage.completion_tokens),
        ("cached", usage.cached_tokens),
        ("cache_write", usage.cache_writes),
        ("reasoning", usage.reasoning_tokens),
    ):
        if count:
            metrics.tokens.labels(model, provider, kind).inc(count)
    if draft.cost:
        metrics.cost.labels(model, provider).inc(float(draft.cost))


def set_breaker_state(channel: str, state: BreakerState, *, metrics: Metrics = METRICS) -> None:
    """Publish a channel's breaker state (closed, half_open or open)."""
    metrics.breaker_state.labels(channel).set(BREAKER_VALUES[state])


def set_channel_status(channel: str, status: str, *, metrics: Metrics = METRICS) -> None:
    """Publish a channel's probed status (unknown, healthy or down; anything else is unknown)."""
    metrics.channel_status.labels(channel).set(CHANNEL_STATUS_VALUES.get(status, 0))


def multiprocess_dir() -> str | None:
    """The directory prometheus-client shares values through, when multiprocess mode is on."""
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def exposition() -> bytes:
    """The text exposition of every metric: all processes' in multiprocess mode, else ours."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _current_exposition() -> bytes:
    from gateway.live_gauges import refresh_live_gauges  # it reads the ORM; this module must not

    refresh_live_gauges()
    return exposition()


def mark_process_dead(pid: int | None = None) -> None:
    """Drop a finished worker's live gauges (call at worker shutdown; no-op without the dir)."""
    path = multiprocess_dir()
    if path is not None:
        dead = os.getpid() if pid is None else pid
        multiprocess.mark_process_dead(dead, path)  # type: ignore[no-untyped-call]


def operator_token_given(request: HttpRequest) -> bool:
    """Whether a request may read operational detail: GATEWAY_METRICS_TOKEN is unset, or the
    request bears it (`Authorization: Bearer <token>`, compared in constant time)."""
    expected: str = settings.GATEWAY_METRICS_TOKEN
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """`GET /metrics`: the Prometheus text exposition (files are read off the event loop); 401
    without the operator token when one is set."""
    if not operator_token_given(request):
        return HttpResponse(
            METRICS_TOKEN_REQUIRED,
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = await asyncio.to_thread(_current_exposition)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)

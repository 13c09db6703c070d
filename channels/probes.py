"""Active health probes: one cheap upstream call per channel, and when the next one is due.

A probe lists the upstream's models (free) or asks for a 1-token completion on the channel's
first model, per the channel's `probe_mode`, in the channel's own protocol (OpenAI-compatible,
Anthropic, Gemini). A protocol without an adapter reports `supported=False` and the channel's
status is left alone.
"""

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from channels.adapters import ADAPTERS, adapter_for
from channels.adapters.base import UpstreamTarget
from channels.models import Channel, ProbeMode
from channels.scrub import secret_scrubber
from channels.selectors import channel_api_key
from core.log_filters import scrub

MAX_ERROR_CHARS = 500
PROBE_MESSAGE = "ping"
PROBEABLE_API_TYPES = frozenset(ADAPTERS)
UNSUPPORTED = "probing {api_type} channels is not supported"
NO_MODEL = "no model to probe: the channel serves no models"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe; `supported=False` when the channel's protocol cannot be probed."""

    ok: bool
    status_code: int | None
    latency_ms: int | None
    error: str
    supported: bool = True


def probe_interval(*, channel: Channel) -> int:
    """Seconds between probes of a healthy channel: its own interval, else the default."""
    return int(channel.probe_interval or settings.HEALTH_PROBE_INTERVAL)


def probe_delay(*, channel: Channel, failures: int) -> int:
    """Seconds until the next probe after `failures` failed probes in a row.

    The interval until the failure threshold K is reached, then interval * 2**(failures - K),
    capped at HEALTH_MAX_BACKOFF (never below the interval itself).
    """
    interval = probe_interval(channel=channel)
    excess = failures - int(settings.HEALTH_FAILURE_THRESHOLD)
    if excess <= 0:
        return interval
    cap = max(interval, int(settings.HEALTH_MAX_BACKOFF))
    # Bound the exponent so a channel down for months does not build a huge integer.
    return min(cap, interval << min(excess, 32))


def probe_channel(channel: Channel, *, client: httpx.Client | None = None) -> ProbeResult:
    """Probe `channel` once with a sync HTTP call bounded by HEALTH_PROBE_TIMEOUT."""
    if channel.api_type not in PROBEABLE_API_TYPES:
        error = UNSUPPORTED.format(api_type=channel.api_type)
        return ProbeResult(
            ok=False, status_code=None, latency_ms=None, error=error, supported=False
        )
    secret = channel_api_key(channel=channel)
    request = _probe_request(channel=channel, secret=secret)
    if request is None:
        return ProbeResult(ok=False, status_code=None, latency_ms=None, error=NO_MODEL)
    timeout = settings.HEALTH_PROBE_TIMEOUT
    started = time.perf_counter()
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own_client:
                response = own_client.send(request)
        else:
            response = client.send(request)
    except httpx.TimeoutException:
        return _failure(started, None, f"timed out after {timeout:g} s", secret)
    except httpx.HTTPError as exc:
        return _failure(started, None, f"connection failed: {exc or type(exc).__name__}", secret)
    if response.is_success:
        return ProbeResult(
            ok=True, status_code=response.status_code, latency_ms=_ms(started), error=""
        )
    # The upstream's body is scrubbed of the secret before the adapter reads it.
    message = adapter_for(channel.api_type).error_message(
        status=response.status_code, payload=secret_scrubber(secret).payload(response.content)
    )
    return _failure(
        started, response.status_code, f"HTTP {response.status_code}: {message}", secret
    )


def _probe_request(*, channel: Channel, secret: str) -> httpx.Request | None:
    """The adapter's model list (`GET`), or a 1-token completion on the channel's first model;
    None when there is no model to ask. Headers (credentials) are the adapter's own."""
    adapter = adapter_for(channel.api_type)
    first = channel.models.order_by("pk").first()
    if first is None and channel.probe_mode == ProbeMode.COMPLETION:
        return None
    upstream = adapter.build_request(
        body={"messages": [{"role": "user", "content": PROBE_MESSAGE}], "max_tokens": 1},
        target=UpstreamTarget(channel.base_url, secret, first.upstream_name if first else ""),
        stream=False,
    )
    if channel.probe_mode != ProbeMode.COMPLETION:
        headers = {k: v for k, v in upstream.headers.items() if k != "content-type"}
        return httpx.Request("GET", adapter.models_url(base_url=channel.base_url), headers=headers)
    return httpx.Request("POST", upstream.url, headers=upstream.headers, content=upstream.content)


def _failure(started: float, status_code: int | None, error: str, secret: str) -> ProbeResult:
    """A failed probe with its error scrubbed of the channel's secret (in every form
    `channels.scrub` knows) and of anything key-like."""
    return ProbeResult(
        ok=False,
        status_code=status_code,
        latency_ms=_ms(started),
        error=scrub(secret_scrubber(secret)(error))[:MAX_ERROR_CHARS],
    )


def _ms(started: float) -> int:
    """Milliseconds since `started` (a perf_counter reading)."""
    return round((time.perf_counter() - started) * 1000)

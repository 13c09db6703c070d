"""What routing knows of each channel from live traffic: latency and throughput measured in this
process, recent failures, and the breaker state (shared through Redis when configured)."""

import time
from collections import defaultdict
from dataclasses import dataclass

from gateway import breakers
from gateway.schemas import BreakerState, ChannelHealth

EWMA_WEIGHT = 0.2
RECENT_FAILURE_SECONDS = 30.0


@dataclass(slots=True)
class ChannelFigures:
    """Running figures of one channel."""

    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens_per_second: float | None = None
    success_rate: float = 1.0
    consecutive_failures: int = 0
    last_failure_at: float = 0.0


def _ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + EWMA_WEIGHT * (sample - previous)


_figures: dict[int, ChannelFigures] = {}


def record_success(
    channel_id: int,
    *,
    model: str = "",
    ttft_ms: float,
    completion_tokens: int,
    generation_seconds: float,
) -> None:
    """Fold one successful attempt into the channel's figures."""
    figures = _figures.setdefault(channel_id, ChannelFigures())
    figures.ttft_ms = _ewma(figures.ttft_ms, ttft_ms)
    figures.total_ms = _ewma(figures.total_ms, generation_seconds * 1000)
    if completion_tokens > 0 and generation_seconds > 0:
        figures.tokens_per_second = _ewma(
            figures.tokens_per_second, completion_tokens / generation_seconds
        )
    figures.success_rate = _ewma(figures.success_rate, 1.0)
    figures.consecutive_failures = 0
    breakers.record_success(channel_id, model)


def record_failure(channel_id: int, *, retry_after: float | None = None, reason: str = "") -> None:
    """Note a retryable failure of the whole channel; a rate limit's `retry-after` cools it."""
    figures = _figures.setdefault(channel_id, ChannelFigures())
    figures.success_rate = _ewma(figures.success_rate, 0.0)
    figures.consecutive_failures += 1
    figures.last_failure_at = time.monotonic()
    breakers.record_failure(channel_id, retry_after=retry_after, reason=reason)


def record_model_failure(channel_id: int, *, model: str, reason: str = "") -> None:
    """Note a failure of one model on the channel (the upstream does not know it): only that
    channel-model's breaker counts it; the channel and its other models are unaffected."""
    breakers.record_failure(channel_id, model=model, reason=reason)


async def channel_health(*, stream: bool = True) -> dict[int, ChannelHealth]:
    """What routing should know of every channel measured so far or whose breaker is not closed;
    `latency_ms` is the time to first token for a stream, the whole answer's time otherwise."""
    now = time.monotonic()
    channel_states: dict[int, BreakerState] = {}
    model_states: defaultdict[int, dict[str, BreakerState]] = defaultdict(dict)
    for scope, state in (await breakers.breaker_states()).items():
        if scope.model:
            model_states[scope.channel_id][scope.model] = state
        else:
            channel_states[scope.channel_id] = state
    health = {
        channel_id: ChannelHealth(
            breaker=channel_states.get(channel_id, "closed"), models=model_states[channel_id]
        )
        for channel_id in channel_states.keys() | model_states.keys()
        if channel_id not in _figures
    }
    for channel_id, figures in _figures.items():
        recently_failed = (
            figures.consecutive_failures > 0
            and now - figures.last_failure_at < RECENT_FAILURE_SECONDS
        )
        health[channel_id] = ChannelHealth(
            breaker=channel_states.get(channel_id, "closed"),
            models=model_states.get(channel_id, {}),
            recently_failed=recently_failed,
            latency_ms=figures.ttft_ms if stream else figures.total_ms,
            # Tokens per second actually delivered: a channel that often fails delivers less.
            throughput=None
            if figures.tokens_per_second is None
            else figures.tokens_per_second * figures.success_rate,
        )
    return health


def reset_figures() -> None:
    """Forget every measurement and close every breaker (tests)."""
    _figures.clear()
    breakers.reset_breakers()

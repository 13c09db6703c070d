"""What routing knows of each channel from live traffic: latency, throughput and prompt-cache
hit rates measured in this process, recent failures, and the breaker state (shared through
Redis when configured)."""

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from gateway import breakers
from gateway.schemas import BreakerState, ChannelHealth

EWMA_WEIGHT = 0.2
RECENT_FAILURE_SECONDS = 30.0
CACHE_WINDOW_SECONDS = 3600.0
"""A channel-model's cache hit rate is measured over its answers of the last hour…"""
CACHE_BUCKET_SECONDS = 60.0
CACHE_MIN_REQUESTS = 20
CACHE_MIN_PROMPT_TOKENS = 100_000
"""…and known (for `sort: price` and `max_price`) once that is 20 answers or 100k prompt tokens."""


@dataclass(slots=True)
class CacheWindow:
    """Prompt and cached tokens of one channel-model's recent answers, in minute buckets with
    running totals (so reading the rate costs no sum)."""

    buckets: deque[list[float]] = field(default_factory=deque)
    """[bucket start, requests, prompt tokens, cached tokens], oldest first."""
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def add(self, now: float, prompt_tokens: int, cached_tokens: int) -> None:
        """Count one answer."""
        self.expire(now)
        start = now - now % CACHE_BUCKET_SECONDS
        if not self.buckets or self.buckets[-1][0] != start:
            self.buckets.append([start, 0, 0, 0])
        bucket = self.buckets[-1]
        bucket[1] += 1
        bucket[2] += prompt_tokens
        bucket[3] += cached_tokens
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.cached_tokens += cached_tokens

    def expire(self, now: float) -> None:
        """Drop the buckets older than the window."""
        while self.buckets and self.buckets[0][0] <= now - CACHE_WINDOW_SECONDS:
            _, requests, prompt, cached = self.buckets.popleft()
            self.requests -= int(requests)
            self.prompt_tokens -= int(prompt)
            self.cached_tokens -= int(cached)

    def hit_rate(self, now: float) -> float | None:
        """Cached ÷ prompt tokens over the window; None until the traffic is enough."""
        self.expire(now)
        enough = (
            self.requests >= CACHE_MIN_REQUESTS or self.prompt_tokens >= CACHE_MIN_PROMPT_TOKENS
        )
        if not enough or self.prompt_tokens <= 0:
            return None
        return self.cached_tokens / self.prompt_tokens


@dataclass(slots=True)
class ChannelFigures:
    """Running figures of one channel."""

    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens_per_second: float | None = None
    success_rate: float = 1.0
    consecutive_failures: int = 0
    last_failure_at: float = 0.0
    caches: dict[str, CacheWindow] = field(default_factory=dict)
    """Prompt-cache figures by public model."""


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


def record_cache_use(
    channel_id: int, *, model: str, prompt_tokens: int, cached_tokens: int
) -> None:
    """Fold one answer's prompt and cached tokens (as the provider reported them) into the
    channel-model's cache hit rate."""
    if prompt_tokens <= 0:
        return
    figures = _figures.setdefault(channel_id, ChannelFigures())
    window = figures.caches.setdefault(model, CacheWindow())
    window.add(time.monotonic(), prompt_tokens, min(cached_tokens, prompt_tokens))


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
            cache_hit_rates=_hit_rates(figures, now),
        )
    return health


def _hit_rates(figures: ChannelFigures, now: float) -> dict[str, float]:
    """The channel's measured cache hit rates, by model, where the traffic is enough."""
    rates = {model: window.hit_rate(now) for model, window in figures.caches.items()}
    return {model: rate for model, rate in rates.items() if rate is not None}


def reset_figures() -> None:
    """Forget every measurement and close every breaker (tests)."""
    _figures.clear()
    breakers.reset_breakers()

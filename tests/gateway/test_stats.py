"""Live figures per channel: what `sort: latency|throughput` and the failure push-back read."""

import asyncio

import pytest

from gateway import stats


@pytest.fixture(autouse=True)
def _fresh_figures(settings):
    settings.REDIS_URL = ""  # this process's own breakers
    stats.reset_figures()
    yield
    stats.reset_figures()


def health(channel_id: int):
    return asyncio.run(stats.channel_health())[channel_id]


def success(channel_id: int = 1, ttft_ms: float = 100.0, tokens: int = 50) -> None:
    stats.record_success(
        channel_id, ttft_ms=ttft_ms, completion_tokens=tokens, generation_seconds=1
    )


def test_figures_are_exponentially_weighted():
    success(ttft_ms=100)
    success(ttft_ms=200)

    assert health(1).latency_ms == pytest.approx(120.0)
    assert health(1).throughput == pytest.approx(50.0)


def test_non_streaming_requests_sort_by_the_whole_answers_time():
    success(ttft_ms=100)

    assert asyncio.run(stats.channel_health(stream=False))[1].latency_ms == pytest.approx(1000.0)


def test_failures_lower_the_delivered_throughput_and_mark_the_channel():
    success(tokens=100)
    asyncio.run(_fail(1))

    figures = health(1)
    assert figures.throughput == pytest.approx(80.0)
    assert figures.recently_failed


def test_a_success_clears_the_recent_failure():
    asyncio.run(_fail(1))
    success()

    assert not health(1).recently_failed


async def _fail(channel_id: int) -> None:
    stats.record_failure(channel_id)


def cache_use(count: int, prompt: int = 100, cached: int = 90, model: str = "m") -> None:
    for _ in range(count):
        stats.record_cache_use(1, model=model, prompt_tokens=prompt, cached_tokens=cached)


def test_a_cache_hit_rate_is_known_after_20_answers():
    cache_use(19)
    unknown = dict(health(1).cache_hit_rates)
    cache_use(1)

    assert unknown == {}
    assert health(1).cache_hit_rates == {"m": pytest.approx(0.9)}


def test_100k_prompt_tokens_make_a_cache_hit_rate_known_sooner():
    cache_use(2, prompt=50_000, cached=10_000)

    assert health(1).cache_hit_rates == {"m": pytest.approx(0.2)}

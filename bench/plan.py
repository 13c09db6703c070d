"""What one benchmark run measures: the models by kind and the scenarios, full or quick."""

from __future__ import annotations

from bench.fake_upstream import fault_model
from bench.load import Scenario

UPSTREAM_MODEL = "gpt-4o-mini"
PACED_WORDS, PACED_DELAY_MS = 5, 1000
LONG_WORDS, LONG_DELAY_MS = 100, 10

# Model names by kind: what the fake upstream (and the reference proxy) is asked for ...
UPSTREAM_MODELS = {
    "plain": UPSTREAM_MODEL,
    "paced": fault_model(UPSTREAM_MODEL, words=PACED_WORDS, chunk_delay_ms=PACED_DELAY_MS),
    "long": fault_model(UPSTREAM_MODEL, words=LONG_WORDS, chunk_delay_ms=LONG_DELAY_MS),
}
# ... and the public names the gateway's `bench` channel maps onto them.
GATEWAY_MODELS = {"plain": "bench-model", "paced": "bench-paced", "long": "bench-long"}

PACED = "paced"
TTFB = ("ttfb-c1", "ttfb-c16", "ttfb-c256")
CHUNKS = "chunks-c64"


def paced_streams(*, quick: bool) -> int:
    """How many paced streams are held open at once."""
    return 200 if quick else 1000


def scenarios(*, quick: bool) -> list[Scenario]:
    """The measured scenarios in run order (the paced one first, on a barely used process)."""
    seconds = 1.0 if quick else 5.0
    streams = paced_streams(quick=quick)
    return [
        Scenario(PACED, "paced", True, streams, count=streams, sample_rss=True),
        Scenario("ns-c1", "plain", False, 1, duration_s=seconds),
        Scenario("ns-c16", "plain", False, 16, duration_s=seconds),
        Scenario("ns-c64", "plain", False, 64, duration_s=seconds),
        Scenario("ttfb-c1", "plain", True, 1, duration_s=seconds),
        Scenario("ttfb-c16", "plain", True, 16, duration_s=seconds),
        Scenario("ttfb-c256", "plain", True, 256, duration_s=seconds),
        Scenario(CHUNKS, "long", True, 64, count=64 if quick else 192),
    ]


def warmups(*, quick: bool) -> list[Scenario]:
    """Unrecorded load before measuring: imports, caches, connection pools."""
    seconds = 0.5 if quick else 2.0
    return [
        Scenario("warmup", "plain", False, 16, duration_s=seconds),
        Scenario("warmup-stream", "plain", True, 16, duration_s=seconds / 2),
    ]


def first_touch() -> list[Scenario]:
    """A few requests before the idle RSS is read, so it is of a process that has served."""
    return [
        Scenario("touch", "plain", False, 4, count=20),
        Scenario("touch-stream", "plain", True, 4, count=20),
    ]

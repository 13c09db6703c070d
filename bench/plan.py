"""What one benchmark run measures: the front doors, their models by kind, the scenarios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.fake_upstream import fault_model
from bench.load import CHAT, MESSAGES, RESPONSES, Scenario, Wire

UPSTREAM_MODEL = "gpt-4o-mini"
CLAUDE_MODEL = "claude-haiku-4-5"
PACED_WORDS, PACED_DELAY_MS = 5, 1000
LONG_WORDS, LONG_DELAY_MS = 100, 10


def _by_kind(model: str) -> dict[str, str]:
    return {
        "plain": model,
        "paced": fault_model(model, words=PACED_WORDS, chunk_delay_ms=PACED_DELAY_MS),
        "long": fault_model(model, words=LONG_WORDS, chunk_delay_ms=LONG_DELAY_MS),
    }


# Model names by kind: what the fake upstream (and the reference proxy) is asked for ...
UPSTREAM_MODELS = _by_kind(UPSTREAM_MODEL)
CLAUDE_MODELS = _by_kind(CLAUDE_MODEL)
# ... and the public names the gateway's channels map onto them: `bench` (OpenAI-compatible)
# serves GATEWAY_MODELS, `bench-anthropic` (Anthropic Messages) serves NATIVE_MODELS.
GATEWAY_MODELS = {"plain": "bench-model", "paced": "bench-paced", "long": "bench-long"}
NATIVE_MODELS = {
    "plain": "bench-claude",
    "paced": "bench-claude-paced",
    "long": "bench-claude-long",
}

DIRECT, REFERENCE, GATEWAY = "direct", "reference", "gateway"
PACED = "paced"
TTFB = ("ttfb-c1", "ttfb-c16", "ttfb-c256")
CHUNKS = "chunks-c64"
CHAT_DOOR = "chat"
NATIVE_DOOR = "messages (native)"
TRANSLATED_DOOR = "messages (translated)"
RESPONSES_TRANSLATED_DOOR = "responses (translated)"
RESPONSES_NATIVE_DOOR = "responses (native)"


@dataclass(frozen=True, slots=True)
class Door:
    """One front door measured: how the gateway is spoken to there, and what it is compared
    with (direct and reference, spoken to in `baseline_wire`)."""

    name: str
    slug: str  # in log file names
    wire: Wire
    models: Mapping[str, str]
    baseline_wire: Wire
    baseline_models: Mapping[str, str]
    baseline_of: str | None = None
    """Another door whose direct and reference figures are this one's (the same requests)."""
    full: bool = True
    """Every scenario at full length, or only those a target reads, shorter."""

    def wire_of(self, target: str) -> Wire:
        """How `target` ("gateway", "reference", "direct") is spoken to at this door."""
        return self.wire if target == GATEWAY else self.baseline_wire

    def models_of(self, target: str) -> Mapping[str, str]:
        """The model names `target` is asked for at this door."""
        return self.models if target == GATEWAY else self.baseline_models


DOORS = (
    Door(CHAT_DOOR, "chat", CHAT, GATEWAY_MODELS, CHAT, UPSTREAM_MODELS),
    # The gateway's /v1/messages to its Anthropic channel, against the fake upstream's own.
    Door(NATIVE_DOOR, "native", MESSAGES, NATIVE_MODELS, MESSAGES, CLAUDE_MODELS, full=False),
    # The gateway's /v1/messages to its OpenAI-compatible channel, against the chat path.
    Door(
        TRANSLATED_DOOR,
        "translated",
        MESSAGES,
        GATEWAY_MODELS,
        CHAT,
        UPSTREAM_MODELS,
        baseline_of=CHAT_DOOR,
        full=False,
    ),
    # The gateway's /v1/responses to its OpenAI-compatible channel, against the chat path ...
    Door(
        RESPONSES_TRANSLATED_DOOR,
        "responses-translated",
        RESPONSES,
        GATEWAY_MODELS,
        CHAT,
        UPSTREAM_MODELS,
        baseline_of=CHAT_DOOR,
        full=False,
    ),
    # ... and the same, against the fake upstream's own /v1/responses (the gateway translates).
    Door(
        RESPONSES_NATIVE_DOOR,
        "responses-native",
        RESPONSES,
        GATEWAY_MODELS,
        RESPONSES,
        UPSTREAM_MODELS,
        full=False,
    ),
)


def door(name: str) -> Door:
    """The door called `name`."""
    return next(d for d in DOORS if d.name == name)


def paced_streams(*, quick: bool) -> int:
    """How many paced streams are held open at once."""
    return 200 if quick else 1000


def scenarios(*, quick: bool, full: bool = True) -> list[Scenario]:
    """The measured scenarios in run order (the paced one first, on a barely used process).

    Not `full` (the Messages doors): only the scenarios a target reads, 3 s instead of 5 s each
    and 128 long streams instead of 192, so the whole run stays under twice the chat door's.
    """
    seconds = 1.0 if quick else 5.0 if full else 3.0
    streams = paced_streams(quick=quick)
    long_streams = 64 if quick else 192 if full else 128
    planned = [
        Scenario(PACED, "paced", True, streams, count=streams, sample_rss=True),
        Scenario("ns-c1", "plain", False, 1, duration_s=seconds),
        Scenario("ns-c16", "plain", False, 16, duration_s=seconds),
        Scenario("ns-c64", "plain", False, 64, duration_s=seconds),
        Scenario("ttfb-c1", "plain", True, 1, duration_s=seconds),
        Scenario("ttfb-c16", "plain", True, 16, duration_s=seconds),
        Scenario("ttfb-c256", "plain", True, 256, duration_s=seconds),
        Scenario(CHUNKS, "long", True, 64, count=long_streams),
    ]
    unchecked = () if full else ("ns-c16", "ttfb-c256")
    return [scenario for scenario in planned if scenario.name not in unchecked]


def scenario_names(*, full: bool) -> frozenset[str]:
    """The names of the scenarios a door measures."""
    return frozenset(scenario.name for scenario in scenarios(quick=True, full=full))


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

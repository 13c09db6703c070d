"""Cache affinity end to end: three equal channels of one provider, 20 conversations of 10 turns;
the turns of a conversation stay on one channel (shared in Redis, or in the process without it),
spread by the weights without affinity, and move once when their channel fails."""

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import anthropic
import pytest

from channels.services import ModelOffer, channel_update
from gateway import catalog
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX, Gateway

MODEL = "gpt-4o-mini"
NAMES = ("one", "two", "three")
CONVERSATIONS = 20
TURNS = 10


@pytest.fixture(params=["redis", "local"])
def affinity_backend(request: pytest.FixtureRequest, settings: Any) -> str:
    """Affinity kept in Redis, then in the process (no REDIS_URL); the SQLite run has no Redis."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("no Redis in the SQLite run (config.settings.test_sqlite)")
    if request.param == "local":
        settings.REDIS_URL = ""
    return str(request.param)


def three_channels(gateway: Gateway) -> None:
    for name in NAMES:
        gateway.channel(name, models={MODEL: MODEL})


def turn(gateway: Gateway, conversation: int, number: int, **extra: Any) -> str:
    """Turn `number` of a conversation (its history so far resent); the channel that served it."""
    messages: list[Any] = [
        {"role": "system", "content": f"You are assistant number {conversation}."}
    ]
    for earlier in range(number):
        messages.append({"role": "user", "content": f"Question {earlier}"})
        messages.append({"role": "assistant", "content": "An answer."})
    messages.append({"role": "user", "content": f"Question {number}"})
    raw = gateway.client().chat.completions.with_raw_response.create(
        model=MODEL, messages=messages, **extra
    )
    return str(raw.headers["x-switchyard-channel"])


def identified(conversation: int) -> dict[str, Any]:
    """Half the conversations name themselves; the others are known by their prefix."""
    return {"prompt_cache_key": f"conversation-{conversation}"} if conversation % 2 else {}


def served_by_upstream_key(gateway: Gateway) -> Counter[str]:
    """Chat requests the fake upstream received, per channel credential."""
    return Counter(
        request["headers"]["authorization"].removeprefix("Bearer " + CHANNEL_SECRET_PREFIX)
        for request in gateway.received()
    )


def test_the_turns_of_a_conversation_stay_on_its_channel(gateway, affinity_backend):
    three_channels(gateway)
    served: defaultdict[int, list[str]] = defaultdict(list)

    for number in range(TURNS):
        for conversation in range(CONVERSATIONS):
            served[conversation].append(
                turn(gateway, conversation, number, **identified(conversation))
            )

    later_turns = [channel for channels in served.values() for channel in channels[1:]]
    stuck = sum(channel == channels[0] for channels in served.values() for channel in channels[1:])
    assert stuck >= 0.99 * len(later_turns)
    assert sum(served_by_upstream_key(gateway).values()) == CONVERSATIONS * TURNS
    assert len({channels[0] for channels in served.values()}) > 1  # new ones follow the weights


def test_without_affinity_the_spread_follows_the_weights(gateway, affinity_backend, settings):
    settings.GATEWAY_CACHE_AFFINITY = False
    three_channels(gateway)

    for number in range(TURNS):
        for conversation in range(CONVERSATIONS):
            turn(gateway, conversation, number, **identified(conversation))

    counts = served_by_upstream_key(gateway)
    total = CONVERSATIONS * TURNS
    assert sum(counts.values()) == total
    assert all(0.15 * total <= counts[name] <= 0.55 * total for name in NAMES), counts


def test_a_failing_channel_moves_its_conversations_once(gateway, affinity_backend):
    three_channels(gateway)
    before = {conversation: turn(gateway, conversation, 0) for conversation in range(CONVERSATIONS)}
    failing = Counter(before.values()).most_common(1)[0][0]
    channel = next(c for c in gateway.channels if c.name == failing)
    fault = ModelOffer(
        model=MODEL,
        upstream_model=f"{MODEL}@status=503",
        input_price=Decimal(1),
        output_price=Decimal(2),
    )
    channel_update(channel=channel, fields={}, models=[fault])
    catalog.invalidate_catalog()

    after = {
        conversation: [turn(gateway, conversation, number) for number in range(1, 5)]
        for conversation in range(CONVERSATIONS)
    }

    for conversation, channels in after.items():
        assert failing not in channels
        assert len(set(channels)) == 1, (conversation, channels)
        if before[conversation] != failing:
            assert channels[0] == before[conversation]


def test_records_say_what_identified_the_conversation_and_what_the_cache_saved(gateway):
    for name in NAMES:
        gateway.channel(name, models={MODEL: f"{MODEL}@cached_tokens=3"}, price=("3", "15"))
    for channel in gateway.channels:
        channel.models.update(cached_input_price=Decimal("0.3"))
    catalog.invalidate_catalog()
    claude_code = {"X-Claude-Code-Session-Id": "5f0c-session"}
    for _ in range(2):
        turn(gateway, 1, 0, extra_headers=claude_code)
    turn(gateway, 2, 0, prompt_cache_key="conversation-2")
    turn(gateway, 3, 0)
    anthropic.Anthropic(base_url=gateway.url, max_retries=0, api_key=gateway.key).messages.create(
        model=MODEL,
        max_tokens=50,
        metadata={"user_id": "user_abc_account_def_session_ghi"},
        messages=[{"role": "user", "content": "Hello"}],
    )

    records = gateway.wait_records(5)

    assert [(r.affinity_source, r.affinity_routed) for r in records] == [
        ("session_header", False),
        ("session_header", True),
        ("prompt_cache_key", False),
        ("prefix_hash", False),
        ("metadata_user_id", False),
    ]
    assert records[0].channel_id == records[1].channel_id
    assert {r.cached_tokens for r in records} == {3}
    assert {r.cache_savings for r in records} == {Decimal("0.0000081")}  # 3 x (3 - 0.3) / 1M

"""Cache affinity, pure parts: how a conversation is named and how long its cache lives, where
routing puts the conversation's channel, and the in-process store's bounds."""

import asyncio
import random

import pytest

from gateway.affinity.conversation import SHORT_LIFE, Conversation, conversation_of
from gateway.affinity.local import LocalAffinity
from gateway.schemas import ChatRequest, NativeRequest
from tests.gateway.test_routing import FAILING, GPT, HALF_OPEN, OPEN, ids, offer, plan

SYSTEM = {"role": "system", "content": "You are terse."}
FIRST = {"role": "user", "content": "Hi"}
LATER = [FIRST, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More"}]


def chat(body: dict, native: dict | None = None, model: str = GPT) -> ChatRequest:
    """A chat request of `model` with `body` (and a Messages/Responses body as sent)."""
    body = {"model": model, **body}
    return ChatRequest(
        model=model,
        body=body,
        user=body.get("user", ""),
        native=None if native is None else NativeRequest(api_type="anthropic", body=native),
    )


def named(request: ChatRequest, headers: dict | None = None, key_id: int = 1) -> Conversation:
    found = conversation_of(request, headers or {}, key_id=key_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("body", "native", "headers", "source"),
    [
        pytest.param(
            {"prompt_cache_key": "c1", "user": "u"},
            None,
            {"X-Claude-Code-Session-Id": "s"},
            "prompt_cache_key",
            id="prompt-cache-key-first",
        ),
        pytest.param(
            {"user": "u"},
            {"metadata": {"user_id": "m"}},
            {"X-Claude-Code-Session-Id": "s"},
            "session_header",
            id="then-the-claude-code-session",
        ),
        pytest.param(
            {"user": "m"}, {"metadata": {"user_id": "m"}}, {}, "metadata_user_id", id="metadata"
        ),
        pytest.param({}, {"safety_identifier": "x"}, {}, "user", id="safety-identifier"),
        pytest.param({"user": "u"}, None, {}, "user", id="user"),
        pytest.param({}, None, {}, "prefix_hash", id="else-the-prefix"),
    ],
)
def test_the_first_identifier_given_names_the_conversation(body, native, headers, source):
    request = chat({"messages": [SYSTEM, FIRST], **body}, native)

    assert named(request, headers).source == source


def test_every_turn_of_a_conversation_hashes_alike_and_others_do_not():
    first = named(chat({"messages": [SYSTEM, FIRST]}))
    later = named(chat({"messages": [SYSTEM, *LATER]}))
    other_system = named(chat({"messages": [{"role": "system", "content": "Other"}, FIRST]}))
    other_tools = named(chat({"messages": [SYSTEM, FIRST], "tools": [{"type": "function"}]}))

    assert first.key == later.key
    assert len({first.key, other_system.key, other_tools.key}) == 3


def test_a_conversation_is_scoped_by_key_and_model():
    body = {"messages": [SYSTEM, FIRST], "prompt_cache_key": "same"}

    keys = {
        named(chat(body), key_id=1).key,
        named(chat(body), key_id=2).key,
        named(chat(body, model="other/model"), key_id=1).key,
    }

    assert len(keys) == 3
    assert "same" not in "".join(keys)


@pytest.mark.parametrize(
    ("body", "native", "life"),
    [
        pytest.param({}, None, SHORT_LIFE, id="default-5-minutes"),
        pytest.param(
            {},
            {"system": [{"type": "text", "text": "x", "cache_control": {"ttl": "1h"}}]},
            3600,
            id="anthropic-1h-breakpoint",
        ),
        pytest.param(
            {},
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "cache_control": {"ttl": "1h"}}]}
                ]
            },
            3600,
            id="anthropic-1h-in-a-message",
        ),
        pytest.param({"prompt_cache_retention": "24h"}, None, 3600, id="openai-24h-retention"),
        pytest.param({"prompt_cache_options": {"ttl": "30m"}}, None, 1800, id="openai-30m"),
    ],
)
def test_the_cache_life_is_what_the_request_asks_for(body, native, life):
    assert named(chat({"messages": [FIRST], **body}, native)).life == life


def test_embeddings_and_empty_bodies_have_no_conversation():
    embeddings = ChatRequest(model=GPT, body={"input": "x"}, operation="embeddings")

    assert conversation_of(embeddings, {}, key_id=1) is None
    assert conversation_of(chat({}), {}, key_id=1) is None


# Three equal channels of one provider: without affinity the seed decides.
SIBLINGS = [offer(1), offer(2), offer(3)]


@pytest.mark.parametrize("seed", range(5))
def test_the_conversations_channel_goes_first(seed):
    assert ids(plan(SIBLINGS, seed=seed, sticky=3))[0] == 3


@pytest.mark.parametrize(
    ("health", "preferences"),
    [
        pytest.param({3: OPEN}, {}, id="breaker-open"),
        pytest.param({3: HALF_OPEN}, {}, id="half-open"),
        pytest.param({3: FAILING}, {}, id="recently-failed"),
        pytest.param({}, {"ignore": ("openai",)}, id="not-eligible"),
    ],
)
def test_an_unhealthy_or_ineligible_channel_gets_no_affinity(health, preferences):
    offers = [*SIBLINGS, offer(4, "anthropic", priority=-1)]

    first = ids(plan(offers, health=health, sticky=3, **preferences))[0]

    assert first != 3


def test_explicit_sort_and_order_win_over_affinity_and_affinity_breaks_their_ties():
    offers = [offer(1, price=("1", "1")), offer(2, price=("5", "5")), offer(3, price=("5", "5"))]
    mixed = [offer(1, "anthropic"), offer(2), offer(3)]

    assert ids(plan(offers, sticky=3, sort="price"))[:2] == [1, 3]
    assert ids(plan(mixed, sticky=3, order=("anthropic",)))[:2] == [1, 3]


def _routed(sticky: int | None) -> list[int]:
    return [ids(plan(SIBLINGS, rng=random.Random(n), sticky=sticky))[0] for n in range(300)]


def test_new_conversations_follow_the_weights():
    firsts = _routed(None)

    assert all(60 <= firsts.count(channel) <= 140 for channel in (1, 2, 3))


def test_the_local_store_forgets_expired_and_least_recently_used(settings):
    settings.GATEWAY_CACHE_AFFINITY_ENTRIES = 2
    store = LocalAffinity()
    a, b, c = (Conversation(key=k, source="user", life=300) for k in "abc")
    gone = Conversation(key="d", source="user", life=0)

    async def run() -> list[int | None]:
        await store.remember(a, 1)
        await store.remember(b, 2)
        await store.last_channel(a)
        await store.remember(c, 3)  # b is the least recently used
        await store.remember(gone, 4)
        return [await store.last_channel(x) for x in (a, b, c, gone)]

    assert asyncio.run(run()) == [None, None, 3, None]
    assert len(store) <= 2


def test_affinity_stays_inside_the_first_priority_tier():
    offers = [offer(1, priority=9), offer(2), offer(3)]

    assert ids(plan(offers, sticky=3))[0] == 1
    assert ids(plan(offers, sticky=3, health={1: OPEN}))[0] == 3

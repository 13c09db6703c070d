"""Routing: the attempts a request makes follow the README's routing rules and OpenRouter's
`provider` object."""

import random
from decimal import Decimal
from typing import Any

import pytest

from gateway.errors import NoAvailableChannel, NoHealthyChannel
from gateway.routing import (
    ALL_IGNORED,
    ALL_UNHEALTHY,
    NO_OFFERS,
    NOT_IN_ONLY,
    NOT_IN_ORDER,
    OVER_MAX_PRICE,
    route_plan,
)
from gateway.schemas import ChannelHealth, Offer, ProviderPreferences

GPT = "openai/gpt-4o"
CLAUDE = "anthropic/claude-sonnet-4.5"

OPEN = ChannelHealth(breaker="open")
HALF_OPEN = ChannelHealth(breaker="half_open")
FAILING = ChannelHealth(recently_failed=True)


def offer(
    channel_id: int,
    provider: str = "openai",
    *,
    model: str = GPT,
    priority: int = 0,
    weight: int = 1,
    price: tuple[str, str] = ("1", "1"),
    status: str = "up",
) -> Offer:
    """An offer of `model` on channel `channel_id`; `price` is (input, output) per 1M tokens."""
    return Offer(
        channel_id=channel_id,
        channel_name=f"{provider}-{channel_id}",
        provider=provider,
        api_type="openai",
        base_url="https://api.example.com/v1",
        api_key="sk-test",
        model=model,
        upstream_model=model.split("/")[-1],
        priority=priority,
        weight=weight,
        input_price=Decimal(price[0]),
        output_price=Decimal(price[1]),
        status=status,
    )


def plan(
    offers: list[Offer],
    *,
    models: tuple[str, ...] | None = None,
    health: dict[int, ChannelHealth] | None = None,
    seed: int = 0,
    rng: random.Random | None = None,
    max_attempts: int = 10,
    sticky: int | None = None,
    **preferences: Any,
) -> list[Offer]:
    """Route over `offers` (grouped by their model); `models` defaults to the offers' models."""
    by_model: dict[str, list[Offer]] = {}
    for each in offers:
        by_model.setdefault(each.model, []).append(each)
    return route_plan(
        models=models or tuple(by_model) or (GPT,),
        offers=by_model,
        preferences=ProviderPreferences(**preferences),
        health=health or {},
        rng=rng or random.Random(seed),
        max_attempts=max_attempts,
        sticky=sticky,
    )


def ids(attempts: list[Offer]) -> list[int]:
    """The channel ids of the attempts, in order."""
    return [attempt.channel_id for attempt in attempts]


# Three providers at distinct priorities, so the default order is deterministic: 1, 3, 2.
THREE = [offer(1, "openai", priority=9), offer(2, "anthropic"), offer(3, "google", priority=5)]
SIBLINGS = [
    offer(1, "openai", priority=9),
    offer(2, "anthropic", priority=5),
    offer(3, "openai", priority=1),
]


@pytest.mark.parametrize(
    ("offers", "health", "preferences", "expected"),
    [
        pytest.param(THREE, {}, {}, [1, 3, 2], id="priority-tiers-higher-first"),
        pytest.param(
            [offer(1, weight=0), offer(2, weight=0), offer(3, weight=2)],
            {},
            {},
            [3, 1, 2],
            id="weight-zero-after-weighted-in-stable-order",
        ),
        pytest.param(
            [offer(1, priority=1), offer(2, priority=1), offer(3)],
            {1: FAILING},
            {},
            [2, 1, 3],
            id="recently-failed-pushed-back-within-its-tier",
        ),
        pytest.param(THREE, {1: HALF_OPEN}, {}, [3, 2, 1], id="half-open-last"),
        pytest.param(
            [*THREE, offer(4, "mistral", status="down")],
            {1: OPEN},
            {},
            [3, 2],
            id="down-and-breaker-open-excluded",
        ),
        pytest.param(THREE, {}, {"only": ("google", "anthropic")}, [3, 2], id="only"),
        pytest.param(
            [offer(1, "OpenAI"), offer(2, "anthropic", priority=1)],
            {},
            {"only": ("openai",)},
            [1],
            id="only-case-insensitive",
        ),
        pytest.param(THREE, {}, {"ignore": ("openai",)}, [3, 2], id="ignore"),
        pytest.param(
            [offer(1, "openai"), offer(2, "Anthropic", priority=1)],
            {},
            {"ignore": ("ANTHROPIC",)},
            [1],
            id="ignore-case-insensitive",
        ),
        pytest.param(
            THREE,
            {},
            {"order": ("anthropic", "mistral", "google")},
            [2, 3, 1],
            id="order-then-fallbacks-unknown-slug-skipped",
        ),
        pytest.param(
            THREE,
            {},
            {"order": ("anthropic", "google"), "allow_fallbacks": False},
            [2, 3],
            id="order-without-fallbacks",
        ),
        pytest.param(
            SIBLINGS,
            {},
            {"order": ("openai",), "allow_fallbacks": False},
            [1, 3],
            id="order-keeps-sibling-channels-in-relative-order",
        ),
        pytest.param(
            THREE,
            {},
            {"order": ("Google",), "only": ("google", "anthropic")},
            [3, 2],
            id="only-plus-order-falls-back-within-only",
        ),
        pytest.param(
            THREE,
            {},
            {
                "order": ("openai", "google"),
                "only": ("google", "anthropic"),
                "allow_fallbacks": False,
            },
            [3],
            id="only-plus-order-without-fallbacks-is-the-intersection",
        ),
        pytest.param(
            SIBLINGS,
            {},
            {"allow_fallbacks": False},
            [1, 3],
            id="no-fallbacks-keeps-first-provider-siblings-only",
        ),
        pytest.param(
            SIBLINGS,
            {1: HALF_OPEN},
            {"allow_fallbacks": False},
            [2],
            id="no-fallbacks-first-choice-is-never-half-open-when-others-exist",
        ),
        pytest.param(
            [
                offer(1, "openai", priority=9, price=("1", "5")),
                offer(2, "anthropic", price=("2", "2")),
                offer(3, "google", priority=5, price=("3", "1")),
            ],
            {},
            {"sort": "price"},
            [3, 2, 1],
            id="sort-price-by-input-plus-output-ties-keep-default",
        ),
        pytest.param(
            [
                offer(1, "openai", priority=9, price=("9", "9")),
                offer(2, "anthropic", price=("1", "1")),
                offer(3, "anthropic", priority=5, price=("5", "5")),
            ],
            {},
            {"sort": "price", "allow_fallbacks": False},
            [2, 3],
            id="no-fallbacks-first-choice-after-sort",
        ),
        pytest.param(
            [offer(1, price=("1", "1")), offer(2, "anthropic", price=("2", "2"))],
            {1: HALF_OPEN},
            {"sort": "price"},
            [2, 1],
            id="sort-keeps-half-open-last",
        ),
        pytest.param(
            [offer(1), offer(2), offer(3, priority=1), offer(4, priority=5)],
            {
                1: ChannelHealth(latency_ms=300),
                3: ChannelHealth(latency_ms=100),
                4: ChannelHealth(latency_ms=100),
            },
            {"sort": "latency"},
            [4, 3, 1, 2],
            id="sort-latency-unknown-last-ties-keep-default",
        ),
        pytest.param(
            [offer(1), offer(2), offer(3, priority=1), offer(4, priority=5)],
            {
                1: ChannelHealth(throughput=50),
                3: ChannelHealth(throughput=80),
                4: ChannelHealth(throughput=80),
            },
            {"sort": "throughput"},
            [4, 3, 1, 2],
            id="sort-throughput-descending-unknown-last-ties-keep-default",
        ),
        pytest.param(
            [
                offer(1, price=("5", "1")),
                offer(2, priority=1, price=("2", "9")),
                offer(3, price=("3", "1")),
            ],
            {},
            {"max_price_prompt": Decimal(3)},
            [2, 3],
            id="max-price-prompt-drops-pricier-keeps-equal",
        ),
        pytest.param(
            [
                offer(1, price=("1", "5")),
                offer(2, priority=1, price=("9", "2")),
                offer(3, price=("1", "3")),
            ],
            {},
            {"max_price_completion": Decimal(3)},
            [2, 3],
            id="max-price-completion-drops-pricier-keeps-equal",
        ),
    ],
)
def test_single_model_plan(offers, health, preferences, expected):
    assert ids(plan(offers, health=health, **preferences)) == expected


@pytest.mark.parametrize(
    ("offers", "models", "preferences", "expected"),
    [
        pytest.param(
            [offer(1, priority=5), offer(2), offer(3, "anthropic", model=CLAUDE, priority=9)],
            (GPT, CLAUDE),
            {},
            [(GPT, 1), (GPT, 2), (CLAUDE, 3)],
            id="models-fallback-concatenates-primary-first",
        ),
        pytest.param(
            [offer(1), offer(1, model=CLAUDE)],
            (GPT, CLAUDE),
            {},
            [(GPT, 1), (CLAUDE, 1)],
            id="same-channel-once-per-model",
        ),
        pytest.param(
            [offer(1), offer(2, model=CLAUDE)],
            (GPT, CLAUDE, GPT),
            {},
            [(GPT, 1), (CLAUDE, 2)],
            id="repeated-model-routed-once",
        ),
        pytest.param(
            [offer(2, model=CLAUDE)],
            (GPT, CLAUDE),
            {},
            [(CLAUDE, 2)],
            id="model-without-offers-is-skipped",
        ),
        pytest.param(
            [
                offer(1, price=("5", "5")),
                offer(2, price=("1", "1")),
                offer(3, model=CLAUDE, price=("2", "2")),
            ],
            (GPT, CLAUDE),
            {"sort": "price"},
            [(GPT, 2), (GPT, 1), (CLAUDE, 3)],
            id="sort-partitioned-by-model-by-default",
        ),
        pytest.param(
            [
                offer(1, price=("5", "5")),
                offer(2, price=("1", "1")),
                offer(3, model=CLAUDE, price=("2", "2")),
            ],
            (GPT, CLAUDE),
            {"sort": "price", "sort_partition": "none"},
            [(GPT, 2), (CLAUDE, 3), (GPT, 1)],
            id="sort-partition-none-sorts-all-models-together",
        ),
        pytest.param(
            [offer(1, priority=5), offer(2, price=("1", "1")), offer(3, model=CLAUDE)],
            (GPT, CLAUDE),
            {"sort_partition": "none"},
            [(GPT, 1), (GPT, 2), (CLAUDE, 3)],
            id="partition-none-without-sort-keeps-models-in-turn",
        ),
        pytest.param(
            [
                offer(1, "openai", priority=5),
                offer(2, "azure"),
                offer(3, "anthropic", model=CLAUDE, priority=5),
                offer(4, "bedrock", model=CLAUDE),
            ],
            (GPT, CLAUDE),
            {"allow_fallbacks": False},
            [(GPT, 1), (CLAUDE, 3)],
            id="no-fallbacks-first-provider-of-each-model",
        ),
    ],
)
def test_models_fallback_plan(offers, models, preferences, expected):
    attempts = plan(offers, models=models, **preferences)

    assert [(attempt.model, attempt.channel_id) for attempt in attempts] == expected


@pytest.mark.parametrize(
    ("max_attempts", "expected"),
    [
        pytest.param(2, [1, 3], id="capped"),
        pytest.param(1, [1], id="one"),
        pytest.param(5, [1, 3, 2], id="fewer-candidates-than-cap"),
    ],
)
def test_max_attempts_caps_the_plan(max_attempts, expected):
    assert ids(plan(THREE, max_attempts=max_attempts)) == expected


@pytest.mark.parametrize(
    ("weights", "first_share"),
    [
        pytest.param((3, 1), 0.75, id="3-to-1"),
        pytest.param((1, 1), 0.5, id="even"),
        pytest.param((2, 1, 1), 0.5, id="2-1-1"),
    ],
)
def test_weighted_random_first_choice(weights, first_share):
    offers = [offer(index + 1, weight=weight) for index, weight in enumerate(weights)]
    rng = random.Random(20240601)

    plans = [plan(offers, rng=rng) for _ in range(4000)]

    share = sum(attempts[0].channel_id == 1 for attempts in plans) / len(plans)
    assert abs(share - first_share) <= 0.05
    assert all(sorted(ids(attempts)) == list(range(1, len(weights) + 1)) for attempts in plans)


def test_weight_zero_never_first_while_a_weighted_channel_exists():
    offers = [offer(1, weight=0), offer(2, weight=1), offer(3, weight=0), offer(4, weight=5)]
    rng = random.Random(7)

    seconds = {ids(plan(offers, rng=rng))[1] for _ in range(500)}
    firsts = {ids(plan(offers, rng=rng))[0] for _ in range(500)}

    assert firsts == {2, 4}
    assert seconds == {2, 4}


def test_same_seed_same_plan():
    offers = [offer(channel_id) for channel_id in range(1, 9)]

    assert ids(plan(offers, seed=42)) == ids(plan(offers, seed=42))


@pytest.mark.parametrize(
    ("offers", "models", "health", "preferences", "message"),
    [
        pytest.param(
            [], (GPT,), {}, {}, NO_OFFERS.format(model=GPT), id="model-missing-from-offers"
        ),
        pytest.param(
            [offer(1, "openai")],
            (GPT,),
            {},
            {"only": ("x",)},
            NOT_IN_ONLY.format(model=GPT, slugs=["x"]),
            id="only",
        ),
        pytest.param(
            [offer(1, "openai"), offer(2, "Azure")],
            (GPT,),
            {},
            {"ignore": ("azure", "openai")},
            ALL_IGNORED.format(model=GPT, slugs=["azure", "openai"]),
            id="ignore",
        ),
        pytest.param(
            [offer(1, price=("5", "1")), offer(2, price=("1", "5"))],
            (GPT,),
            {},
            {"max_price_prompt": Decimal(2), "max_price_completion": Decimal(2)},
            OVER_MAX_PRICE.format(model=GPT),
            id="max-price",
        ),
        pytest.param(
            [offer(1, "openai")],
            (GPT,),
            {},
            {"order": ("anthropic",), "allow_fallbacks": False},
            NOT_IN_ORDER.format(model=GPT, slugs=["anthropic"]),
            id="order-without-fallbacks",
        ),
        pytest.param(
            [offer(1, "openai", status="down")],
            (GPT,),
            {},
            {"only": ("x",)},
            NOT_IN_ONLY.format(model=GPT, slugs=["x"]),
            id="filtered-before-health-is-no-available",
        ),
        pytest.param(
            [offer(1, "openai"), offer(2, "anthropic", model=CLAUDE)],
            (GPT, CLAUDE),
            {},
            {"only": ("x",)},
            "; ".join(
                [
                    NOT_IN_ONLY.format(model=GPT, slugs=["x"]),
                    NOT_IN_ONLY.format(model=CLAUDE, slugs=["x"]),
                ]
            ),
            id="every-model-filtered-names-each",
        ),
    ],
)
def test_no_available_channel(offers, models, health, preferences, message):
    with pytest.raises(NoAvailableChannel) as raised:
        plan(offers, models=models, health=health, **preferences)

    assert raised.value.message == message
    assert (raised.value.http_status, raised.value.error_code) == (404, "no_available_channel")


@pytest.mark.parametrize(
    ("offers", "models", "health", "preferences"),
    [
        pytest.param(
            [offer(1, status="down"), offer(2, status="down")], (GPT,), {}, {}, id="all-down"
        ),
        pytest.param([offer(1), offer(2)], (GPT,), {1: OPEN, 2: OPEN}, {}, id="all-breakers-open"),
        pytest.param(
            [offer(1, status="down"), offer(2, "azure", model=CLAUDE)],
            (GPT, CLAUDE),
            {2: OPEN},
            {},
            id="down-and-open-across-models",
        ),
        pytest.param(
            [offer(1, "openai", status="down"), offer(2, "anthropic")],
            (GPT,),
            {},
            {"only": ("openai",)},
            id="the-only-allowed-provider-is-down",
        ),
        pytest.param(
            [offer(1, "openai"), offer(2, "anthropic")],
            (GPT,),
            {1: OPEN},
            {"order": ("openai",), "allow_fallbacks": False},
            id="the-ordered-provider-is-open-without-fallbacks",
        ),
        pytest.param(
            [offer(1, "openai"), offer(2, "anthropic", model=CLAUDE, status="down")],
            (GPT, CLAUDE),
            {},
            {"ignore": ("openai",)},
            id="one-model-filtered-the-other-down",
        ),
    ],
)
def test_no_healthy_channel(offers, models, health, preferences):
    with pytest.raises(NoHealthyChannel) as raised:
        plan(offers, models=models, health=health, **preferences)

    named = ", ".join(repr(model) for model in models)
    assert raised.value.message == ALL_UNHEALTHY.format(models=named)
    assert (raised.value.http_status, raised.value.error_code) == (503, "no_healthy_channel")

"""Cache-aware price: `provider.sort: price` and `max_price` read each channel-model's effective
input price, from its measured cache hit rate once it is known."""

from dataclasses import replace
from decimal import Decimal

import pytest

from channels.services import ModelOffer, channel_create
from gateway import catalog
from gateway.routing import effective_input_price
from gateway.schemas import ChannelHealth, Offer
from gateway.stats import CACHE_MIN_REQUESTS
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import MODEL, create
from tests.gateway.test_routing import GPT, ids, offer, plan


def cached(channel_id: int, input_price: str, cached_price: str | None) -> Offer:
    """An offer at `input_price` (output 1) whose cached input costs `cached_price`."""
    cached_input = None if cached_price is None else Decimal(cached_price)
    return replace(offer(channel_id, price=(input_price, "1")), cached_input_price=cached_input)


HITS = {1: ChannelHealth(cache_hit_rates={GPT: 0.9})}


@pytest.mark.parametrize(
    ("input_price", "cached_price", "health", "expected"),
    [
        pytest.param("1", "0.1", HITS, Decimal("0.19"), id="hits-at-the-cached-price"),
        pytest.param("1", "0.1", {}, Decimal(1), id="unknown-rate-the-input-price"),
        pytest.param("1", None, HITS, Decimal(1), id="no-cached-price-the-input-price"),
    ],
)
def test_the_effective_input_price(input_price, cached_price, health, expected):
    assert effective_input_price(cached(1, input_price, cached_price), health) == expected


def test_sort_by_price_and_max_price_use_the_effective_price():
    offers = [cached(1, "1", "0.1"), cached(2, "0.5", None)]

    assert ids(plan(offers, sort="price")) == [2, 1]
    assert ids(plan(offers, sort="price", health=HITS)) == [1, 2]
    assert ids(plan(offers, max_price_prompt=Decimal("0.3"), health=HITS)) == [1]


def test_a_channel_whose_cache_hits_becomes_the_cheapest_once_measured(gateway):
    offer_of = {
        "cachey": ("gpt-4o-mini@cached_tokens=100000", "1", Decimal("0.1")),
        "plain": ("gpt-4o-mini", "0.5", None),
    }
    for name, (upstream, input_price, cached_price) in offer_of.items():
        model = ModelOffer(
            model=MODEL,
            upstream_model=upstream,
            input_price=Decimal(input_price),
            output_price=Decimal(2),
            cached_input_price=cached_price,
        )
        gateway.channels.append(
            channel_create(
                name=name,
                provider=name,
                api_type="openai",
                base_url=gateway.upstream.base_url,
                api_key=CHANNEL_SECRET_PREFIX + name,
                models=[model],
            )
        )
    catalog.invalidate_catalog()
    by_price = {"provider": {"sort": "price"}}

    before = create(gateway, extra_body=by_price)[1]["x-switchyard-channel"]
    for _ in range(CACHE_MIN_REQUESTS):
        create(gateway, extra_body={"provider": {"only": ["cachey"]}})
    after = create(gateway, extra_body=by_price)[1]["x-switchyard-channel"]

    assert (before, after) == ("plain", "cachey")
    record = gateway.wait_records(CACHE_MIN_REQUESTS + 2)[-1]
    assert record.cached_tokens == record.prompt_tokens > 0

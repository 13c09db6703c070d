"""The route decision: which channels one request tries, in what order (pure: no I/O, no ORM)."""

import random
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from channels.adapters import serves
from gateway.errors import (
    InvalidRequest,
    ModelUnavailableUpstream,
    NoAvailableChannel,
    NoHealthyChannel,
)
from gateway.schemas import (
    HEALTHY,
    RESPONSES_COMPACT_DIALECT,
    RESPONSES_DIALECT,
    BreakerState,
    ChannelHealth,
    ChatRequest,
    Offer,
    ProviderPreferences,
    SortBy,
)

NO_OFFERS = "No enabled channel serves {model!r}"
NOT_IN_ONLY = "No channel for {model!r} matches provider.only {slugs}"
ALL_IGNORED = "Every channel for {model!r} is in provider.ignore {slugs}"
OVER_MAX_PRICE = "No channel for {model!r} is within provider.max_price"
NOT_IN_ORDER = "No channel for {model!r} matches provider.order {slugs} (allow_fallbacks is false)"
LACKS_CAPABILITY = "No channel for {model!r} supports what the request uses: {slugs}"
LACKS_PARAMETER = (
    "No channel for {model!r} supports every request parameter {slugs}"
    " (provider.require_parameters is true)"
)
ALL_UNHEALTHY = "Every candidate channel for {models} is down or its circuit breaker is open"
NEEDS_NATIVE = (
    "'{param}' can only be sent to a channel speaking the client's own API ({api_type}),"
    " and none serves {model!r}"
)
DIALECT_NAMES = {
    RESPONSES_DIALECT: "the Responses API: an OpenAI channel with serves_responses",
    RESPONSES_COMPACT_DIALECT: "the Responses API: an OpenAI channel with serves_responses",
}
"""How NEEDS_NATIVE names a dialect that is not a channel protocol."""
CANNOT_DO = (
    "The model {model!r} is served only by channels whose protocol ({api_types}) makes no"
    " {operation}"
)
UNKNOWN_UPSTREAM = (
    "Every channel serving {models} answered recently that its upstream does not know the model"
)

Health = Mapping[int, ChannelHealth]
# A hard filter: which offers it keeps, and the message template used when it keeps none.
HardFilter = tuple[Callable[[Offer], bool], str, list[str]]
# Half-open last, then unknown figures last, then the figure (lower goes first).
SortKey = tuple[bool, bool, Decimal | float]


def offers_for(
    chat: ChatRequest, offers: Mapping[str, Sequence[Offer]]
) -> Mapping[str, Sequence[Offer]]:
    """The offers that can carry the request: all of them, unless it uses something only its
    own dialect's channels take (`native.requires`), or is an operation not every protocol can
    do (embeddings); InvalidRequest naming what if none can."""
    if chat.operation != "chat":
        return _doing(chat, offers)
    native = chat.native
    if native is None or not native.requires:
        return offers
    models = (chat.model, *chat.fallback_models)
    speaking = {
        model: [offer for offer in offers.get(model, ()) if offer.speaks(native.api_type)]
        for model in models
    }
    if not any(speaking.values()):
        dialect = DIALECT_NAMES.get(native.api_type, native.api_type)
        message = NEEDS_NATIVE.format(param=native.requires, api_type=dialect, model=chat.model)
        raise InvalidRequest(message, param=native.requires)
    return speaking


def _doing(
    chat: ChatRequest, offers: Mapping[str, Sequence[Offer]]
) -> Mapping[str, Sequence[Offer]]:
    """The offers whose protocol can do the request's operation; InvalidRequest naming `model`
    when no channel of the requested models can."""
    models = (chat.model, *chat.fallback_models)
    able = {
        model: [offer for offer in offers.get(model, ()) if serves(offer.api_type, chat.operation)]
        for model in models
    }
    if not any(able.values()):
        protocols = sorted({offer.api_type for model in models for offer in offers.get(model, ())})
        message = CANNOT_DO.format(
            model=chat.model, operation=chat.operation, api_types=", ".join(protocols)
        )
        raise InvalidRequest(message, param="model")
    return able


def route_plan(
    *,
    models: Sequence[str],
    offers: Mapping[str, Sequence[Offer]],
    preferences: ProviderPreferences,
    health: Health,
    rng: random.Random,
    max_attempts: int,
    sticky: int | None = None,
) -> list[Offer]:
    """The ordered attempts for one request; when there are none, NoAvailableChannel (nothing
    eligible), ModelUnavailableUpstream (every eligible channel's upstream recently said it does
    not know the model) or NoHealthyChannel. `sticky` is the channel that served the request's
    conversation last (cache affinity): it goes first among the requested model's offers while
    it is eligible, healthy and in the first priority tier; an explicit `sort` or `order` still
    decides, affinity only breaking their ties."""
    requested = list(dict.fromkeys(models))
    filters = _hard_filters(preferences, health)
    pools: list[list[Offer]] = []
    reasons: list[str] = []
    any_eligible = False
    only_unknown_upstream = True  # every offer left out is out because its model is unknown there
    for model in requested:
        eligible, reason = _eligible_offers(model, offers.get(model, ()), filters)
        if reason:
            reasons.append(reason)
        any_eligible = any_eligible or bool(eligible)
        healthy = [offer for offer in eligible if not _is_unhealthy(offer, health)]
        only_unknown_upstream = only_unknown_upstream and all(
            _model_breaker_only(offer, health) for offer in eligible if offer not in healthy
        )
        ordered = _default_order(healthy, health, rng)
        pools.append(_sticky_first(ordered, sticky, health) if model == requested[0] else ordered)
    if preferences.sort and preferences.sort_partition == "none":
        pools = [[offer for pool in pools for offer in pool]]
    plan = [offer for pool in pools for offer in _arrange(pool, preferences, health)]
    if plan:
        return plan[: max(1, max_attempts)]
    names = ", ".join(map(repr, requested))
    if any_eligible and only_unknown_upstream:
        raise ModelUnavailableUpstream(UNKNOWN_UPSTREAM.format(models=names))
    if any_eligible:
        raise NoHealthyChannel(ALL_UNHEALTHY.format(models=names))
    raise NoAvailableChannel("; ".join(reasons))


def _hard_filters(preferences: ProviderPreferences, health: Health) -> list[HardFilter]:
    """The request's filters, in the order they apply; health is not one of them."""
    only, ignore = _slugs(preferences.only or ()), _slugs(preferences.ignore)
    order = _slugs(preferences.order or ())
    filters: list[HardFilter] = []
    if only:
        filters.append((lambda offer: _slug(offer) in only, NOT_IN_ONLY, only))
    if ignore:
        filters.append((lambda offer: _slug(offer) not in ignore, ALL_IGNORED, ignore))
    if preferences.max_price_prompt is not None or preferences.max_price_completion is not None:
        filters.append(
            (lambda offer: _within_max_price(offer, preferences, health), OVER_MAX_PRICE, [])
        )
    needs, parameters = preferences.needs, preferences.parameters
    if needs:
        filters.append(
            (lambda offer: not offer.unsupported & needs, LACKS_CAPABILITY, sorted(needs))
        )
    if preferences.require_parameters and parameters:
        filters.append(
            (lambda offer: not offer.unsupported & parameters, LACKS_PARAMETER, sorted(parameters))
        )
    if order and not preferences.allow_fallbacks:
        filters.append((lambda offer: _slug(offer) in order, NOT_IN_ORDER, order))
    return filters


def _eligible_offers(
    model: str, offers: Sequence[Offer], filters: list[HardFilter]
) -> tuple[list[Offer], str]:
    """The model's offers every filter keeps, and the message naming the filter that left none."""
    eligible = list(offers)
    if not eligible:
        return [], NO_OFFERS.format(model=model)
    for keep, message, slugs in filters:
        eligible = [offer for offer in eligible if keep(offer)]
        if not eligible:
            return [], message.format(model=model, slugs=slugs)
    return eligible, ""


def _default_order(offers: list[Offer], health: Health, rng: random.Random) -> list[Offer]:
    """Priority tiers, weighted random inside each; recently failing, then half-open, go back."""
    # An exponential race (the smallest Exp(weight) draw goes first) is exact weighted sampling
    # without replacement, and stays correct within any tier of the shuffled whole.
    weighted = sorted(
        (offer for offer in offers if offer.weight > 0), key=lambda o: rng.expovariate(o.weight)
    )
    unweighted = [offer for offer in offers if offer.weight <= 0]
    return sorted(
        weighted + unweighted,
        key=lambda o: (
            _is_half_open(o, health),
            -o.priority,
            _health(o, health).recently_failed,
            o.weight <= 0,
        ),
    )


def _sticky_first(pool: list[Offer], sticky: int | None, health: Health) -> list[Offer]:
    """The pool with the conversation's channel first: affinity replaces the weighted choice
    inside the first tier, so it applies while that channel is in the first tier, neither
    half-open nor failed lately (a higher tier that recovers takes the conversation back)."""
    for index, offer in enumerate(pool):
        if offer.channel_id == sticky:
            first_tier = offer.priority == pool[0].priority
            if (
                not first_tier
                or _is_half_open(offer, health)
                or _health(offer, health).recently_failed
            ):
                return pool
            return [offer, *pool[:index], *pool[index + 1 :]]
    return pool


def _arrange(pool: list[Offer], preferences: ProviderPreferences, health: Health) -> list[Offer]:
    """Apply `sort`, then `order` or the first-choice-provider rule of `allow_fallbacks: false`."""
    if preferences.sort:
        pool = sorted(pool, key=_sort_key(preferences.sort, health))
    if preferences.order:
        rank = {slug: index for index, slug in enumerate(dict.fromkeys(_slugs(preferences.order)))}
        return sorted(pool, key=lambda o: (_is_half_open(o, health), rank.get(_slug(o), len(rank))))
    if not preferences.allow_fallbacks and pool:
        return [offer for offer in pool if _slug(offer) == _slug(pool[0])]
    return pool


def _sort_key(sort: SortBy, health: Health) -> Callable[[Offer], SortKey]:
    """The stable-sort key for `sort`: half-open last, then unknown figures last, then figure."""

    def key(offer: Offer) -> SortKey:
        """Where `offer` sorts; lower goes first."""
        known = _health(offer, health)
        half_open = _breaker(offer, health) == "half_open"
        if sort == "price":
            return half_open, False, effective_input_price(offer, health) + offer.output_price
        if sort == "latency":
            return half_open, known.latency_ms is None, known.latency_ms or 0.0
        return half_open, known.throughput is None, -(known.throughput or 0.0)

    return key


def effective_input_price(offer: Offer, health: Health) -> Decimal:
    """The offer's input price as its measured cache hit rate makes it: hit rate * cached
    price + (1 - hit rate) * input price; the input price until the rate is known."""
    rate = _health(offer, health).cache_hit_rates.get(offer.model)
    if rate is None or offer.cached_input_price is None:
        return offer.input_price
    hits = Decimal(str(round(min(max(rate, 0.0), 1.0), 6)))
    return hits * offer.cached_input_price + (1 - hits) * offer.input_price


def _within_max_price(offer: Offer, preferences: ProviderPreferences, health: Health) -> bool:
    """Whether the offer's prices (its input price the effective one) are at or under the
    request's `max_price` caps."""
    prompt, completion = preferences.max_price_prompt, preferences.max_price_completion
    too_pricey_prompt = prompt is not None and effective_input_price(offer, health) > prompt
    too_pricey_completion = completion is not None and offer.output_price > completion
    return not (too_pricey_prompt or too_pricey_completion)


def _health(offer: Offer, health: Health) -> ChannelHealth:
    """The offer's channel health; a channel routing knows nothing of is healthy."""
    return health.get(offer.channel_id, HEALTHY)


def _breaker(offer: Offer, health: Health) -> BreakerState:
    """The offer's breaker: the worse of its channel's and its channel-model's."""
    return _health(offer, health).breaker_for(offer.model)


def _is_unhealthy(offer: Offer, health: Health) -> bool:
    """Down by health checks, or its circuit breaker is open: not tried at all."""
    return offer.status == "down" or _breaker(offer, health) == "open"


def _model_breaker_only(offer: Offer, health: Health) -> bool:
    """Left out only by its channel-model's open breaker (the channel itself is fine)."""
    known = _health(offer, health)
    return (
        offer.status != "down"
        and known.breaker != "open"
        and known.models.get(offer.model) == "open"
    )


def _is_half_open(offer: Offer, health: Health) -> bool:
    """The breaker is probing: tried only when nothing else is left."""
    return _breaker(offer, health) == "half_open"


def _slug(offer: Offer) -> str:
    """The offer's provider slug, for case-insensitive comparison."""
    return offer.provider.lower()


def _slugs(slugs: Sequence[str]) -> list[str]:
    """Provider slugs, lower-cased, for case-insensitive comparison."""
    return [slug.lower() for slug in slugs]

"""Admission: a key's rate limits, then a reservation of the request's worst-case cost.

The requests-per-minute limit is charged when the key is authenticated (`admit_request`, called
by gateway.auth), so every request of a known key counts, whatever becomes of it; the
tokens-per-minute limit once the prompt is parsed, before routing (`admit_rate`), whose headers
also report the request limit's state. The reservation, once the plan's prices are known, holds
the worst case against the account's balance and the key's remaining limit until the request's
usage record is written, which charges the actual cost and gives the reservation back
(billing.services.usage_records_save). Where holds live is the process's reservation backend
(`gateway.bridge.reservations`: Redis, or the database).
"""

import logging
import math
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import redis
from django.conf import settings
from django.utils import timezone

from billing.budgets import Hold, Refusal
from billing.periods import period_end
from billing.pricing import usage_cost, usage_cost_bound
from core.money import format_money
from core.usage import Usage
from gateway import ratelimit
from gateway.accounting import offer_prices
from gateway.bridge.reservations import ReservationsUnavailable, reservations
from gateway.errors import (
    BudgetUnavailable,
    InsufficientQuota,
    RateLimited,
    retry_after_seconds,
)
from gateway.ratelimit import Charge, LimitState
from gateway.schemas import ChatRequest, KeyContext, Offer

logger = logging.getLogger(__name__)

ACCOUNT_SHORT = (
    "Insufficient credit: the account's balance ({available} USD available) cannot cover this "
    "request's worst-case cost of {needed} USD. Add credit, or lower max_tokens."
)
KEY_SHORT = (
    "This API key's spend limit is used up: {available} USD left of {limit} USD, and this "
    "request may cost up to {needed} USD."
)
KEY_RESETS = " The limit resets at {reset} UTC."
RATE_LIMITED = "Rate limit reached for this API key: {limits}. Try again in {wait:g} s."
TOO_LARGE_FOR_TPM = (
    "This request needs an estimated {tokens} tokens, more than the key's limit of {limit} "
    "tokens per minute."
)
LIMITS_UNAVAILABLE = "The gateway cannot check this key's limits and credit right now; try again."


@dataclass(frozen=True, slots=True)
class RateAdmission:
    """What passing the rate limits leaves: response headers and the token charge to correct."""

    headers: dict[str, str]
    tokens: Charge | None


def _duration(seconds: float) -> str:
    """A duration as OpenAI's rate-limit headers write it: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{rest_text}" if minutes else rest_text


def _headers(states: list[LimitState]) -> dict[str, str]:
    """The `x-ratelimit-*` headers; a limit that is used up resets when a retry is admitted,
    which is what `retry-after` says too (whole seconds, rounded up)."""
    headers = {}
    for state in states:
        reset = state.reset_seconds
        if state.retry_after is not None:
            reset = retry_after_seconds(state.retry_after)
        headers[f"x-ratelimit-limit-{state.kind}"] = str(state.limit)
        headers[f"x-ratelimit-remaining-{state.kind}"] = str(state.remaining)
        headers[f"x-ratelimit-reset-{state.kind}"] = _duration(reset)
    return headers


def token_estimate(chat: ChatRequest, prompt_tokens: int) -> int:
    """Tokens a request is charged against a tpm limit on admission."""
    return prompt_tokens + (chat.max_output_tokens or 0) * max(chat.n, 1)


_requests_charged: ContextVar[tuple[int, LimitState] | None] = ContextVar(
    "requests_charged", default=None
)
"""The request limit's state after this request's charge, by key id: set by `admit_request`
during authentication, read by `admit_rate` for its headers (one request, one task)."""


async def admit_request(key: KeyContext) -> None:
    """Charge one request to the key's rpm limit, if it has one; RateLimited when used up."""
    if not key.rpm_limit:
        return
    allowed, states = await _check([Charge("requests", key.key_id, key.rpm_limit, 1)])
    if not allowed:
        raise _rate_limited(states)
    _requests_charged.set((key.key_id, states[0]))


async def admit_rate(key: KeyContext, chat: ChatRequest, prompt_tokens: int) -> RateAdmission:
    """Charge the key's tpm limit (its rpm limit was charged by `admit_request`); RateLimited
    when used up. The headers report both limits."""
    charged = _requests_charged.get()
    states = [charged[1]] if charged is not None and charged[0] == key.key_id else []
    if not key.tpm_limit:
        return RateAdmission(_headers(states), None)
    tokens = Charge("tokens", key.key_id, key.tpm_limit, token_estimate(chat, prompt_tokens))
    if tokens.cost > key.tpm_limit:
        headers = {"x-ratelimit-limit-tokens": str(key.tpm_limit)}
        message = TOO_LARGE_FOR_TPM.format(tokens=tokens.cost, limit=key.tpm_limit)
        raise RateLimited(message, retry_after=None, headers=headers)  # waiting never helps
    allowed, token_states = await _check([tokens])
    if not allowed:
        raise _rate_limited([*states, *token_states])
    return RateAdmission(_headers([*states, *token_states]), tokens)


async def _check(charges: list[Charge]) -> tuple[bool, list[LimitState]]:
    try:
        return await ratelimit.check(charges)
    except redis.RedisError:
        logger.exception("rate limits unavailable")
        raise BudgetUnavailable(LIMITS_UNAVAILABLE) from None


def _rate_limited(states: list[LimitState]) -> RateLimited:
    waits = [state.retry_after for state in states if state.retry_after is not None]
    wait = min(60.0, max(waits))
    used_up = ", ".join(
        f"{state.limit} {state.kind} per minute" for state in states if state.retry_after
    )
    message = RATE_LIMITED.format(limits=used_up, wait=retry_after_seconds(wait))
    return RateLimited(message, retry_after=wait, headers=_headers(states))


def worst_case_cost(chat: ChatRequest, plan: list[Offer], prompt_tokens: int) -> Decimal:
    """The most the request can cost on any offer of its plan: `prompt_tokens`, the bound of
    what an upstream can bill for the prompt (gateway.estimate.prompt_tokens_bound, not the
    estimate), plus `max_tokens` — else the channel model's `max_output_tokens`, else
    GATEWAY_DEFAULT_MAX_TOKENS, the cap every adapter then sends — per choice, the prompt billed
    at that offer's dearest prompt price (a 1-hour cache write, twice the input by default) and the
    answer at its output price. Embeddings have no answer and no cache: `prompt_tokens` at the
    dearest input price of the plan."""
    if chat.operation == "embeddings":
        prompt = Usage(prompt_tokens=prompt_tokens)
        return max((usage_cost(prompt, offer_prices(offer)) for offer in plan), default=Decimal(0))
    choices = max(chat.n, 1)
    default = settings.GATEWAY_DEFAULT_MAX_TOKENS
    return max(
        (
            usage_cost_bound(
                Usage(
                    prompt_tokens=prompt_tokens,
                    completion_tokens=choices
                    * (chat.max_output_tokens or offer.max_output_tokens or default),
                ),
                offer_prices(offer),
            )
            for offer in plan
        ),
        default=Decimal(0),
    )


async def reserve(*, request_id: str, key: KeyContext, amount: Decimal) -> None:
    """Hold `amount` against the key's account and limit; InsufficientQuota when either cannot
    cover it, BudgetUnavailable when the reservation store is unreachable."""
    now = timezone.now()
    hold = Hold(
        id=request_id,
        account_id=key.account_id,
        key_id=key.key_id,
        amount=amount,
        expires_at=now + timedelta(seconds=settings.GATEWAY_RESERVATION_SECONDS),
    )
    try:
        refusal = await reservations().reserve(hold, key, now)
    except ReservationsUnavailable as error:
        logger.warning("reserving %s for request %s failed: %s", amount, request_id, error)
        raise BudgetUnavailable(LIMITS_UNAVAILABLE, retry_after=error.retry_after) from None
    if refusal is not None:
        raise _refused(refusal, key, amount, now)


def _refused(
    refusal: Refusal, key: KeyContext, needed: Decimal, now: datetime
) -> InsufficientQuota:
    available = format_money(max(refusal.available, Decimal(0)))
    if refusal.budget == "account":
        message = ACCOUNT_SHORT.format(available=available, needed=format_money(needed))
        return InsufficientQuota(message, param=None)
    limit = format_money(key.spend_limit if key.spend_limit is not None else Decimal(0))
    message = KEY_SHORT.format(available=available, limit=limit, needed=format_money(needed))
    resets_at = period_end(key.limit_reset, now)
    if resets_at is None:
        return InsufficientQuota(message)
    message += KEY_RESETS.format(reset=resets_at.strftime("%Y-%m-%d %H:%M"))
    return InsufficientQuota(message, retry_after=(resets_at - now).total_seconds())

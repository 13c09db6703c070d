"""The request path's only crossing from async code to the ORM.

Each call runs in the default thread pool (`thread_sensitive=False`): database reads must not
queue behind one shared thread, which would serialise the whole server.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from billing.api import UsageOutput
from billing.budgets import (
    AccountBudget,
    Budget,
    Hold,
    KeyBudget,
    account_budget,
    key_budget,
)
from billing.models import Account, ApiKey
from billing.selectors import api_key_by_hash, key_summary, usage_record_of_key
from channels.selectors import channel_api_key, served_models
from gateway.schemas import KeyContext, Offer

P = ParamSpec("P")
R = TypeVar("R")


def _in_pool(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run `function` in a pool thread, with that thread's connection kept healthy."""

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        return function(*args, **kwargs)

    return sync_to_async(wrapped, thread_sensitive=False)


def _load_key(key_hash: str) -> KeyContext | None:
    key = api_key_by_hash(key_hash=key_hash)
    if key is None:
        return None
    return KeyContext(
        key_id=key.pk,
        account_id=key.account_id,
        prefix=key.prefix,
        allowed_models=frozenset(key.allowed_models or ()),
        expires_at_epoch=key.expires_at.timestamp() if key.expires_at else None,
        revoked=key.revoked,
        spend_limit=key.spend_limit,
        limit_reset=key.limit_reset,
        rpm_limit=key.rpm_limit,
        tpm_limit=key.tpm_limit,
    )


def _load_budget(budget: Budget, hold: Hold, now: datetime) -> AccountBudget | KeyBudget:
    if budget == "account":
        return account_budget(account=Account.objects.get(pk=hold.account_id))
    return key_budget(key=ApiKey.objects.get(pk=hold.key_id), now=now)


def _key_summary(key_id: int) -> dict[str, Any]:
    key = ApiKey.objects.select_related("account").get(pk=key_id)
    return key_summary(key=key)


def _load_offers() -> list[Offer]:
    offers = []
    for served in served_models():
        channel = served.channel
        offers.append(
            Offer(
                channel_id=channel.pk,
                channel_name=channel.name,
                provider=channel.provider.lower(),
                api_type=channel.api_type,
                base_url=channel.base_url,
                api_key=channel_api_key(channel=channel),
                model=served.model,
                upstream_model=served.upstream_name,
                priority=channel.priority,
                weight=channel.weight,
                input_price=served.input_price,
                output_price=served.output_price,
                cached_input_price=served.cached_input_price,
                first_token_timeout=channel.first_token_timeout
                or settings.GATEWAY_FIRST_TOKEN_TIMEOUT,
                timeout=channel.timeout or settings.GATEWAY_TIMEOUT,
                status=channel.status,
                max_output_tokens=served.max_output_tokens,
                unsupported=frozenset(served.unsupported or ()),
            )
        )
    return offers


def _load_generation(record_id: str, key_id: int) -> dict[str, Any] | None:
    record = usage_record_of_key(record_id=record_id, key_id=key_id)
    return None if record is None else dict(UsageOutput(record).data)


load_key = _in_pool(_load_key)
load_offers = _in_pool(_load_offers)
load_generation = _in_pool(_load_generation)
load_budget = _in_pool(_load_budget)
load_key_summary = _in_pool(_key_summary)

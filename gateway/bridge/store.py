"""The request path's only crossing from async code to the ORM.

Each call runs in the default thread pool (`thread_sensitive=False`): database reads must not
queue behind one shared thread, which would serialise the whole server.

The client path's reads (a key, its summary, a usage record, the catalog) answer
DatabaseUnavailable (503) when the database cannot serve them, within DATABASE_POOL_TIMEOUT
(the pool tests each connection it lends, config.settings.database); after a failure they
refuse at once for GATEWAY_DATABASE_RETRY_SECONDS, then one read at a time probes, so an outage
neither stalls requests nor piles threads up waiting for the pool.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

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
from channels.crypto import SecretDecryptionError
from channels.models import Channel
from channels.selectors import channel_api_key, served_models
from gateway.errors import DatabaseUnavailable
from gateway.schemas import KeyContext, Offer

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DATABASE_UNAVAILABLE = "The gateway cannot reach its database right now; try again shortly."
_UNREACHABLE = (OperationalError, InterfaceError)


def _in_pool(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run `function` in a pool thread, with that thread's connection kept healthy."""

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        return function(*args, **kwargs)

    return sync_to_async(wrapped, thread_sensitive=False)


class _Outage:
    """Whether the client path's reads should try the database: after a failure, not before
    `until`, then one probe at a time until one succeeds."""

    def __init__(self) -> None:
        self.until = 0.0
        self.probing = False

    def refuse(self) -> DatabaseUnavailable:
        wait = max(self.until - time.monotonic(), settings.GATEWAY_DATABASE_RETRY_SECONDS)
        return DatabaseUnavailable(DATABASE_UNAVAILABLE, retry_after=wait)


_outage = _Outage()


def _client_read(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """As `_in_pool`, for a read of the client path: DatabaseUnavailable when the database
    cannot answer, in bounded time (see the module's docstring)."""

    in_thread = _in_pool(function)

    async def read(*args: P.args, **kwargs: P.kwargs) -> R:
        if _outage.until:
            if _outage.probing or time.monotonic() < _outage.until:
                raise _outage.refuse()
            _outage.probing = probe = True
        else:
            probe = False
        try:
            result = await in_thread(*args, **kwargs)
        except _UNREACHABLE as error:
            _outage.until = time.monotonic() + settings.GATEWAY_DATABASE_RETRY_SECONDS
            logger.warning("database unavailable for %s: %s", function.__name__, error)
            raise _outage.refuse() from None
        finally:
            if probe:
                _outage.probing = False
        _outage.until = 0.0
        return result

    return read


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


_undecryptable: set[tuple[int, str]] = set()
"""(channel, stored ciphertext) pairs this process has logged as undecryptable."""


def _secret_of(channel: Channel) -> str | None:
    """The channel's secret; None (logged once per channel and stored secret, however many
    loads, even overlapping ones, meet it) when no configured key opens it."""
    try:
        return channel_api_key(channel=channel)
    except SecretDecryptionError:
        broken = (channel.pk, channel.api_key_encrypted)
        if broken not in _undecryptable:
            _undecryptable.add(broken)
            logger.error(
                "channel %r left out of routing: its secret cannot be decrypted with any key in "
                "SWITCHYARD_ENCRYPTION_KEYS; set it again",
                channel.name,
            )
        return None


def _load_offers() -> list[Offer]:
    """Every offer of the live channels, but those whose secret cannot be decrypted."""
    offers = []
    for served in served_models():
        channel = served.channel
        secret = _secret_of(channel)
        if secret is None:
            continue
        offers.append(
            Offer(
                channel_id=channel.pk,
                channel_name=channel.name,
                provider=channel.provider.lower(),
                api_type=channel.api_type,
                base_url=channel.base_url,
                api_key=secret,
                model=served.model,
                upstream_model=served.upstream_name,
                priority=channel.priority,
                weight=channel.weight,
                input_price=served.input_price,
                output_price=served.output_price,
                cached_input_price=served.cached_input_price,
                cache_write_price=served.cache_write_price,
                cache_write_1h_price=served.cache_write_1h_price,
                first_token_timeout=channel.first_token_timeout
                or settings.GATEWAY_FIRST_TOKEN_TIMEOUT,
                timeout=channel.timeout or settings.GATEWAY_TIMEOUT,
                status=channel.status,
                max_output_tokens=served.max_output_tokens,
                unsupported=frozenset(served.unsupported or ()),
                serves_responses=channel.serves_responses,
            )
        )
    return offers


def _load_generation(record_id: str, key_id: int) -> dict[str, Any] | None:
    record = usage_record_of_key(record_id=record_id, key_id=key_id)
    return None if record is None else dict(UsageOutput(record).data)


load_key = _client_read(_load_key)
load_offers = _client_read(_load_offers)
load_generation = _client_read(_load_generation)
load_budget = _in_pool(_load_budget)
load_key_summary = _client_read(_key_summary)

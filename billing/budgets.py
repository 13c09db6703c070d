"""Budgets: what an account and a key may still spend, as plain data read from their rows.

A request reserves its worst-case cost before it runs; its usage record's charge replaces the
reservation when the record is written. `billing.reservations` keeps reservations in the
database (installs without Redis), `billing.budget_mirror` in Redis.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from billing.models import Account, ApiKey
from billing.periods import period_start, stored_spend_counts

Budget = Literal["account", "key"]


@dataclass(frozen=True, slots=True)
class AccountBudget:
    """An account's balance as of its `version` (bumped with every balance change)."""

    account_id: int
    balance: Decimal
    version: int


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """A key's spend in the period starting at `period` (None: the key never resets), as of
    its `version` (bumped with every spend change)."""

    key_id: int
    spend: Decimal
    period: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation was refused: which budget, what it still had, and when it resets."""

    budget: Budget
    available: Decimal
    resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation to make: request `id` holds `amount` against an account and a key."""

    id: str
    account_id: int
    key_id: int
    amount: Decimal
    expires_at: datetime


def key_budget(*, key: ApiKey, now: datetime) -> KeyBudget:
    """A key's budget at `now` from its stored row."""
    counts = stored_spend_counts(
        period_started_at=key.period_started_at, limit_reset=key.limit_reset, now=now
    )
    return KeyBudget(
        key_id=key.pk,
        spend=key.spend_in_period if counts else Decimal(0),
        period=period_start(key.limit_reset, now),
        version=key.budget_version,
    )


def account_budget(*, account: Account) -> AccountBudget:
    """An account's budget from its stored row."""
    return AccountBudget(account.pk, account.balance, account.budget_version)

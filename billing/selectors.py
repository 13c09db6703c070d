"""Reads of billing data: usage records with filters, ledger sums."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from billing.budgets import key_budget
from billing.models import Account, ApiKey, UsageDeadLetter, UsageRecord
from core.money import format_money


@dataclass(frozen=True)
class UsageFilters:
    """Optional filters of the usage list; None means no filter."""

    key: int | None = None
    account: int | None = None
    model: str | None = None
    provider: str | None = None
    channel: int | None = None
    status: str | None = None
    endpoint: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def exact_lookups(self) -> dict[str, object]:
        """The given filters other than time, as `filter()` keywords on usage fields (the raw
        records' and the rollups' alike)."""
        exact = {
            "key_id": self.key,
            "account_id": self.account,
            "model": self.model,
            "provider": self.provider,
            "channel_id": self.channel,
            "status": self.status,
            "endpoint": self.endpoint,
        }
        return {name: value for name, value in exact.items() if value is not None}


def usage_list(*, filters: UsageFilters) -> QuerySet[UsageRecord]:
    """Usage records matching every given filter, newest first; `until` is exclusive."""
    records = UsageRecord.objects.order_by("-created_at").filter(**filters.exact_lookups())
    if filters.since is not None:
        records = records.filter(created_at__gte=filters.since)
    if filters.until is not None:
        records = records.filter(created_at__lt=filters.until)
    return records


def account_ledger_sum(*, account: Account) -> Decimal:
    """The sum of an account's ledger entries, which its balance must equal."""
    total = account.ledger_entries.aggregate(total=Sum("amount"))["total"]
    return total if total is not None else Decimal(0)


def api_key_by_hash(*, key_hash: str) -> ApiKey | None:
    """The key stored under this hash, revoked or not."""
    return ApiKey.objects.filter(key_hash=key_hash).first()


def usage_record_of_key(*, record_id: str, key_id: int) -> UsageRecord | None:
    """One usage record, only if it was made with the given key."""
    return UsageRecord.objects.filter(pk=record_id, key_id=key_id).first()


def key_period_spend(*, key: ApiKey, now: datetime | None = None) -> Decimal:
    """What the key has spent in its current limit period (all time for a key that never
    resets); 0 once a new period has begun."""
    return key_budget(key=key, now=now or timezone.now()).spend


def key_limit_remaining(*, key: ApiKey, now: datetime | None = None) -> Decimal | None:
    """What the key may still spend this period (never below 0), or None without a limit."""
    if key.spend_limit is None:
        return None
    return max(key.spend_limit - key_period_spend(key=key, now=now), Decimal(0))


def key_summary(*, key: ApiKey, now: datetime | None = None) -> dict[str, Any]:
    """What `GET /v1/key` shows a key about itself; money as decimal strings."""
    spend = key_period_spend(key=key, now=now)
    remaining = key_limit_remaining(key=key, now=now)
    return {
        "name": key.name,
        "prefix": key.prefix,
        "spend": format_money(spend),
        "spend_limit": None if key.spend_limit is None else format_money(key.spend_limit),
        "limit_remaining": None if remaining is None else format_money(remaining),
        "limit_reset": key.limit_reset or None,
        "account_balance": format_money(key.account.balance),
        "rpm_limit": key.rpm_limit,
        "tpm_limit": key.tpm_limit,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def usage_dead_letters_unresolved() -> QuerySet[UsageDeadLetter]:
    """Usage records the database refused that no retry has stored yet, oldest first."""
    return UsageDeadLetter.objects.filter(resolved_at__isnull=True).order_by("created_at", "id")

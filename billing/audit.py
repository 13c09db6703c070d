"""What reconcile proves beyond books that agree: completeness (every upstream call the gateway
made has its record, no hold is orphaned) and solvency (no account or key is overdrawn)."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import F, Q, Sum

from billing.budget_mirror import units
from billing.budgets import key_budget
from billing.journal import unbilled_requests
from billing.models import Account, ApiKey, Reservation, UsageRecord
from billing.selectors import usage_dead_letters_unresolved
from core.money import format_money
from core.redis import sync_redis

LIMIT = 100


def audit_problems(*, now: datetime) -> list[str]:
    """Every violation found, each named (at most LIMIT of a kind)."""
    return [
        *_journal_problems(Path(settings.GATEWAY_JOURNAL_DIR), now),
        *_reservation_problems(now),
        *_redis_hold_problems(),
        *_solvency_problems(now),
        *_dead_letter_problems(),
    ]


def _journal_problems(directory: Path, now: datetime) -> Iterator[str]:
    """Requests of this machine's gateway journals without a stored record: of a process that
    died (the next sweep bills them), or open longer than any request may run."""
    overdue = now - timedelta(seconds=settings.GATEWAY_REQUEST_DEADLINE + 60)
    for found in unbilled_requests(directory, older_than=overdue)[:LIMIT]:
        yield (
            f"request {found.request_id} (journal of gateway process {found.instance}) reached "
            f"an upstream or reserved credit but has no usage record: {found.why}"
        )


def _reservation_problems(now: datetime) -> Iterator[str]:
    """Database holds that outlived their request, and `reserved` sums that disagree."""
    recorded = Reservation.objects.filter(pk__in=UsageRecord.objects.values("pk"))
    for request_id in recorded.values_list("pk", flat=True)[:LIMIT]:
        yield f"reservation of request {request_id} is still held although its record is stored"
    for request_id in Reservation.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[
        :LIMIT
    ]:
        yield f"reservation of request {request_id} expired without its request's record"
    for model, name in ((Account, "account"), (ApiKey, "key")):
        column = f"{name}_id"
        sums = Reservation.objects.values(column).annotate(total=Sum("amount"))
        held = {row[column]: row["total"] for row in sums}
        rows = model.objects.filter(Q(pk__in=held) | ~Q(reserved=0)).order_by("pk")
        for pk, reserved in rows.values_list("pk", "reserved")[:LIMIT]:
            total = held.get(pk, Decimal(0))
            if reserved != total:
                yield (
                    f"{name} {pk} reserves {format_money(reserved)} but its reservations sum "
                    f"to {format_money(total)}"
                )


def _redis_hold_problems() -> Iterator[str]:
    """Holds in Redis whose request's record is already stored (their release was lost)."""
    client = sync_redis()
    if client is None:
        return
    found = 0
    for name in client.scan_iter(match="switchyard:budget:*:holds", count=1000):
        ids = [_text(member) for member in client.zrange(name, 0, -1)]
        stored = UsageRecord.objects.filter(pk__in=ids).values_list("pk", flat=True)
        for request_id in stored:
            found += 1
            if found > LIMIT:
                return
            yield f"Redis still holds credit for request {request_id}, whose record is stored"


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def _dead_letter_problems() -> Iterator[str]:
    """Usage records the database refused, not yet stored by a retry."""
    for request_id, error in usage_dead_letters_unresolved().values_list("request_id", "error")[
        :LIMIT
    ]:
        yield f"usage record {request_id} was refused by the database (dead letter): {error}"


def _solvency_problems(now: datetime) -> Iterator[str]:
    """Accounts below zero and keys past their spend limit."""
    for pk, name, balance in Account.objects.filter(balance__lt=0).values_list(
        "pk", "name", "balance"
    )[:LIMIT]:
        yield f"account {pk} ({name}) is overdrawn: balance {format_money(balance)}"
    limited = ApiKey.objects.filter(spend_limit__isnull=False, spend_in_period__gt=0)
    for key in limited.filter(spend_in_period__gt=F("spend_limit"))[:LIMIT]:
        spend = key_budget(key=key, now=now).spend
        if key.spend_limit is not None and units(spend) > units(key.spend_limit):
            yield (
                f"key {key.pk} ({key.name}) spent {format_money(spend)} of its "
                f"{format_money(key.spend_limit)} limit this period"
            )

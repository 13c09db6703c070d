"""Retention: raw usage records older than the configured number of days are deleted, and the
attempt rows the channel pages read (a record keeps its own list of attempts) sooner.

Rollups and the ledger stay: a charge keeps its request id after its record is gone.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import UsageAttempt, UsageRecord
from reports.models import PendingUsage

PRUNE_BATCH = 5000


def usage_prune(
    *, now: datetime | None = None, days: int | None = None, batch_size: int = PRUNE_BATCH
) -> int:
    """Delete raw records older than `days` (default `USAGE_RETENTION_DAYS`; 0 = keep all).

    Records still queued for the rollup are kept until it has counted them. Returns how many
    records were deleted.
    """
    days = settings.USAGE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = UsageRecord.objects.filter(created_at__lt=cutoff).exclude(
        pk__in=PendingUsage.objects.values("record_id")
    )
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            _, per_model = UsageRecord.objects.filter(pk__in=ids).delete()
        deleted += per_model.get(UsageRecord._meta.label, 0)
    return deleted


def usage_attempts_prune(
    *, now: datetime | None = None, days: int | None = None, batch_size: int = PRUNE_BATCH
) -> int:
    """Delete attempt rows older than `days` (default `ATTEMPT_RETENTION_DAYS`; 0 = keep all);
    their records, and the attempts each lists, stay. Returns how many rows were deleted."""
    days = settings.ATTEMPT_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = UsageAttempt.objects.filter(created_at__lt=cutoff)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        deleted += UsageAttempt.objects.filter(pk__in=ids).delete()[0]
    return deleted

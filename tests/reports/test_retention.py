"""Retention deletes old raw records but keeps the rollups, the ledger and queued records."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.models import LedgerEntry, UsageAttempt, UsageRecord
from billing.services import usage_records_save
from reports.models import DailyUsage, HourlyUsage
from reports.retention import usage_attempts_prune, usage_prune
from reports.rollup import usage_rollup_run
from tests.dashboard.attempt_helpers import record_with_attempts
from tests.factories import ApiKeyFactory, UsageRecordFactory


def charged_record(key, created_at, cost="0.5"):
    """A record stored like the gateway stores it: with its ledger charge."""
    record = UsageRecordFactory.build(key=key, account=key.account, created_at=created_at)
    record.cost = Decimal(cost)
    usage_records_save(records=[record])
    return record


def test_prune_deletes_old_records_and_keeps_rollups_and_ledger(db, settings):
    settings.USAGE_RETENTION_DAYS = 30
    key = ApiKeyFactory()
    now = timezone.now()
    old = charged_record(key, now - timedelta(days=40))
    recent = charged_record(key, now - timedelta(days=2))
    usage_rollup_run()

    assert usage_prune(now=now) == 1

    assert list(UsageRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    charges = LedgerEntry.objects.filter(account=key.account).order_by("created_at")
    assert charges.count() == 2
    assert charges[0].amount == Decimal("-0.5")
    assert charges[0].usage_record_id is None
    assert charges[0].request_id == old.pk
    assert HourlyUsage.objects.aggregate(n=Sum("requests"))["n"] == 2
    assert DailyUsage.objects.aggregate(cost=Sum("cost"))["cost"] == Decimal("1")


def test_prune_keeps_records_the_rollup_has_not_counted_yet(db, settings):
    settings.USAGE_RETENTION_DAYS = 30
    UsageRecordFactory(created_at=timezone.now() - timedelta(days=40))

    assert usage_prune() == 0
    usage_rollup_run()
    assert usage_prune() == 1


def test_retention_zero_keeps_everything(db, settings):
    settings.USAGE_RETENTION_DAYS = 0
    UsageRecordFactory(created_at=timezone.now() - timedelta(days=4000))
    usage_rollup_run()

    assert usage_prune() == 0
    assert UsageRecord.objects.count() == 1


def test_attempt_rows_past_their_retention_go_and_their_records_keep_their_attempts(db, settings):
    settings.ATTEMPT_RETENTION_DAYS = 7
    now = timezone.now()
    attempt = {"channel": "c", "provider": "openai", "outcome": "ok", "http_status": 200}
    old = record_with_attempts(attempts=[attempt, attempt], created_at=now - timedelta(days=8))
    recent = record_with_attempts(attempts=[attempt], created_at=now - timedelta(days=6))

    assert usage_attempts_prune(now=now) == 2

    assert list(UsageAttempt.objects.values_list("request_id", flat=True)) == [recent.pk]
    old.refresh_from_db()
    assert len(old.attempts) == 2


def test_attempt_retention_zero_keeps_every_row(db, settings):
    settings.ATTEMPT_RETENTION_DAYS = 0
    attempt = {"channel": "c", "provider": "openai", "outcome": "ok", "http_status": 200}
    record_with_attempts(attempts=[attempt], created_at=timezone.now() - timedelta(days=400))

    assert usage_attempts_prune() == 0
    assert UsageAttempt.objects.count() == 1

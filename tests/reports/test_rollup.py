"""The rollup: queued records summed per hour and day, late records in their own hour, once."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from billing.models import UsageRecord
from reports.models import (
    DailyDimensionUsage,
    DailyUsage,
    HourlyDimensionUsage,
    HourlyUsage,
    PendingUsage,
)
from reports.rollup import usage_rollup_run
from reports.tasks import rollup_usage
from tests.factories import UsageRecordFactory
from tests.reports.helpers import spread_records

START = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)


def test_every_new_record_is_queued_for_the_rollup(db):
    records = spread_records(START, count=5)

    assert sorted(PendingUsage.objects.values_list("record_id", flat=True)) == sorted(
        record.pk for record in records
    )


def test_rollup_sums_equal_the_raw_records_per_hour_and_day(db):
    spread_records(START, count=40)

    assert rollup_usage() == 40

    raw = UsageRecord.objects.aggregate(cost=Sum("cost"), prompt=Sum("prompt_tokens"))
    for rollup in (HourlyUsage, DailyUsage):
        sums = rollup.objects.aggregate(
            requests=Sum("requests"), cost=Sum("cost"), prompt=Sum("prompt_tokens")
        )
        assert sums == {"requests": 40, "cost": raw["cost"], "prompt": raw["prompt"]}
    assert PendingUsage.objects.count() == 0
    first_hour = HourlyUsage.objects.get(bucket=datetime(2026, 10, 1, 8, tzinfo=UTC))
    assert first_hour.requests == 1
    assert first_hour.prompt_tokens == 100


def test_a_late_record_lands_in_the_hour_it_started_and_is_counted_once(db):
    key = UsageRecordFactory(created_at=START + timedelta(hours=5), cost=Decimal("1")).key
    assert usage_rollup_run() == 1

    # Written after that run, but started hours earlier.
    UsageRecordFactory(created_at=START, key=key, cost=Decimal("2"), latency_ms=1200)
    assert usage_rollup_run() == 1
    assert usage_rollup_run() == 0

    early = HourlyUsage.objects.get(bucket=datetime(2026, 10, 1, 8, tzinfo=UTC))
    assert (early.requests, early.cost, early.latency_ms_sum) == (1, Decimal("2"), 1200)
    late = HourlyUsage.objects.get(bucket=datetime(2026, 10, 1, 13, tzinfo=UTC))
    assert (late.requests, late.cost) == (1, Decimal("1"))
    day = DailyUsage.objects.get()
    assert (day.bucket, day.requests, day.cost) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        2,
        Decimal("3"),
    )


def test_records_of_one_hour_and_dimensions_add_up_in_one_row(db):
    key = UsageRecordFactory(created_at=START).key
    usage_rollup_run()
    UsageRecordFactory(created_at=START + timedelta(minutes=5), key=key, latency_ms=30)
    usage_rollup_run(batch_size=1)

    row = HourlyUsage.objects.get()
    assert row.requests == 2
    assert row.lat_00 + row.lat_01 == 2  # both under 50 ms


def _by_dimension(model):
    return sorted(
        model.objects.values_list(
            "bucket", "dimension", "value", "requests", "cost", "lat_05", "cache_write_1h_tokens"
        )
    )


def test_dimension_rollups_hold_the_same_sums_per_value(db):
    records = spread_records(START, count=30)
    usage_rollup_run()

    totals = HourlyDimensionUsage.objects.filter(dimension="all")
    assert sum(row.requests for row in totals) == 30
    by_key = DailyDimensionUsage.objects.filter(dimension="key")
    assert {int(row.value) for row in by_key} == {record.key_id for record in records}
    channels = DailyDimensionUsage.objects.filter(dimension="channel")
    assert "0" in {row.value for row in channels}  # requests that reached no channel
    for dimension in ("model", "provider", "account"):
        rows = DailyDimensionUsage.objects.filter(dimension=dimension)
        assert sum(row.cost for row in rows) == sum(record.cost for record in records)


def test_the_migration_fills_the_endpoint_dimension_from_the_combined_rollups(db):
    spread_records(START, count=30)
    usage_rollup_run()
    expected = _by_dimension(HourlyDimensionUsage), _by_dimension(DailyDimensionUsage)
    for model in (HourlyDimensionUsage, DailyDimensionUsage):
        model.objects.filter(dimension="endpoint").delete()

    migration = importlib.import_module("reports.migrations.0005_endpoint_and_cache_writes")
    # The step uses no schema change: SQLite refuses to enter an editor in the test's transaction.
    migration.fill_endpoint_dimension(None, connection.schema_editor())

    assert (_by_dimension(HourlyDimensionUsage), _by_dimension(DailyDimensionUsage)) == expected
    endpoints = DailyDimensionUsage.objects.filter(dimension="endpoint")
    assert {row.value for row in endpoints} == {"chat", "messages"}

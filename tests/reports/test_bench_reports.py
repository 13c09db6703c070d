"""A small run of the reports benchmark: its data, rollup and requests all work (every request is
answered 200; how fast is the benchmark's to report, not this test's to assert)."""

import pytest
from django.db import connection
from django.db.models import Sum

from bench.reports.timing import run
from billing.models import UsageRecord
from billing.selectors import UsageFilters
from reports.models import DailyUsage, PendingUsage
from reports.selectors import usage_summary


def test_reports_benchmark_smoke(db):
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark generates its records with PostgreSQL's SQL (generate_series)")
    figures = run(records=3000, days=10, late=100, repeat=1)

    assert figures["records"] == 3100
    assert figures["pruned_records"] > 0
    assert figures["reports_unchanged_by_pruning"]
    assert figures["ledger_kept_by_pruning"]
    assert figures["late_records"] == 100
    assert PendingUsage.objects.count() == 0
    assert DailyUsage.objects.aggregate(n=Sum("requests"))["n"] == 3100
    assert len(figures["requests"]) > 30  # each one answered 200, or `run` raised
    total = usage_summary(filters=UsageFilters(), group_by="key").total
    assert total.requests == 3100  # pruned records stay counted in the rollups
    assert UsageRecord.objects.count() == 3100 - figures["pruned_records"]

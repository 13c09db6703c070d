"""Timed requests: every report query through the API and every dashboard page, as staff."""

import statistics
import time
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.reports.dataset import Dataset, generate
from billing.models import LedgerEntry, UsageRecord
from billing.selectors import UsageFilters
from reports.models import PendingUsage
from reports.retention import usage_prune
from reports.rollup import usage_rollup_run
from reports.selectors import usage_summary

TARGET_SECONDS = 0.5
REPORT_GROUPS = ("day", "model", "provider", "channel", "key", "account")


def _requests(data: Dataset) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, path, query) of every timed request."""
    end = data.end
    week = (end - timedelta(days=7, minutes=17)).isoformat()
    day = (end - timedelta(hours=24, minutes=5)).isoformat()
    key, account, channel = data.keys[0], data.accounts[0], data.channels[0]
    record_id = UsageRecord.objects.order_by("-created_at").values_list("pk", flat=True)[100]
    month = end.strftime("%Y-%m")
    reports = "/api/admin/reports/usage/"
    timed: list[tuple[str, str, dict[str, Any]]] = []
    for group in REPORT_GROUPS:
        timed.append(("report", reports, {"group_by": group}))
        timed.append(("report", reports, {"group_by": group, "since": week}))
        timed.append(
            ("report", reports, {"group_by": group, "since": day, "until": end.isoformat()})
        )
    timed += [
        ("report", reports, {"group_by": "day", "key": key.pk}),
        ("report", reports, {"group_by": "model", "account": account.pk, "status": "error"}),
        ("report", reports, {"group_by": "day", "channel": channel.pk, "since": week}),
        ("report", reports, {"group_by": "model", "format": "csv"}),
    ]
    for slug in ("24h", "7d", "30d", "90d"):
        timed.append(("page", "/dashboard/", {"range": slug}))
    timed += [
        ("page", "/dashboard/channels/", {}),
        ("page", "/dashboard/usage/", {}),
        ("page", "/dashboard/usage/", {"page": 20}),
        ("page", "/dashboard/usage/", {"key": key.pk}),
        ("page", "/dashboard/usage/", {"status": "error"}),
        ("page", "/dashboard/usage/", {"model": "openai/gpt-4o", "since": week[:16]}),
        ("page", "/dashboard/usage/", {"account": account.pk, "channel": channel.pk,
                                       "status": "cancelled"}),
        ("page", f"/dashboard/usage/{record_id}/", {}),
        ("page", "/dashboard/billing/", {}),
        ("page", f"/dashboard/billing/{account.pk}/", {"month": month}),
        ("page", f"/dashboard/billing/{account.pk}/statement.csv", {"month": month}),
        ("page", "/dashboard/keys/", {}),
    ]  # fmt: skip
    return timed


def _time(client: Client, path: str, query: dict[str, Any], repeat: int) -> list[float]:
    """Seconds per request, after one warm-up."""
    response = client.get(path, query)
    assert response.status_code == 200, (path, query, response.status_code)  # noqa: S101
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(path, query)
        seconds.append(time.perf_counter() - started)
    return seconds


def _late_records(data: Dataset, count: int) -> None:
    """Records written now but started up to two days ago: left queued for the rollup."""
    from bench.reports.dataset import INSERT_RECORDS

    params: dict[str, Any] = {
        "end": data.end,
        "span": 2 * 86400,
        "accounts": [key.account_id for key in data.keys],
        "key_ids": [key.pk for key in data.keys],
        "keys": len(data.keys),
        "models": ["openai/gpt-4o-mini"] * 8,
        "providers": [channel.provider for channel in data.channels],
        "channel_ids": [channel.pk for channel in data.channels],
        "channels": len(data.channels),
        "first": 900_000_001,
        "last": 900_000_000 + count,
    }
    with connection.cursor() as cursor:
        cursor.execute(INSERT_RECORDS, params)


def unchanged_and_kept(pruning: dict[str, Any]) -> bool:
    """Whether retention left the reports and the ledger as they were."""
    return bool(pruning["reports_unchanged_by_pruning"] and pruning["ledger_kept_by_pruning"])


def _prune(*, days: int) -> dict[str, Any]:
    """Retention over the big table: what it deleted, how long it took, and that the reports
    and the ledger did not change."""
    before = usage_summary(filters=UsageFilters(), group_by="model").total
    charges = LedgerEntry.objects.count()
    started = time.perf_counter()
    deleted = usage_prune(days=days)
    seconds = time.perf_counter() - started
    after = usage_summary(filters=UsageFilters(), group_by="model").total
    unchanged = (after.requests, after.cost) == (before.requests, before.cost)
    kept = LedgerEntry.objects.count() == charges
    print(
        f"retention ({days} days): deleted {deleted:,} records in {seconds:.1f} s; "
        f"reports unchanged: {unchanged}; ledger kept: {kept}"
    )
    return {
        "pruned_records": deleted,
        "prune_seconds": round(seconds, 1),
        "reports_unchanged_by_pruning": unchanged,
        "ledger_kept_by_pruning": kept,
    }


def run(*, records: int, days: int, late: int, repeat: int) -> dict[str, Any]:
    """Generate the data, roll it up, time every request; print a table and return the figures."""
    if UsageRecord.objects.exists():
        raise SystemExit("the database already holds usage records: use a throwaway database")
    print(f"generating {records:,} usage records over {days} days…", flush=True)
    data = generate(records=records, days=days, end=timezone.now())
    started = time.perf_counter()
    rolled = usage_rollup_run(batch_size=20_000)
    rollup_seconds = time.perf_counter() - started
    print(f"rolled up {rolled:,} records in {rollup_seconds:.1f} s", flush=True)
    _late_records(data, late)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    staff = User.objects.create_superuser("bench-staff")
    client = Client()
    client.force_login(staff)
    rows = []
    for kind, path, query in _requests(data):
        seconds = _time(client, path, query, repeat)
        rows.append({
            "kind": kind, "path": path, "query": query,
            "median_ms": round(1000 * statistics.median(seconds), 1),
            "max_ms": round(1000 * max(seconds), 1),
            "met": max(seconds) < TARGET_SECONDS,
        })  # fmt: skip
        mark = "met" if rows[-1]["met"] else "MISSED"
        shown = "&".join(f"{name}={value}" for name, value in query.items())
        median, slowest = rows[-1]["median_ms"], rows[-1]["max_ms"]
        print(f"{median:8.1f} ms  max {slowest:8.1f} ms  {mark:6}  {path}?{shown}")
    queued = PendingUsage.objects.count()
    started = time.perf_counter()
    usage_rollup_run()
    late_seconds = time.perf_counter() - started
    print(f"steady state: {queued:,} late records rolled up in {1000 * late_seconds:.0f} ms")
    records_count = UsageRecord.objects.count()
    pruning = _prune(days=days * 2 // 3)
    return {
        "records": records_count,
        "days": days,
        "insert_seconds": round(data.insert_seconds, 1),
        "rollup_seconds": round(rollup_seconds, 1),
        "rollup_records_per_second": round(rolled / rollup_seconds),
        "late_records": queued,
        "late_rollup_ms": round(1000 * late_seconds),
        **pruning,
        "target_ms": 1000 * TARGET_SECONDS,
        "requests": rows,
        "all_met": all(row["met"] for row in rows) and unchanged_and_kept(pruning),
    }

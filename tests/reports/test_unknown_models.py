"""Models no channel offers share one report bucket, `(unknown)`: client-chosen names cannot
grow the rollups, the records keep the names, and every total still adds up (issue #12.5)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from core.usage import UsageStatus
from reports.models import DailyDimensionUsage, DailyUsage, HourlyDimensionUsage, HourlyUsage
from reports.rollup import UNKNOWN_MODEL, dimension_upserts, unknown_models_fold, usage_rollup_run
from tests.factories import ApiKeyFactory, ChannelModelFactory, UsageRecordFactory

URL = "/api/admin/reports/usage/"
START = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
JUNK = 500


def refused(key, index, *, at=START, **fields):
    """A record of a request refused because no channel offers its (client-chosen) model."""
    options = {
        "key": key,
        "created_at": at + timedelta(seconds=index),
        "model": f'=HYPERLINK("http://evil.example/{index}","x")-{"z" * (index % 150)}',
        "served_model": "",
        "provider": "",
        "channel": None,
        "status": UsageStatus.ERROR,
        "http_status": 404,
        "error_code": "model_not_found",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": Decimal(0),
        "latency_ms": 3,
    }
    return UsageRecordFactory(**(options | fields))


@pytest.fixture
def junk(db):
    """500 distinct junk model names in one hour, beside served traffic, all rolled up."""
    key = ApiKeyFactory()
    served = [
        UsageRecordFactory(key=key, created_at=START + timedelta(minutes=minute), cost=Decimal(1))
        for minute in range(3)
    ]
    refusals = [refused(key, index) for index in range(JUNK)]
    usage_rollup_run()
    return key, served, refusals


def test_500_junk_models_make_one_rollup_bucket(junk):
    _key, _served, refusals = junk

    assert len({record.model for record in refusals}) == JUNK
    for rollup in (HourlyUsage, DailyUsage):
        assert set(rollup.objects.values_list("model", flat=True)) == {"gpt-4o-mini", UNKNOWN_MODEL}
        [bucket] = rollup.objects.filter(model=UNKNOWN_MODEL)
        assert (bucket.requests, bucket.errors) == (JUNK, JUNK)
    for rollup in (HourlyDimensionUsage, DailyDimensionUsage):
        models = rollup.objects.filter(dimension="model").values_list("value", "requests")
        assert dict(models) == {"gpt-4o-mini": 3, UNKNOWN_MODEL: JUNK}
    # The records keep the names the clients sent.
    assert UsageRecord.objects.filter(model=refusals[7].model).count() == 1


@pytest.mark.parametrize(
    "window",
    [{}, {"since": START + timedelta(minutes=1), "until": START + timedelta(hours=3)}],
    ids=["all", "raw-edge"],
)
def test_the_report_shows_one_bucket_and_totals_add_up(staff_client, junk, window):
    key, served, refusals = junk
    late = [refused(key, index, at=START + timedelta(hours=2)) for index in range(20)]  # queued
    since, until = window.get("since"), window.get("until")
    chosen = [
        r for r in [*served, *refusals, *late] if since is None or since <= r.created_at < until
    ]
    params = {"group_by": "model"} | {name: moment.isoformat() for name, moment in window.items()}

    body = staff_client.get(URL, params).json()

    rows = {row["group"]: row for row in body["rows"]}
    assert set(rows) == {"gpt-4o-mini", UNKNOWN_MODEL}
    unknown = [r for r in chosen if r.error_code == "model_not_found"]
    assert rows[UNKNOWN_MODEL]["requests"] == rows[UNKNOWN_MODEL]["errors"] == len(unknown)
    assert rows[UNKNOWN_MODEL]["name"] == UNKNOWN_MODEL
    assert body["total"]["requests"] == len(chosen) == sum(row["requests"] for row in rows.values())
    assert (
        Decimal(body["total"]["cost"]) == sum(r.cost for r in chosen) == len(chosen) - len(unknown)
    )


def test_filtering_by_the_bucket_or_by_a_junk_name(staff_client, junk):
    key, _served, refusals = junk
    refused(key, 0, at=START + timedelta(hours=5))  # a repeat of a name, not rolled up yet

    bucket = staff_client.get(URL, {"group_by": "day", "model": UNKNOWN_MODEL}).json()
    by_name = staff_client.get(URL, {"group_by": "model", "model": refusals[0].model}).json()
    served_only = staff_client.get(URL, {"group_by": "model", "model": "gpt-4o-mini"}).json()

    assert bucket["total"]["requests"] == JUNK + 1
    # A name inside the bucket is answered from its records, shown under the bucket.
    assert [(row["group"], row["requests"]) for row in by_name["rows"]] == [(UNKNOWN_MODEL, 2)]
    assert served_only["total"]["requests"] == 3


def test_which_records_fall_in_the_bucket(staff_client, db):
    key = ApiKeyFactory()
    ChannelModelFactory(model="offered-model")
    # Rate-limited before routing, but its model is offered: reported under its name.
    refused(key, 1, model="offered-model", error_code="rate_limit_exceeded", http_status=429)
    # Served by a channel: its name, whatever it looks like.
    refused(key, 2, model="-served-", served_model="up", error_code="", status="ok")
    # In the bucket: refused as unknown (even if a channel offers the name by now), a
    # malformed body naming a model no channel offers, no readable model at all.
    refused(key, 3, model="offered-model")
    refused(key, 4, model="@junk", error_code="invalid_request", http_status=400)
    refused(key, 5, model="", error_code="request_too_large", http_status=413)
    usage_rollup_run()

    rows = {
        row["group"]: row["requests"]
        for row in staff_client.get(URL, {"group_by": "model"}).json()["rows"]
    }

    assert rows == {"offered-model": 1, "-served-": 1, UNKNOWN_MODEL: 3}


def test_the_usage_list_keeps_the_raw_name(staff_client, junk):
    _key, _served, refusals = junk

    body = staff_client.get("/api/admin/usage/", {"model": refusals[3].model}).json()

    assert [record["model"] for record in body["results"]] == [refusals[3].model]


def test_rows_rolled_up_per_junk_name_before_the_bucket_are_merged_into_it(staff_client, db):
    key = ApiKeyFactory()
    ChannelModelFactory(model="offered-model")
    day = {"since": "2026-10-01T00:00:00Z", "until": "2026-10-02T00:00:00Z", "group_by": "model"}

    def old_row(model, requests, provider="", channel_id=0, cost=0):
        """A row as the rollup made it before the bucket, in the hourly and daily rollups."""
        fields = {"account_id": key.account_id, "key_id": key.pk, "status": "error",
                  "model": model, "provider": provider, "channel_id": channel_id,
                  "requests": requests, "errors": requests, "cost": Decimal(cost)}  # fmt: skip
        HourlyUsage.objects.create(bucket=START, **fields)
        DailyUsage.objects.create(bucket=START.replace(hour=0), **fields)

    for index in range(50):
        old_row(f"=junk{index}", 2)
    old_row(UNKNOWN_MODEL, 5)
    old_row("offered-model", 7)  # refused before routing, its model is offered: kept
    old_row("retired-model", 3, provider="openai", channel_id=9, cost="1.5")  # served: kept
    for source, target in (("hourly", HourlyDimensionUsage), ("daily", DailyDimensionUsage)):
        dimension_upserts(source=f"reports_{source}usage", prefix="", target=target)
    before = staff_client.get(URL, day).json()

    unknown_models_fold()

    expected = {UNKNOWN_MODEL: 105, "offered-model": 7, "retired-model": 3}
    for rollup in (HourlyUsage, DailyUsage):
        assert dict(rollup.objects.values_list("model", "requests")) == expected
    for rollup in (HourlyDimensionUsage, DailyDimensionUsage):
        dimension = rollup.objects.filter(dimension="model")
        assert dict(dimension.values_list("value", "requests")) == expected
        assert rollup.objects.get(dimension="all").requests == 115
    after = staff_client.get(URL, day).json()
    assert len(before["rows"]) == 53
    assert {row["group"]: row["requests"] for row in after["rows"]} == expected
    assert after["total"] == before["total"]
    assert after["total"]["requests"] == 115

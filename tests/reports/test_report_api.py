"""`/api/admin/reports/usage/`: totals equal the raw records, per group, as JSON and CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from reports.rollup import usage_rollup_run
from tests.factories import UsageRecordFactory
from tests.reports.helpers import FIGURES, raw_report, spread_records

URL = "/api/admin/reports/usage/"
START = datetime(2026, 10, 1, 7, 10, tzinfo=UTC)
GROUPS = ["day", "model", "provider", "channel", "key", "account", "endpoint"]


@pytest.fixture
def records(db):
    """Records over four days: most rolled up, the last ten still queued."""
    records = spread_records(START, count=60)
    UsageRecord.objects.filter(pk__in=[record.pk for record in records[-10:]]).delete()
    usage_rollup_run()
    return [*records[:-10], *spread_records(START + timedelta(minutes=97 * 50), count=10)]


def as_figures(row):
    return {name: row[name] for name in ("requests", "errors", *FIGURES)} | {
        "cost": Decimal(row["cost"])
    }


@pytest.mark.parametrize("group_by", GROUPS)
@pytest.mark.parametrize(
    ("since", "until"),
    [
        (None, None),
        (START + timedelta(minutes=50), START + timedelta(days=2, hours=5, minutes=7)),
        (START + timedelta(hours=30, minutes=1), START + timedelta(hours=30, minutes=59)),
    ],
    ids=["all", "days-hours-and-edges", "inside-one-hour"],
)
def test_report_rows_and_total_equal_the_raw_records(staff_client, records, group_by, since, until):
    params = {"group_by": group_by}
    if since:
        params |= {"since": since.isoformat(), "until": until.isoformat()}
    chosen = [r for r in records if since is None or since <= r.created_at < until]

    response = staff_client.get(URL, params)

    assert response.status_code == 200
    body = response.json()
    assert body["group_by"] == group_by
    expected = raw_report(chosen, group_by)
    assert {row["group"]: as_figures(row) for row in body["rows"]} == expected
    assert as_figures(body["total"]) == {
        "requests": len(chosen),
        "errors": sum(row["errors"] for row in expected.values()),
        "cost": sum((r.cost for r in chosen), Decimal(0)),
        **{name: sum(getattr(r, name) for r in chosen) for name in FIGURES},
    }


def test_report_applies_the_usage_filters(staff_client, records):
    key = records[0].key

    body = staff_client.get(URL, {"group_by": "model", "key": key.pk, "status": "ok"}).json()

    chosen = [r for r in records if r.key_id == key.pk and r.status == "ok"]
    assert body["total"]["requests"] == len(chosen) > 0
    assert {row["group"] for row in body["rows"]} == {r.model for r in chosen}


@pytest.mark.parametrize("group_by", ["model", "day", "endpoint"])
def test_report_filters_by_endpoint(staff_client, records, group_by):
    body = staff_client.get(URL, {"group_by": group_by, "endpoint": "messages"}).json()

    chosen = [r for r in records if r.endpoint == "messages"]
    assert 0 < len(chosen) < len(records)
    assert {row["group"]: as_figures(row) for row in body["rows"]} == raw_report(chosen, group_by)
    assert body["total"]["requests"] == len(chosen)
    assert body["total"]["cache_write_1h_tokens"] == sum(r.cache_write_1h_tokens for r in chosen)


def test_endpoint_groups_and_their_csv(staff_client, records):
    response = staff_client.get(URL, {"group_by": "endpoint", "format": "csv"})

    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert "usage-by-endpoint.csv" in response["Content-Disposition"]
    expected = raw_report(records, "endpoint")
    assert {line["group"]: int(line["requests"]) for line in lines} == {
        endpoint: sums["requests"] for endpoint, sums in expected.items()
    }
    assert {line["group"]: int(line["cache_write_tokens"]) for line in lines} == {
        endpoint: sums["cache_write_tokens"] for endpoint, sums in expected.items()
    }
    assert set(expected) == {"chat", "messages"}


def test_an_unknown_endpoint_is_400(staff_client, db):
    response = staff_client.get(URL, {"group_by": "day", "endpoint": "completions"})

    assert response.status_code == 400
    assert response.json()["endpoint"]


def test_key_and_channel_groups_carry_names(staff_client, records):
    body = staff_client.get(URL, {"group_by": "key"}).json()

    names = {row["group"]: row["name"] for row in body["rows"]}
    assert names[records[0].key_id] == f"{records[0].key.name} ({records[0].key.prefix}…)"
    channels = staff_client.get(URL, {"group_by": "channel"}).json()["rows"]
    assert None in {row["group"] for row in channels}  # requests that reached no channel


def test_csv_has_a_header_and_the_same_rows(staff_client, records):
    response = staff_client.get(URL, {"group_by": "model", "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "usage-by-model.csv" in response["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(lines[0]) == [
        "group", "name", "requests", "errors", "prompt_tokens", "completion_tokens",
        "cached_tokens", "reasoning_tokens", "cache_write_tokens", "cache_write_1h_tokens", "cost",
    ]  # fmt: skip
    expected = raw_report(records, "model")
    assert {line["group"]: int(line["requests"]) for line in lines} == {
        model: sums["requests"] for model, sums in expected.items()
    }
    assert sum(Decimal(line["cost"]) for line in lines) == sum(r.cost for r in records)


def test_bad_parameters_are_400_and_anonymous_is_401(staff_client, client, db):
    assert staff_client.get(URL, {"group_by": "week"}).status_code == 400
    assert staff_client.get(URL, {"group_by": "day", "since": "yesterday"}).status_code == 400
    assert client.get(URL, {"group_by": "day"}).status_code in (401, 403)


def test_an_empty_range_reports_zeros(staff_client, db):
    UsageRecordFactory(created_at=START)

    body = staff_client.get(
        URL, {"group_by": "day", "since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"}
    ).json()

    assert body["rows"] == []
    assert body["total"]["requests"] == 0
    assert body["total"]["cost"] == "0"

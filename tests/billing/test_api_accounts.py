"""Billing management API: accounts and credits."""

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from billing.models import Account, LedgerEntry
from tests.billing.api_helpers import ACCOUNTS, PAGE_FIELDS, account_url, credits_url
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- accounts


def test_account_list_is_paginated(staff_client: APIClient) -> None:
    for name in ("carol", "alice", "bob"):
        AccountFactory.create(name=name)

    response = staff_client.get(ACCOUNTS, {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_FIELDS
    assert body["count"] == 3
    assert body["previous"] is None
    assert "offset=2" in body["next"]
    assert len(body["results"]) == 2
    rest = staff_client.get(body["next"]).json()["results"]
    names = [a["name"] for a in body["results"] + rest]
    assert sorted(names) == ["alice", "bob", "carol"]
    assert all(a["balance"] == "0" for a in body["results"] + rest)


def test_account_create(staff_client: APIClient) -> None:
    response = staff_client.post(ACCOUNTS, {"name": "acme"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "acme"
    assert body["balance"] == "0"
    account = Account.objects.get(pk=body["id"])
    assert account.name == "acme"
    fetched = staff_client.get(account_url(account.pk))
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_account_create_ignores_balance(staff_client: APIClient) -> None:
    response = staff_client.post(ACCOUNTS, {"name": "rich", "balance": "1000"}, format="json")

    assert response.status_code == 201
    assert response.json()["balance"] == "0"
    assert Account.objects.get(name="rich").balance == 0


@pytest.mark.parametrize(
    "body", [pytest.param({}, id="missing"), pytest.param({"name": ""}, id="blank")]
)
def test_account_create_requires_name(staff_client: APIClient, body: dict[str, Any]) -> None:
    response = staff_client.post(ACCOUNTS, body, format="json")

    assert response.status_code == 400
    assert response.json()["name"]
    assert not Account.objects.exists()


def test_account_create_rejects_duplicate_name(staff_client: APIClient) -> None:
    AccountFactory.create(name="acme")

    response = staff_client.post(ACCOUNTS, {"name": "acme"}, format="json")

    assert response.status_code == 400
    assert response.json()["name"]
    assert Account.objects.filter(name="acme").count() == 1


@pytest.mark.parametrize("method", ["patch", "put"])
def test_account_balance_cannot_be_written(staff_client: APIClient, method: str) -> None:
    account = AccountFactory.create(name="acme")
    staff_client.post(credits_url(account.pk), {"amount": "5"}, format="json")

    response = getattr(staff_client, method)(
        account_url(account.pk), {"name": "acme", "balance": "1000000"}, format="json"
    )

    assert response.status_code == 405
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "5"
    account.refresh_from_db()
    assert account.balance == Decimal(5)


def test_account_unknown_is_404(staff_client: APIClient) -> None:
    response = staff_client.get(account_url(999_999))
    assert response.status_code == 404
    assert "detail" in response.json()


# ---------------------------------------------------------------- credits


def test_credit_returns_ledger_entry_with_new_balance(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")

    response = staff_client.post(
        credits_url(account.pk), {"amount": "25.50", "description": "invoice 42"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["account"] == account.pk
    assert body["kind"] == "credit"
    assert body["amount"] == "25.5"
    assert body["description"] == "invoice 42"
    assert body["balance"] == "25.5"
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "25.5"
    entry = LedgerEntry.objects.get(pk=body["id"])
    assert (entry.account_id, entry.amount) == (account.pk, Decimal("25.5"))


def test_balance_is_the_sum_of_credits(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")
    other = AccountFactory.create(name="other")
    amounts = ["10", "0.25", "100.005", "0.0000000001"]

    balances = []
    for amount in amounts:
        response = staff_client.post(credits_url(account.pk), {"amount": amount}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["description"] == ""
        balances.append(response.json()["balance"])
    staff_client.post(credits_url(other.pk), {"amount": "7"}, format="json")

    assert balances == ["10", "10.25", "110.255", "110.2550000001"]
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "110.2550000001"
    assert staff_client.get(account_url(other.pk)).json()["balance"] == "7"
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    assert total == sum(Decimal(a) for a in amounts)
    listed = {a["name"]: a["balance"] for a in staff_client.get(ACCOUNTS).json()["results"]}
    assert listed == {"acme": "110.2550000001", "other": "7"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"amount": "0"}, id="zero"),
        pytest.param({"amount": 0}, id="zero-number"),
        pytest.param({"amount": "-5"}, id="negative"),
        pytest.param({"amount": "ten"}, id="non-numeric"),
        pytest.param({"amount": ""}, id="blank"),
        pytest.param({"amount": None}, id="null"),
        pytest.param({"description": "no amount"}, id="missing"),
        pytest.param({"amount": "0.00000000001"}, id="below-precision"),
    ],
)
def test_credit_rejects_bad_amount(staff_client: APIClient, body: dict[str, Any]) -> None:
    account = AccountFactory.create(name="acme")

    response = staff_client.post(credits_url(account.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["amount"]
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "0"
    assert not LedgerEntry.objects.exists()


def test_credit_unknown_account_is_404(staff_client: APIClient) -> None:
    response = staff_client.post(credits_url(999_999), {"amount": "5"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not LedgerEntry.objects.exists()


def test_adjustments_and_refunds_are_ledger_entries_of_either_sign(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")
    staff_client.post(credits_url(account.pk), {"amount": "10"}, format="json")

    refund = staff_client.post(
        credits_url(account.pk),
        {"amount": "2.5", "kind": "adjustment", "description": "refund: outage"},
        format="json",
    )
    write_off = staff_client.post(
        credits_url(account.pk), {"amount": "-4", "kind": "adjustment"}, format="json"
    )
    zero = staff_client.post(
        credits_url(account.pk), {"amount": "0", "kind": "adjustment"}, format="json"
    )
    unknown = staff_client.post(
        credits_url(account.pk), {"amount": "1", "kind": "charge"}, format="json"
    )

    assert (refund.status_code, write_off.status_code) == (201, 201)
    assert (refund.json()["kind"], refund.json()["balance"]) == ("adjustment", "12.5")
    assert write_off.json()["balance"] == "8.5"
    assert (zero.status_code, unknown.status_code) == (400, 400)
    assert list(LedgerEntry.objects.order_by("id").values_list("kind", flat=True)) == [
        "credit",
        "adjustment",
        "adjustment",
    ]

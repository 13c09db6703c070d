"""Billing writes: the ledger keeps each balance equal to its sum; keys are stored hashed."""

import hashlib
from decimal import Decimal

import pytest
from django.db import IntegrityError

from billing.keys import KEY_SCHEME, hash_key, key_matches
from billing.models import ApiKey, LedgerKind
from billing.selectors import account_ledger_sum
from billing.services import (
    account_create,
    account_credit,
    api_key_create,
    api_key_revoke,
    api_key_update,
    ledger_post,
)
from tests.factories import UsageRecordFactory

pytestmark = pytest.mark.django_db


def test_balance_always_equals_the_ledger_sum():
    account = account_create(name="acme")

    account_credit(account=account, amount=Decimal("10.5"), description="top-up")
    account_credit(account=account, amount=Decimal("0.0000000001"))
    record = UsageRecordFactory(key__account=account)
    ledger_post(
        account=account, kind=LedgerKind.CHARGE, amount=Decimal("-0.25"), usage_record=record
    )
    ledger_post(account=account, kind=LedgerKind.ADJUSTMENT, amount=Decimal("-1"))

    account.refresh_from_db()
    assert account.balance == Decimal("9.2500000001")
    assert account.balance == account_ledger_sum(account=account)
    assert record.charge.amount == Decimal("-0.25")


@pytest.mark.parametrize("amount", [Decimal(0), Decimal(-5)])
def test_credit_must_be_positive(amount):
    account = account_create(name="acme")

    with pytest.raises(ValueError, match="positive"):
        account_credit(account=account, amount=amount)
    account.refresh_from_db()
    assert account.balance == 0
    assert account.ledger_entries.count() == 0


def test_a_usage_record_is_charged_at_most_once():
    account = account_create(name="acme")
    record = UsageRecordFactory(key__account=account)
    ledger_post(account=account, kind=LedgerKind.CHARGE, amount=Decimal("-1"), usage_record=record)

    with pytest.raises(IntegrityError):
        ledger_post(
            account=account, kind=LedgerKind.CHARGE, amount=Decimal("-1"), usage_record=record
        )


def test_key_is_stored_as_prefix_and_hash_never_in_the_clear():
    account = account_create(name="acme")

    key, secret = api_key_create(account=account, name="ci")

    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith(KEY_SCHEME)
    assert len(secret) >= len(KEY_SCHEME) + 43  # 32 random bytes, url-safe base64
    assert stored.key_hash != secret
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(stored.prefix)
    assert secret not in {value for value in vars(stored).values() if isinstance(value, str)}
    assert key_matches(secret, stored.key_hash)
    assert not key_matches(secret + "x", stored.key_hash)


def test_every_key_is_different():
    account = account_create(name="acme")

    secrets = {api_key_create(account=account, name=f"k{i}")[1] for i in range(20)}

    assert len(secrets) == 20
    assert len({hash_key(secret) for secret in secrets}) == 20


def test_revoke_is_permanent_and_keeps_the_first_time():
    account = account_create(name="acme")
    key, _ = api_key_create(account=account, name="ci")

    api_key_revoke(key=key)
    first = key.revoked_at
    api_key_revoke(key=key)

    key.refresh_from_db()
    assert key.revoked
    assert key.revoked_at == first


def test_setting_a_reset_period_starts_the_period():
    account = account_create(name="acme")
    key, _ = api_key_create(account=account, name="ci")
    assert key.period_started_at is None

    api_key_update(key=key, spend_limit=Decimal(5), limit_reset="daily")

    key.refresh_from_db()
    assert key.limit_reset == "daily"
    assert key.spend_limit == Decimal(5)
    assert key.period_started_at is not None

"""Reconcile proves completeness and solvency: unbilled journal entries, orphaned holds and
overdrawn budgets are each named, and `manage.py reconcile` exits 1 for them."""

import fcntl
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.journal import encode, journal_sweep, lock_path, segment_path
from billing.models import Account, Reservation, UsageDeadLetter, UsageRecord
from billing.reconcile import reconcile
from billing.services import account_create, account_credit, ledger_post, usage_records_save
from tests.factories import ApiKeyFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def journal_dir(tmp_path, settings):
    settings.GATEWAY_JOURNAL_DIR = tmp_path
    return Path(tmp_path)


@pytest.fixture
def key():
    account = account_create(name="acme")
    account_credit(account=account, amount=Decimal(10))
    return ApiKeyFactory(account=account)


def _hold_entry(key, request_id, *, at=None):
    return {
        "k": "hold",
        "id": request_id,
        "at": at or timezone.now(),
        "account": key.account_id,
        "key": key.pk,
        "model": "gpt-4o-mini",
        "prompt": 10,
        "amount": Decimal("0.01"),
    }


def _try_entry(request_id):
    return {
        "k": "try",
        "id": request_id,
        "channel": None,
        "provider": "openai",
        "served_model": "gpt-4o-mini",
        "input_price": Decimal(1),
        "output_price": Decimal(2),
        "cached_input_price": None,
        "chars": 0,
    }


def _journal(directory, instance, entries, *, alive=False):
    """A journal as a gateway process writes it; `alive` keeps its lock held (returns the fd)."""
    segment_path(directory, instance, 0).write_bytes(b"".join(encode(e) for e in entries))
    descriptor = os.open(lock_path(directory, instance), os.O_RDWR | os.O_CREAT)
    if alive:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return descriptor
    os.close(descriptor)
    return None


def test_clean_books_with_no_journal_pass(journal_dir, key):
    usage_records_save(records=[UsageRecordFactory.build(key=key, account=key.account)])

    assert reconcile().ok, reconcile().problems


def test_a_dead_process_journal_is_unbilled_until_swept(journal_dir, key):
    _journal(journal_dir, "host-1-dead", [_hold_entry(key, "req_lost"), _try_entry("req_lost")])

    result = reconcile()
    assert not result.ok
    assert any("request req_lost" in p and "process died" in p for p in result.problems)
    with pytest.raises(CommandError):
        call_command("reconcile")

    call_command("sweep_journals")
    record = UsageRecord.objects.get(pk="req_lost")
    assert (record.status, record.usage_source) == ("interrupted", "estimated")
    assert record.cost == Decimal("0.00001")  # 10 prompt tokens at 1 USD per 1M
    assert not list(journal_dir.iterdir()), "the swept journal is deleted"
    assert reconcile().ok, reconcile().problems


def test_a_live_process_request_open_too_long_is_named(journal_dir, key):
    long_ago = timezone.now() - timedelta(seconds=settings.GATEWAY_REQUEST_DEADLINE + 120)
    fresh = _hold_entry(key, "req_fresh")
    stale = _hold_entry(key, "req_stale", at=long_ago)
    descriptor = _journal(journal_dir, "host-2-live", [fresh, stale], alive=True)
    try:
        problems = "\n".join(reconcile().problems)
        assert "req_stale" in problems
        assert "req_fresh" not in problems, "a request in flight is no violation"
        assert journal_sweep(directory=journal_dir, reservations="database") == 0, "alive"
    finally:
        os.close(descriptor)


def test_orphaned_and_expired_database_holds_are_named(journal_dir, key):
    record = UsageRecordFactory.build(id="req_done", key=key, account=key.account)
    usage_records_save(records=[record])
    now = timezone.now()
    for request_id, expires in (("req_done", now + timedelta(minutes=5)), ("req_old", now)):
        Reservation.objects.create(
            id=request_id, account=key.account, key=key, amount=Decimal(1), expires_at=expires
        )

    problems = "\n".join(reconcile().problems)

    assert "reservation of request req_done is still held although its record is stored" in problems
    assert "reservation of request req_old expired" in problems
    assert f"account {key.account_id} reserves 0 but its reservations sum to 2" in problems


def test_a_redis_hold_of_a_stored_request_is_named(journal_dir, key, redis_url):
    usage_records_save(records=[UsageRecordFactory.build(id="req_r", key=key, account=key.account)])
    client = redis.Redis.from_url(redis_url)
    client.zadd(f"switchyard:budget:account:{key.account_id}:holds", {"req_r": 1})

    problems = "\n".join(reconcile().problems)

    assert "Redis still holds credit for request req_r" in problems


def test_an_overdrawn_account_and_a_key_past_its_limit_are_named(journal_dir, key):
    account = Account.objects.get(pk=key.account_id)
    ledger_post(account=account, kind="adjustment", amount=Decimal(-11))
    key.spend_limit, key.spend_in_period = Decimal(1), Decimal(2)
    key.save()

    problems = "\n".join(reconcile().problems)

    assert f"account {account.pk} (acme) is overdrawn: balance -1" in problems
    assert f"key {key.pk} ({key.name}) spent 2 of its 1 limit this period" in problems


def test_an_unresolved_dead_letter_is_named(journal_dir, key):
    UsageDeadLetter.objects.create(request_id="req_refused", record={}, error="value too long")

    problems = "\n".join(reconcile().problems)

    assert "usage record req_refused was refused by the database (dead letter)" in problems

"""The request journal: every step is on disk at once, old segments go once their records are
stored (open requests carried over), and what a dead process left is billed exactly once."""

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.journal import journal_sweep, read_journal
from billing.models import UsageDeadLetter, UsageRecord
from gateway.accounting import UsageDraft
from gateway.bridge import journal as journal_module
from gateway.bridge.journal import Journal
from gateway.schemas import Offer
from tests import journal_fixtures

pytestmark = pytest.mark.django_db
journal_dir, key = journal_fixtures.journal_dir, journal_fixtures.key

OFFER = Offer(
    channel_id=None,  # type: ignore[arg-type]
    channel_name="main",
    provider="openai",
    api_type="openai",
    base_url="http://127.0.0.1:1/v1",
    api_key="sk-upstream-secret",
    model="gpt-4o-mini",
    upstream_model="gpt-4o-mini",
    priority=0,
    weight=1,
    input_price=Decimal(1),
    output_price=Decimal(2),
    cached_input_price=None,
    first_token_timeout=60,
    timeout=300,
    status="healthy",
)


def _draft(key, request_id):
    return UsageDraft(
        id=request_id,
        created_at=datetime(2026, 12, 3, 12, tzinfo=UTC),
        account_id=key.account_id,
        key_id=key.pk,
        model="gpt-4o-mini",
        stream=True,
    )


def _segments(directory):
    return sorted(directory.glob("*.jsonl"))


def test_each_step_is_on_disk_before_the_call_returns(journal_dir, key):
    journal = Journal()
    journal.hold(_draft(key, "req_a"), prompt_tokens=12, amount=Decimal("0.5"))
    journal.attempt("req_a", OFFER)
    journal.relayed("req_a", 40)

    (segment,) = _segments(journal_dir)
    steps = read_journal([segment])["req_a"].steps
    assert (steps["prompt"], steps["channel_name"], steps["chars"]) == (12, "main", 40)
    assert "sk-upstream-secret" not in segment.read_text(), "no channel secret on disk"


def test_an_old_segment_goes_once_its_records_are_stored_and_open_requests_move_on(
    journal_dir, key, monkeypatch
):
    journal = Journal()
    journal.hold(_draft(key, "req_open"), prompt_tokens=5, amount=Decimal(1))
    journal.attempt("req_open", OFFER)
    done = _draft(key, "req_done")
    journal.hold(done, prompt_tokens=5, amount=Decimal(1))
    journal.end(done)
    (first,) = _segments(journal_dir)

    monkeypatch.setattr(journal_module, "SEGMENT_SECONDS", 0.0)
    journal.stored([])  # the segment is old: a new one starts, the old one still has req_done
    assert first.exists()
    journal.stored(["req_done"])

    (second,) = _segments(journal_dir)
    assert second != first
    assert not first.exists()
    carried = read_journal([second])
    assert set(carried) == {"req_open"}, "the open request is carried, the stored one is not"
    assert carried["req_open"].steps["channel_name"] == "main"


def test_a_clean_close_removes_the_journal_only_when_nothing_is_left_to_bill(journal_dir, key):
    journal = Journal()
    draft = _draft(key, "req_x")
    journal.hold(draft, prompt_tokens=5, amount=Decimal(1))
    journal.close()
    assert _segments(journal_dir), "an open request keeps the journal for the sweep"

    journal.end(draft)
    journal.stored(["req_x"])
    journal.close()
    assert not list(journal_dir.iterdir())


def test_a_dead_process_journal_is_billed_once_whatever_was_stored_before(journal_dir, key):
    journal = Journal()
    answered, lost = _draft(key, "req_answered"), _draft(key, "req_lost")
    for draft in (answered, lost):
        journal.hold(draft, prompt_tokens=8, amount=Decimal(1))
        journal.attempt(draft.id, OFFER)
    answered.serve(OFFER, answered.usage, estimated=False)
    answered.status, answered.http_status = "ok", 200
    journal.end(answered)
    journal.relayed("req_lost", 400)
    os.close(journal._lock_descriptor)  # the process "dies": its lock is free

    assert journal_sweep(directory=journal_dir, reservations="database") == 2
    assert journal_sweep(directory=journal_dir, reservations="database") == 0

    lost_record = UsageRecord.objects.get(pk="req_lost")
    assert lost_record.status == "interrupted"
    assert (lost_record.prompt_tokens, lost_record.completion_tokens) == (8, 100)
    assert lost_record.cost == Decimal("0.000208")  # 8 at 1 + 100 at 2 USD per 1M
    assert lost_record.charge.amount == -lost_record.cost
    assert UsageRecord.objects.get(pk="req_answered").status == "ok"


@pytest.mark.django_db(transaction=True)  # foreign keys are checked at commit
def test_a_swept_record_the_database_refuses_becomes_a_dead_letter(journal_dir, key):
    journal = Journal()
    draft = _draft(key, "req_orphan")
    draft.account_id = 999_999  # its account is gone: the database refuses the record
    journal.hold(draft, prompt_tokens=8, amount=Decimal(1))
    journal.end(draft)
    os.close(journal._lock_descriptor)

    assert journal_sweep(directory=journal_dir, reservations="database") == 0

    letter = UsageDeadLetter.objects.get(request_id="req_orphan")
    assert letter.resolved_at is None
    assert not list(journal_dir.iterdir()), "the journal does not block later sweeps"


def test_a_full_segment_goes_on_in_a_new_one(journal_dir, key, monkeypatch):
    monkeypatch.setattr(journal_module, "SEGMENT_CAPACITY", 4096)
    journal = Journal()
    for n in range(40):
        journal.hold(_draft(key, f"req_{n}"), prompt_tokens=5, amount=Decimal(1))

    segments = _segments(journal_dir)
    assert len(segments) > 1
    assert set(read_journal(segments)) == {f"req_{n}" for n in range(40)}

"""The request journal on local disk: its format, and the billing of a dead process's journal.

Each gateway process appends one JSON line per step of a request to its own journal before the
step's effect can matter — `hold` before credit is reserved, `try` before an upstream is
called, `relayed` as a stream goes, `end` with the finished usage record before the client gets
the last byte — and holds an exclusive lock on its lock file while it lives. Lines reach the
kernel with each write, so a SIGKILL or an OOM kill loses none of them. A journal whose lock is
free belongs to a process that died: `journal_sweep` stores each of its requests' record
(the `end` one, else `status: interrupted` with usage estimated from what was relayed), charges
it, gives back its holds, and deletes the journal. Records already stored are skipped, so a
sweep can be repeated safely.
"""

import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
from django.db import DataError, IntegrityError

from billing.budget_mirror import budget_observed, holds_released
from billing.models import UsageRecord, UsageSource
from billing.pricing import Prices, usage_cost
from billing.services import usage_dead_letter_save, usage_record_from_json, usage_records_save
from core.usage import Endpoint, Usage, UsageStatus
from core.write_lock import serialized_writes

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
SEGMENT_SUFFIX = ".jsonl"
CHARS_PER_TOKEN = 4
BATCH = 50
INTERRUPTED = "the gateway process ended before the request did"


def segment_path(directory: Path, instance: str, number: int) -> Path:
    """The journal file `number` of process `instance`."""
    return directory / f"{instance}.{number:06d}{SEGMENT_SUFFIX}"


def lock_path(directory: Path, instance: str) -> Path:
    """The lock file process `instance` holds while it lives."""
    return directory / f"{instance}{LOCK_SUFFIX}"


def encode(entry: dict[str, Any]) -> bytes:
    """One journal line (money as decimal strings, times as ISO 8601)."""
    return orjson.dumps(entry, default=str) + b"\n"


@dataclass(slots=True)
class JournaledRequest:
    """What a journal says of one request: its steps merged, and its record if it ended."""

    id: str
    steps: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] | None = None


def read_journal(paths: list[Path]) -> dict[str, JournaledRequest]:
    """The requests of a process's journal files, read in order; a torn last line (the process
    died while writing it) is skipped."""
    requests: dict[str, JournaledRequest] = {}
    for path in paths:
        for line in path.read_bytes().rstrip(b"\0").splitlines():  # zeros: not written yet
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            request = requests.setdefault(entry["id"], JournaledRequest(entry["id"]))
            if entry["k"] == "end":
                request.record = entry["record"]
            else:
                request.steps.update(entry)
    return requests


def _price(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _interrupted(request: JournaledRequest) -> UsageRecord:
    """The record of a request the dead process never finished: billed for what it sent and
    what was relayed (an estimate), on the channel of its last attempt."""
    steps = request.steps
    record = UsageRecord(
        id=request.id,
        created_at=datetime.fromisoformat(steps["at"]),
        account_id=steps["account"],
        key_id=steps["key"],
        model=steps.get("model", ""),
        stream=steps.get("stream", False),
        user=steps.get("user", ""),
        endpoint=steps.get("endpoint", Endpoint.CHAT),
        status=UsageStatus.INTERRUPTED,
        http_status=0,
        error_code="interrupted",
    )
    if "channel" not in steps:
        return record  # no upstream was called: nothing to bill
    usage = Usage(
        prompt_tokens=steps.get("prompt", 0),
        completion_tokens=-(-steps.get("chars", 0) // CHARS_PER_TOKEN),
    )
    prices = Prices(
        input=Decimal(steps["input_price"]),
        output=Decimal(steps["output_price"]),
        cached_input=_price(steps.get("cached_input_price")),
        cache_write=_price(steps.get("cache_write_price")),
        cache_write_1h=_price(steps.get("cache_write_1h_price")),
    )
    record.served_model = steps.get("served_model", "")
    record.provider = steps.get("provider", "")
    record.channel_id = steps["channel"]
    record.prompt_tokens, record.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    record.usage_source = UsageSource.ESTIMATED
    record.input_price, record.output_price = prices.input, prices.output
    record.cached_input_price = prices.cached_input
    record.cache_write_price = prices.cache_write_rate()
    record.cache_write_1h_price = prices.cache_write_1h_rate()
    record.cost = usage_cost(usage, prices)
    record.attempts = [
        {
            "channel": steps.get("channel_name", ""),
            "provider": record.provider,
            "outcome": "interrupted",
            "http_status": None,
            "latency_ms": 0,
            "error": INTERRUPTED,
        }
    ]
    return record


def journal_records(requests: dict[str, JournaledRequest]) -> list[UsageRecord]:
    """One usage record per journaled request."""
    return [
        usage_record_from_json(request.record)
        if request.record is not None
        else _interrupted(request)
        for request in requests.values()
        if request.record is not None or "account" in request.steps
    ]


def _instances(directory: Path) -> Iterator[str]:
    if directory.is_dir():
        for path in sorted(directory.glob(f"*{LOCK_SUFFIX}")):
            yield path.name.removesuffix(LOCK_SUFFIX)


def _segments(directory: Path, instance: str) -> list[Path]:
    return sorted(directory.glob(f"{instance}.*{SEGMENT_SUFFIX}"))


def _try_lock(path: Path) -> int | None:
    """The lock file's descriptor, locked, if no live process holds it; else None."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


@dataclass(frozen=True, slots=True)
class UnbilledRequest:
    """A journaled request without a stored record, as reconcile reports it."""

    instance: str
    request_id: str
    why: str


DIED = "its gateway process died; the next journal sweep bills it"
OVERDUE = "still open in a live process, longer than any request may run"


def unbilled_requests(directory: Path, *, older_than: datetime) -> list[UnbilledRequest]:
    """The requests of the journals in `directory` that have no stored record: every one of a
    process that died, and those a live process opened before `older_than` (reads only)."""
    found = []
    for instance in _instances(directory):
        descriptor = _try_lock(lock_path(directory, instance))
        try:
            requests = read_journal(_segments(directory, instance))
        finally:
            if descriptor is not None:
                os.close(descriptor)
        if descriptor is None:  # alive: only requests open for too long
            requests = {
                request_id: request
                for request_id, request in requests.items()
                if request.record is None
                and "at" in request.steps
                and datetime.fromisoformat(request.steps["at"]) < older_than
            }
        stored = set(UsageRecord.objects.filter(pk__in=list(requests)).values_list("pk", flat=True))
        why = OVERDUE if descriptor is None else DIED
        found += [
            UnbilledRequest(instance, request_id, why)
            for request_id, request in requests.items()
            if request_id not in stored and (request.record is not None or request.steps)
        ]
    return found


def journal_sweep(*, directory: Path, reservations: Literal["database", "redis"]) -> int:
    """Bill every journal in `directory` whose process died, then delete it; return how many
    records were stored. Two sweepers never take the same journal (its lock); a journal that
    cannot be billed now (the database is down) stays for the next sweep, the others go on."""
    stored = 0
    for instance in _instances(directory):
        descriptor = _try_lock(lock_path(directory, instance))
        if descriptor is None:
            continue
        try:
            stored += _bill(directory, instance, reservations)
        except Exception:
            logger.exception("billing the journal of stopped gateway process %s failed", instance)
        finally:
            os.close(descriptor)
    return stored


def _bill(directory: Path, instance: str, reservations: Literal["database", "redis"]) -> int:
    """Store one dead process's records, give back its holds and delete its journal."""
    segments = _segments(directory, instance)
    records = journal_records(read_journal(segments))
    stored = 0
    for start in range(0, len(records), BATCH):
        stored += _store(records[start : start + BATCH], reservations)
    holds_released([(r.pk, r.account_id, r.key_id) for r in records])
    for path in segments:
        path.unlink(missing_ok=True)
    lock_path(directory, instance).unlink(missing_ok=True)
    if records:
        logger.warning(
            "billed the journal of stopped gateway process %s: %d requests, %d new records",
            instance,
            len(records),
            stored,
        )
    return stored


def _store(records: list[UsageRecord], reservations: Literal["database", "redis"]) -> int:
    """Store a batch with its charges; a record whose channel is gone is stored without it, and
    one the database still refuses becomes a dead letter (never lost, never blocking the rest)."""
    try:
        return _save(records, reservations)
    except (IntegrityError, DataError):
        count = 0
        for record in records:
            try:
                count += _save([record], reservations)
            except (IntegrityError, DataError):
                record.channel_id = None
                try:
                    count += _save([record], reservations)
                except (IntegrityError, DataError) as error:
                    usage_dead_letter_save(fields=_fields(record), error=error)
        return count


def _fields(record: UsageRecord) -> dict[str, Any]:
    return {field.attname: getattr(record, field.attname) for field in record._meta.concrete_fields}


def _save(records: list[UsageRecord], reservations: Literal["database", "redis"]) -> int:
    with serialized_writes():
        written = usage_records_save(records=records, reservations=reservations)
    budget_observed(accounts=written.accounts, keys=written.keys)
    return len(written.requests)

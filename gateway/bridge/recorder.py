"""Writes usage records off the request path: a queue drained by one writer thread in batches.

Requests only enqueue (no I/O). The thread stores each batch with its ledger charges in one
transaction, which also gives back the requests' reservations (Redis ones right after it
commits), and retries a failed batch, so nothing is lost while the process lives; at exit
(SIGTERM under uvicorn ends in a normal interpreter exit) the queue is drained first.
"""

import asyncio
import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import DataError, IntegrityError, close_old_connections, connections

from billing.models import UsageRecord
from billing.services import usage_dead_letter_save, usage_records_save
from core.write_lock import serialized_writes
from gateway.accounting import UsageDraft
from gateway.bridge.journal import journal
from gateway.bridge.reservations import reservations
from gateway.threads import OnDemandThread

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
LINGER_SECONDS = 0.25
TRANSACTION_SIZE = 50
"""Records per transaction: on SQLite every reservation waits for the writer before it, so a
batch is stored in short transactions rather than one long one."""
RETRY_SECONDS = 1.0
READ_WAIT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


class UsageRecorder:
    """One writer thread per process, started on first use."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[UsageDraft | _Flush | None] = queue.SimpleQueue()
        self._thread = OnDemandThread(self._run, name="usage-recorder")

    def submit(self, draft: UsageDraft) -> None:
        """Queue a finished request's draft; returns at once."""
        self._thread.ensure()
        self._queue.put(draft)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is stored; False on timeout."""
        self._thread.ensure()
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout)

    async def written(self) -> None:
        """Wait (off the event loop, READ_WAIT_SECONDS at most) until what this process
        submitted so far is stored, so that a read which follows sees it."""
        await asyncio.to_thread(self.flush, READ_WAIT_SECONDS)

    def stop(self) -> None:
        """Store what is queued, then end the thread (called at interpreter exit)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        running = True
        while running:
            batch, flushes, running = self._next_batch()
            for start in range(0, len(batch), TRANSACTION_SIZE):
                self._store(batch[start : start + TRANSACTION_SIZE])
            for flush in flushes:
                flush.done.set()
        connections.close_all()

    def _next_batch(self) -> tuple[list[UsageDraft], list[_Flush], bool]:
        """Wait for work, then gather more for up to LINGER_SECONDS (fewer, larger writes);
        a flush or stop request ends the gathering at once."""
        batch: list[UsageDraft] = []
        flushes: list[_Flush] = []
        item = self._queue.get()
        deadline = time.monotonic() + LINGER_SECONDS
        while True:
            if item is None:
                return batch, flushes, False
            if isinstance(item, _Flush):
                flushes.append(item)
            else:
                batch.append(item)
            remaining = deadline - time.monotonic()
            if flushes or len(batch) >= BATCH_SIZE or remaining <= 0:
                return batch, flushes, True
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return batch, flushes, True

    def _store(self, batch: list[UsageDraft]) -> None:
        """Store a batch; wait out database outages, set aside a record the database refuses."""
        resets = {draft.key_id: draft.limit_reset for draft in batch}
        try:
            self._save_retrying([UsageRecord(**draft.record_fields()) for draft in batch], resets)
        except (IntegrityError, DataError):
            for draft in batch:
                try:
                    self._save_retrying([UsageRecord(**draft.record_fields())], resets)
                except (IntegrityError, DataError) as refusal:
                    logger.exception("usage record refused by the database: %r", draft)
                    # Set it aside for an operator's retry (admin, dashboard warning), waiting
                    # out outages like the records themselves; once it is stored the journal
                    # no longer needs it.
                    while True:
                        try:
                            close_old_connections()
                            with serialized_writes():
                                usage_dead_letter_save(fields=draft.record_fields(), error=refusal)
                        except (IntegrityError, DataError):
                            logger.exception("dead letter refused too; record lost: %r", draft)
                        except Exception:
                            logger.exception("dead-lettering %s failed; retrying", draft.id)
                            time.sleep(RETRY_SECONDS)
                            continue
                        else:
                            journal.stored([draft.id])
                        break

    @staticmethod
    def _save_retrying(records: list[UsageRecord], limit_resets: dict[int, str]) -> None:
        backend = reservations()
        while True:
            try:
                close_old_connections()
                with serialized_writes():
                    written = usage_records_save(
                        records=records, reservations=backend.name, limit_resets=limit_resets
                    )
                break
            except (IntegrityError, DataError):
                raise
            except Exception:
                logger.exception("storing %d usage records failed; retrying", len(records))
                time.sleep(RETRY_SECONDS)
        backend.settled(written)
        journal.stored(record.pk for record in records)


recorder = UsageRecorder()
atexit.register(recorder.stop)

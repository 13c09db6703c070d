"""Reservations in the database (installs without Redis), off the event loop, many per transaction.

Requests queue their holds and await a future; one thread takes whatever has queued and
reserves it all in one transaction (`billing.reservations.reserve_in_database`), then wakes
each request with its outcome. At low load that is one transaction per request; under load a
few hundred requests share one, where a thread hop and a transaction each would queue behind
SQLite's single writer.
"""

import asyncio
import logging
import queue
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from billing.budgets import Hold, Refusal
from billing.reservations import reserve_in_database
from billing.services import UsageWritten
from gateway.bridge.reservations.base import Reservations, ReservationsUnavailable
from gateway.schemas import KeyContext
from gateway.threads import OnDemandThread

logger = logging.getLogger(__name__)

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class _Pending:
    hold: Hold
    future: "asyncio.Future[Refusal | None]"
    loop: asyncio.AbstractEventLoop


def _settle(pending: _Pending, outcome: Refusal | BaseException | None) -> None:
    """Give a waiting request its outcome, on its own loop (a request gone since is skipped)."""

    def settle() -> None:
        if pending.future.done():
            return
        if isinstance(outcome, BaseException):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)

    pending.loop.call_soon_threadsafe(settle)


class DatabaseReservations(Reservations):
    """One reserving thread per process, started on first use; usage batches give the holds
    back in their own transaction."""

    name = "database"

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread = OnDemandThread(self._run, name="budget-reserver")

    async def reserve(self, hold: Hold, key: KeyContext, now: datetime) -> Refusal | None:
        """Hold `hold.amount` against its account and key; None when held, else why not."""
        loop = asyncio.get_running_loop()
        pending = _Pending(hold, loop.create_future(), loop)
        self._thread.ensure()
        self._queue.put(pending)
        try:
            return await pending.future
        except DatabaseError as error:
            raise ReservationsUnavailable(str(error)) from None

    def settled(self, written: UsageWritten) -> None:
        """Nothing: the batch's transaction took its reservation rows."""

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._reserve(batch)

    @staticmethod
    def _reserve(batch: list[_Pending]) -> None:
        try:
            close_old_connections()
            holds = [pending.hold for pending in batch]
            outcomes = reserve_in_database(holds=holds, now=timezone.now())
        except Exception as error:  # every waiting request fails with the database's error
            logger.exception("reserving %d requests' budgets failed", len(batch))
            for pending in batch:
                _settle(pending, error)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

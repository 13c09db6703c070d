"""The contract of a reservation backend: where the worst-case holds of requests in flight live.

A request holds its worst-case cost before any upstream is called; writing its usage record
charges the actual cost and gives the hold back. One backend serves a process, chosen once
(`gateway.bridge.reservations.reservations`), as Django chooses a cache backend.
"""

from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar, Literal

from billing.budgets import Hold, Refusal
from billing.services import UsageWritten
from gateway.schemas import KeyContext


class ReservationsUnavailable(Exception):
    """The backend cannot answer now (its store is unreachable or resynchronising)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Reservations(ABC):
    """Holds against an account's balance and a key's remaining limit."""

    name: ClassVar[Literal["database", "redis"]]
    """Which holds `billing.services.usage_records_save` gives back in its own transaction."""

    @abstractmethod
    async def reserve(self, hold: Hold, key: KeyContext, now: datetime) -> Refusal | None:
        """Hold `hold.amount` against the key's account and its remaining limit, atomically;
        None when held, else why not. Raises ReservationsUnavailable."""

    @abstractmethod
    def settled(self, written: UsageWritten) -> None:
        """After a usage batch committed (any thread): give back what its transaction did not."""

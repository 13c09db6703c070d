"""The process's reservation backend, chosen once: Redis with REDIS_URL, else the database."""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from gateway.bridge.reservations.base import Reservations, ReservationsUnavailable
from gateway.bridge.reservations.database import DatabaseReservations
from gateway.bridge.reservations.redis import RedisReservations

__all__ = ["Reservations", "ReservationsUnavailable", "reservations"]

_chosen: list[Reservations] = []
_database: list[DatabaseReservations] = []
"""The one database backend: its reserving thread keeps a connection of the pool, so tests that
switch back and forth must not leave one behind each time."""


def reservations() -> Reservations:
    """The backend every request of this process reserves with."""
    if not _chosen:
        if settings.REDIS_URL:
            _chosen.append(RedisReservations())
        else:
            if not _database:
                _database.append(DatabaseReservations())
            _chosen.append(_database[0])
    return _chosen[0]


@receiver(setting_changed)
def _choose_again(*, setting: str, **kwargs: Any) -> None:
    """A test that changes REDIS_URL gets the other backend (as Django's caches follow CACHES)."""
    if setting == "REDIS_URL":
        _chosen.clear()

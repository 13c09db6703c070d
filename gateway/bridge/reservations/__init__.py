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


def reservations() -> Reservations:
    """The backend every request of this process reserves with."""
    if not _chosen:
        _chosen.append(RedisReservations() if settings.REDIS_URL else DatabaseReservations())
    return _chosen[0]


@receiver(setting_changed)
def _choose_again(*, setting: str, **kwargs: Any) -> None:
    """A test that changes REDIS_URL gets the other backend (as Django's caches follow CACHES)."""
    if setting == "REDIS_URL":
        _chosen.clear()

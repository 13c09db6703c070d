"""The process's configuration-change backend, chosen once: Redis pub/sub with REDIS_URL, else
within the process; and `changed`, which every writer of channels, models, prices and keys
calls so that the notice goes out once its transaction commits."""

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver

from core.config_changes.base import CATALOG, EVERYTHING, ConfigChanges, Deliver, Notice
from core.config_changes.local import LocalConfigChanges
from core.config_changes.redis import RedisConfigChanges

__all__ = [
    "CATALOG",
    "EVERYTHING",
    "ConfigChanges",
    "Deliver",
    "Notice",
    "changed",
    "config_changes",
    "key_changed",
]

_chosen: list[ConfigChanges] = []


def config_changes() -> ConfigChanges:
    """The backend this process publishes and follows notices with."""
    if not _chosen:
        _chosen.append(RedisConfigChanges() if settings.REDIS_URL else LocalConfigChanges())
    return _chosen[0]


@receiver(setting_changed)
def _choose_again(*, setting: str, **kwargs: Any) -> None:
    """A test that changes REDIS_URL gets the other backend."""
    if setting == "REDIS_URL":
        _chosen.clear()


class _Pending(threading.local):
    """Notices waiting for their transaction on this thread (its connection)."""

    def __init__(self) -> None:
        self.notices: set[Notice] = set()


_pending = _Pending()


def changed(notice: Notice, *, using: str | None = None) -> None:
    """Publish `notice` once the current transaction commits (at once outside one); a burst of
    the same notice in one transaction (a channel's models replaced) is published once."""
    _pending.notices.add(notice)
    transaction.on_commit(lambda: _publish_pending(notice), using=using)


def key_changed(key_hash: str, *, using: str | None = None) -> None:
    """`changed` for one API key, by its hash."""
    changed(Notice("key", key_hash), using=using)


def _publish_pending(notice: Notice) -> None:
    # Each change schedules its own callback (one discarded with a rolled-back savepoint leaves
    # the others); the first to run publishes, the rest find it already sent.
    if notice in _pending.notices:
        _pending.notices.discard(notice)
        config_changes().publish(notice)

"""Cache affinity: requests of one conversation go to the channel that served it last, while
that channel is healthy and its prompt cache alive. The store is chosen once per process:
Redis with REDIS_URL (shared by every process), else in this process."""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from gateway.affinity.base import AffinityStore
from gateway.affinity.conversation import Conversation, conversation_of
from gateway.affinity.local import LocalAffinity
from gateway.affinity.redis import RedisAffinity

__all__ = ["AffinityStore", "Conversation", "affinity_store", "conversation_of"]

_chosen: list[AffinityStore] = []


def affinity_store() -> AffinityStore:
    """The store every request of this process asks and tells."""
    if not _chosen:
        _chosen.append(RedisAffinity() if settings.REDIS_URL else LocalAffinity())
    return _chosen[0]


@receiver(setting_changed)
def _choose_again(*, setting: str, **kwargs: Any) -> None:
    """A test that changes REDIS_URL gets the other store."""
    if setting == "REDIS_URL":
        _chosen.clear()

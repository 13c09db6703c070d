"""Affinity in this process (the embedded default): a bounded LRU whose entries expire."""

import threading
import time
from collections import OrderedDict

from django.conf import settings

from gateway.affinity.base import AffinityStore
from gateway.affinity.conversation import Conversation


class LocalAffinity(AffinityStore):
    """At most GATEWAY_CACHE_AFFINITY_ENTRIES conversations; the least recently used go first."""

    name = "local"

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    async def last_channel(self, conversation: Conversation) -> int | None:
        """The channel kept for the conversation, unless its life is over."""
        with self._lock:
            entry = self._entries.get(conversation.key)
            if entry is None:
                return None
            if entry[1] <= time.monotonic():
                del self._entries[conversation.key]
                return None
            return entry[0]

    async def remember(self, conversation: Conversation, channel_id: int) -> None:
        """Keep the channel for the conversation's life, as the most recently used entry."""
        with self._lock:
            self._entries[conversation.key] = (channel_id, time.monotonic() + conversation.life)
            self._entries.move_to_end(conversation.key)
            while len(self._entries) > max(1, settings.GATEWAY_CACHE_AFFINITY_ENTRIES):
                self._entries.popitem(last=False)

    def forget_all(self) -> None:
        """Forget every conversation."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

"""The contract of a configuration-change backend: how a change of channels, models, prices or
keys reaches every gateway process at once, so that none serves from a stale cache.

A notice says only what to drop, never what the new configuration is: a process that receives
one reloads from the database (the truth). One backend serves a process, chosen once
(`core.config_changes.config_changes`), as Django chooses a cache backend. Notices are a
shortcut, not a guarantee: a process that misses one still catches up by polling
(GATEWAY_CATALOG_SECONDS, GATEWAY_AUTH_CACHE_SECONDS).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

Kind = Literal["catalog", "key", "everything"]


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed: the catalog (channels, their models and prices), one key (by its hash), or
    everything (after a follower may have missed notices)."""

    kind: Kind
    key_hash: str = ""

    def encode(self) -> str:
        """The notice as the text sent between processes."""
        return f"key:{self.key_hash}" if self.kind == "key" else self.kind

    @classmethod
    def decode(cls, text: str) -> "Notice":
        """The notice sent as `text`; anything unknown means everything (safe: a reload)."""
        if text == "catalog":
            return CATALOG
        kind, _, key_hash = text.partition(":")
        if kind == "key" and key_hash:
            return cls("key", key_hash)
        return EVERYTHING


CATALOG = Notice("catalog")
EVERYTHING = Notice("everything")

Deliver = Callable[[Notice], None]
"""Called on the follower's event loop with each notice."""


class ConfigChanges(ABC):
    """Publishes notices, and follows them on a process's serving loop."""

    name: ClassVar[Literal["local", "redis"]]

    @abstractmethod
    def publish(self, notice: Notice) -> None:
        """Send `notice` to every follower (sync, from any thread); never raises: a notice that
        cannot be sent is logged, and polling catches up."""

    @abstractmethod
    async def follow(self, deliver: Deliver) -> None:
        """Call `deliver` with every notice published from now on, until cancelled; after it may
        have missed some (a reconnection), with EVERYTHING."""

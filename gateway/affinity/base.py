"""The contract of an affinity store: which channel served a conversation last.

An entry lives as long as the conversation's upstream cache (`Conversation.life`) after its
last use; every store is bounded in memory. One store serves a process, chosen once
(`gateway.affinity.affinity_store`); a store that cannot answer answers "unknown", never an
error: affinity is an optimisation, a request never fails for it.
"""

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

from gateway.affinity.conversation import Conversation


class AffinityStore(ABC):
    """Conversation → the channel that served it last."""

    name: ClassVar[Literal["local", "redis"]]

    @abstractmethod
    async def last_channel(self, conversation: Conversation) -> int | None:
        """The channel id that served the conversation within its cache life, else None."""

    @abstractmethod
    async def remember(self, conversation: Conversation, channel_id: int) -> None:
        """`channel_id` served the conversation now: keep it for the conversation's life."""

    @abstractmethod
    def forget_all(self) -> None:
        """Forget every conversation this store can reach from here (tests)."""

"""Affinity in Redis, shared by every gateway process: one key per conversation, its TTL the
conversation's cache life (set again at each use), so Redis holds only live conversations."""

import logging

import redis

from core.redis import async_redis, sync_redis
from gateway.affinity.base import AffinityStore
from gateway.affinity.conversation import Conversation

logger = logging.getLogger(__name__)

PREFIX = "switchyard:affinity:"


class RedisAffinity(AffinityStore):
    """One GET before routing, one SET with EX after the answer."""

    name = "redis"

    async def last_channel(self, conversation: Conversation) -> int | None:
        """The channel Redis keeps for the conversation; None when unknown or Redis fails."""
        client = async_redis()
        if client is None:
            return None
        try:
            value = await client.get(PREFIX + conversation.key)
        except redis.RedisError as error:
            logger.debug("cache affinity: no lookup (%s)", type(error).__name__)
            return None
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    async def remember(self, conversation: Conversation, channel_id: int) -> None:
        """Keep the channel for the conversation's life; a Redis failure only loses affinity."""
        client = async_redis()
        if client is None:
            return
        try:
            await client.set(PREFIX + conversation.key, channel_id, ex=conversation.life)
        except redis.RedisError as error:
            logger.debug("cache affinity: not kept (%s)", type(error).__name__)

    def forget_all(self) -> None:
        """Delete every affinity key (tests)."""
        client = sync_redis()
        if client is None:
            return
        keys = list(client.scan_iter(match=PREFIX + "*", count=1000))
        if keys:
            client.delete(*keys)

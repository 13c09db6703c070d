"""Notices over Redis pub/sub: every gateway process of a deployment, within milliseconds.

Each follower holds one subscribed connection of its own (outside the shared pools). When that
connection breaks (a Redis restart, a network cut) it reconnects every RECONNECT_SECONDS; once
subscribed again it delivers EVERYTHING, since notices published meanwhile were lost.
"""

import asyncio
import logging
from typing import ClassVar, Literal

import redis
import redis.asyncio as aioredis
from django.conf import settings

from core.config_changes.base import EVERYTHING, ConfigChanges, Deliver, Notice
from core.redis import sync_redis

logger = logging.getLogger(__name__)

CHANNEL = "switchyard:config"
RECONNECT_SECONDS = 0.25
HEALTH_CHECK_SECONDS = 5
"""An idle subscription is PINGed this often, so a dead connection is noticed without traffic."""


class RedisConfigChanges(ConfigChanges):
    """PUBLISH on CHANNEL; every process SUBSCRIBEs on its serving loop."""

    name: ClassVar[Literal["local", "redis"]] = "redis"

    def publish(self, notice: Notice) -> None:
        """PUBLISH the notice (logged, not raised, when Redis cannot take it)."""
        client = sync_redis()
        if client is None:
            return
        try:
            client.publish(CHANNEL, notice.encode())
        except redis.RedisError as error:
            logger.warning(
                "configuration change not broadcast (%s): other processes see it within "
                "their polling interval",
                error,
            )

    async def follow(self, deliver: Deliver) -> None:
        """Subscribe, deliver, and subscribe again after every broken connection."""
        outage: list[BaseException] = []
        while True:
            try:
                await self._subscribed(deliver, outage)
            except Exception as error:  # a follower never dies: it retries, polling meanwhile
                if not outage:
                    logger.warning(
                        "configuration notices interrupted (%s); reconnecting, polling meanwhile",
                        error,
                    )
                    outage.append(error)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _subscribed(self, deliver: Deliver, outage: list[BaseException]) -> None:
        """One subscription, until its connection breaks; `outage` holds the error that broke
        the last one, cleared (and the recovery logged) once subscribed again."""
        client = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            health_check_interval=HEALTH_CHECK_SECONDS,
        )
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                if outage:
                    outage.clear()
                    logger.warning("configuration notices resumed; reloading everything")
                deliver(EVERYTHING)
                while True:
                    message = await pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                    if message is not None and message["type"] == "message":
                        deliver(Notice.decode(_text(message["data"])))
        finally:
            await client.aclose()


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data

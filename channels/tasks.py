"""Celery tasks of the channels app: schedule and run health probes, prune their history."""

import logging
import math

from celery import shared_task
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from channels.models import Channel, ChannelStatus
from channels.probes import PROBEABLE_API_TYPES, probe_delay
from channels.selectors import channels_live
from channels.services import channel_probe, health_checks_prune

logger = logging.getLogger(__name__)


def probe_lock_key(channel_id: int) -> str:
    """The cache key that lets one worker in the cluster probe a channel per interval."""
    return f"switchyard:probe:{channel_id}"


@shared_task
def probe_due_channels() -> int:
    """Queue a probe of every enabled, live, probeable channel that is due; return how many."""
    live = channels_live().filter(enabled=True, api_type__in=PROBEABLE_API_TYPES)
    due = live.filter(Q(next_probe_at__isnull=True) | Q(next_probe_at__lte=timezone.now()))
    channel_ids = list(due.values_list("pk", flat=True))
    for channel_id in channel_ids:
        probe_channel_task.delay(channel_id)
    return len(channel_ids)


@shared_task
def probe_channel_task(channel_id: int) -> bool:
    """Probe one enabled, live channel unless another worker holds its lock; True when it
    probed."""
    channel = channels_live().filter(pk=channel_id, enabled=True).first()
    if channel is None:
        return False
    key = probe_lock_key(channel_id)
    # cache.add is atomic (SET NX on Redis): the first taker holds the lock for the channel's
    # current interval or backoff, so duplicates queued by any beat or worker are dropped.
    delay = probe_delay(channel=channel, failures=channel.consecutive_failures)
    if not cache.add(key, 1, timeout=delay):
        return False
    was = channel.status
    channel_probe(channel=channel)
    if channel.status != was:
        log_status_change(channel, was=was)
    # Re-arm the lock for the delay just chosen: a recovered channel is not held back by a long
    # backoff lock, and a channel that just backed off stays locked for its whole backoff
    # (rounded up: a lock a fraction short would let the next probe in a second early).
    if channel.next_probe_at is not None:
        remaining = (channel.next_probe_at - timezone.now()).total_seconds()
        cache.touch(key, max(1, math.ceil(remaining)))
    return True


def log_status_change(channel: Channel, *, was: str) -> None:
    """One line when a probe moved the channel's status: a warning when it went down."""
    if channel.status == ChannelStatus.DOWN:
        logger.warning(
            "channel %r (#%s) is down: %s", channel.name, channel.pk, channel.status_reason
        )
    elif was == ChannelStatus.DOWN:
        logger.info("channel %r (#%s) is healthy again", channel.name, channel.pk)
    else:
        logger.info("channel %r (#%s) is %s", channel.name, channel.pk, channel.status)


@shared_task
def prune_health_checks() -> int:
    """Delete health checks older than HEALTH_RETENTION_DAYS; return how many."""
    return health_checks_prune()

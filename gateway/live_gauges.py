"""The gauges that tell the present: set at every scrape of /metrics from the channels' probed
status in the database and every breaker's state (the shared table with Redis), traffic or not.
"""

import logging

from django.db import DatabaseError

from channels.models import Channel
from channels.selectors import channels_live, live_channel_models
from gateway.breakers import Scope, breaker_views
from gateway.metrics import (
    BREAKER_VALUES,
    METRICS,
    Metrics,
    set_breaker_state,
    set_channel_status,
)

logger = logging.getLogger(__name__)


def refresh_live_gauges(*, metrics: Metrics = METRICS) -> None:
    """Set `switchyard_channel_status`, `switchyard_breaker_state` and
    `switchyard_model_breaker_state` of every live channel and channel-model to what they are
    now — closed ones too, so whichever process serves the scrape writes every label
    (synchronous: it reads the database and Redis). Without the database, where the channels'
    names are, every gauge keeps its last value."""
    try:
        channels: dict[int, Channel] = {c.pk: c for c in channels_live().only("name", "status")}
        models = list(live_channel_models().values_list("channel_id", "model"))
    except DatabaseError:
        logger.warning("/metrics: channel gauges unavailable (database unreachable)")
        return
    breakers = {view.scope: view.state for view in breaker_views()}
    for channel_id, channel in channels.items():
        set_channel_status(channel.name, channel.status, metrics=metrics)
        state = breakers.get(Scope(channel_id), "closed")
        set_breaker_state(channel.name, state, metrics=metrics)
    for channel_id, model in models:
        if channel_id not in channels:
            continue  # archived between the two reads
        state = breakers.get(Scope(channel_id, model), "closed")
        labels = (channels[channel_id].name, model)
        metrics.model_breaker_state.labels(*labels).set(BREAKER_VALUES[state])

"""`make run`'s settings (the embedded default) with beat's periods and the probe interval cut to
1 s, so a test of the running demo sees many dispatches in a few seconds."""

from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_BEAT_SCHEDULE = {
    name: {**entry, "schedule": 1.0} if isinstance(entry["schedule"], float) else entry
    for name, entry in _SCHEDULE.items()
}
HEALTH_PROBE_INTERVAL = 1
HEALTH_FAILURE_THRESHOLD = 1

"""The Celery application; configuration comes from Django settings prefixed CELERY_.

Celery's own line per task and per dispatch is off at INFO (config.settings.logging); what the
worker and beat say is what changed: the schedule beat starts with, a channel going down or
coming back (channels.tasks), a sweep that found something (below).
"""

import logging
import os
from typing import Any

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("switchyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("switchyard.worker")

# Periodic sweeps whose count is worth a line when it is not zero, by task name.
SWEEPS = {
    "reports.tasks.rollup_usage": "rollup: {count} usage record(s) added to the hourly and daily"
    " rollups",
    "reports.tasks.prune_usage": "retention: {count} usage record(s) past USAGE_RETENTION_DAYS"
    " deleted",
    "reports.tasks.prune_attempts": "retention: {count} attempt row(s) past"
    " ATTEMPT_RETENTION_DAYS deleted",
    "channels.tasks.prune_health_checks": "retention: {count} health check(s) past"
    " HEALTH_RETENTION_DAYS deleted",
    "gateway.tasks.prune_stored_responses": "retention: {count} stored response(s) past"
    " GATEWAY_RESPONSES_RETENTION_DAYS deleted",
}


@signals.task_success.connect
def log_sweep(sender: Any = None, result: Any = None, **kwargs: Any) -> None:
    """One INFO line for a sweep that found something; none for one that found nothing."""
    message = SWEEPS.get(getattr(sender, "name", ""))
    if message and isinstance(result, int) and not isinstance(result, bool) and result > 0:
        logger.info(message.format(count=result))


@signals.beat_init.connect
def log_schedule(sender: Any = None, **kwargs: Any) -> None:
    """Say once what beat sends and how often, since it says nothing per dispatch."""
    entries = [
        f"{name} {describe_schedule(entry['schedule'])}"
        for name, entry in app.conf.beat_schedule.items()
    ]
    logger.info("beat started: %s", "; ".join(entries))


def describe_schedule(schedule: object) -> str:
    """'every 10 s' for a period in seconds, 'daily at 03:17 UTC' for a daily crontab, else the
    schedule's own description."""
    if isinstance(schedule, int | float):
        return f"every {schedule:g} s"
    if isinstance(schedule, crontab):
        # The sets of hours and minutes it fires at; one of each and every day is "daily".
        hours: set[int] = getattr(schedule, "hour", set())
        minutes: set[int] = getattr(schedule, "minute", set())
        every_day = all(
            getattr(schedule, f"_orig_{field}", None) == "*"
            for field in ("day_of_week", "day_of_month", "month_of_year")
        )
        if every_day and len(hours) == 1 and len(minutes) == 1:
            return f"daily at {min(hours):02}:{min(minutes):02} {app.conf.timezone or 'UTC'}"
    return str(schedule).strip("<>")

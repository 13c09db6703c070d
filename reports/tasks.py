"""Celery tasks of the reports app: the rollup and the retention of raw usage records."""

from celery import shared_task

from reports.retention import usage_attempts_prune, usage_prune
from reports.rollup import usage_rollup_run


@shared_task
def rollup_usage() -> int:
    """Add the usage records written since the last run to the hourly and daily rollups."""
    return usage_rollup_run()


@shared_task
def prune_usage() -> int:
    """Delete raw usage records older than `USAGE_RETENTION_DAYS` (0 = never)."""
    return usage_prune()


@shared_task
def prune_attempts() -> int:
    """Delete attempt rows older than `ATTEMPT_RETENTION_DAYS` (0 = never)."""
    return usage_attempts_prune()

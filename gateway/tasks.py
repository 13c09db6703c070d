"""Celery tasks of the gateway app."""

from celery import shared_task

from gateway.stored_responses import stored_responses_prune


@shared_task
def prune_stored_responses() -> int:
    """Delete stored responses older than `GATEWAY_RESPONSES_RETENTION_DAYS` (0 = never)."""
    return stored_responses_prune()

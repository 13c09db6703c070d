"""App config of the reports app."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_usage_trigger(using: str = "default", **kwargs: Any) -> None:
    """Re-create the usage queue trigger after every migrate (SQLite drops it on table rebuilds)."""
    from django.db import connections

    from reports.triggers import install_usage_trigger

    install_usage_trigger(connections[using])


class ReportsConfig(AppConfig):
    """Hourly and daily usage rollups, usage reports, and retention of raw usage records."""

    name = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep the trigger that queues new usage records for the rollup in place."""
        post_migrate.connect(_ensure_usage_trigger, sender=self)

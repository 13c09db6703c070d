"""App config of the channels app."""

from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Upstream channels, their models, prices and health checks."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Broadcast channel changes (channels.signals)."""
        from channels import signals  # noqa: F401 (connects them)

"""App config of the channels app."""

from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Upstream channels, their models, prices and health checks."""

    name = "channels"
    verbose_name = "Channels"
    default_auto_field = "django.db.models.BigAutoField"

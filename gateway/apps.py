"""App config of the gateway app."""

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    """The client-facing OpenAI-compatible API."""

    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        """Register the settings checks."""
        from gateway import checks  # noqa: F401 (registers them)

"""Django system checks of the gateway's settings: a bad value stops start-up (`manage.py
check`, `runserver`, the server's own start) with a message naming the setting, instead of
failing requests later."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from channels.adapters import ADAPTERS
from channels.models import ApiType

POSITIVE_SECONDS = (
    "GATEWAY_CONNECT_TIMEOUT",
    "GATEWAY_FIRST_TOKEN_TIMEOUT",
    "GATEWAY_IDLE_TIMEOUT",
    "GATEWAY_TIMEOUT",
    "GATEWAY_REQUEST_DEADLINE",
    "GATEWAY_RESERVATION_SECONDS",
    "GATEWAY_CATALOG_SECONDS",
    "GATEWAY_HEADER_TIMEOUT",
    "GATEWAY_BODY_TIMEOUT",
    "GATEWAY_WRITE_TIMEOUT",
)


@register()
def gateway_settings_check(app_configs: Any = None, **_: Any) -> list[Error]:
    """Timeouts above 0, at least one attempt, reservations that outlive the request deadline,
    and an adapter for every channel protocol."""
    errors = [
        Error(
            f"{name} must be greater than 0 (it is {getattr(settings, name)!r}).",
            id="switchyard.E001",
        )
        for name in POSITIVE_SECONDS
        if not getattr(settings, name) > 0
    ]
    if settings.GATEWAY_MAX_ATTEMPTS < 1:
        errors.append(
            Error(
                f"GATEWAY_MAX_ATTEMPTS must be at least 1 (it is {settings.GATEWAY_MAX_ATTEMPTS}).",
                id="switchyard.E002",
            )
        )
    if settings.GATEWAY_RESERVATION_SECONDS < settings.GATEWAY_REQUEST_DEADLINE:
        errors.append(
            Error(
                "GATEWAY_RESERVATION_SECONDS must not be shorter than GATEWAY_REQUEST_DEADLINE "
                f"({settings.GATEWAY_RESERVATION_SECONDS} < {settings.GATEWAY_REQUEST_DEADLINE}): "
                "a hold would expire while its request may still spend.",
                id="switchyard.E003",
            )
        )
    errors.extend(
        Error(f"The channel protocol {api_type!r} has no adapter.", id="switchyard.E004")
        for api_type in ApiType.values
        if api_type not in ADAPTERS
    )
    return errors

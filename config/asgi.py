"""ASGI entry point: `config.asgi:application`."""

import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

django_application = get_asgi_application()

from gateway.lifespan import GatewayLifespan  # noqa: E402 (needs the app registry ready)

# Serve the admin's static files from the app itself unless a front proxy does.
application = GatewayLifespan(
    ASGIStaticFilesHandler(django_application)
    if settings.SWITCHYARD_SERVE_STATIC
    else django_application
)

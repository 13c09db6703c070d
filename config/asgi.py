"""ASGI entry point: `config.asgi:application`."""

import gc
import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

site_application = get_asgi_application()

from gateway.asgi import ClientApiHandler, GatewayApplication  # noqa: E402 (needs django.setup)

application = GatewayApplication(
    client_api=ClientApiHandler(),
    # Serve the admin's static files from the app itself unless a front proxy does.
    site=ASGIStaticFilesHandler(site_application)
    if settings.SWITCHYARD_SERVE_STATIC
    else site_application,
)

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's
# full passes, whose pauses otherwise show up in the latency tail.
gc.collect()
gc.freeze()

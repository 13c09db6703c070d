"""URL routes: the admin, the management API, and the service probes."""

from django.contrib import admin
from django.urls import include, path

from gateway.probes import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/admin/", include("channels.urls")),
    path("api/admin/", include("billing.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

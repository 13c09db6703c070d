"""URL routes: the client API (and its aliases), the admin, the management API, the dashboard,
the probes."""

from django.contrib import admin
from django.urls import include, path

from gateway.metrics import metrics_view
from gateway.probes import healthz, readyz
from gateway.views import ChatCompletionsView

# The admin's "View site" link opens the operator dashboard.
admin.site.site_url = "/dashboard/"

urlpatterns = [
    path("v1/", include("gateway.urls")),
    path("api/v1/", include(("gateway.urls", "gateway"), namespace="api-v1")),
    path("openai/v1/", include(("gateway.urls", "gateway"), namespace="openai-v1")),
    path("chat/completions", ChatCompletionsView.as_view(), name="chat-completions-bare"),
    path("admin/", admin.site.urls),
    path("api/admin/", include("channels.urls")),
    path("api/admin/", include("billing.urls")),
    path("api/admin/", include("reports.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]

# Unknown paths and failures under the client API's prefixes answer the OpenAI error envelope,
# not a page.
handler404 = "gateway.views.not_found"
handler500 = "gateway.views.server_error"

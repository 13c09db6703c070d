"""App config of the operator dashboard."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Server-rendered operator pages under `/dashboard/`."""

    name = "dashboard"
    verbose_name = "Dashboard"

"""Reports API routes, under `/api/admin/`."""

from django.urls import path

from reports.api import UsageReportApi

urlpatterns = [
    path("reports/usage/", UsageReportApi.as_view(), name="report-usage"),
]

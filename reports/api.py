"""Reports API: `/api/admin/reports/usage/` — usage sums per group, as JSON or CSV."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import UsageFilterInput
from billing.models import UsageRecord
from billing.selectors import UsageFilters
from core.money import format_money
from reports.csv_export import csv_text
from reports.selectors import REPORT_GROUPS, TOKEN_FIELDS, UsageSums, usage_summary

FIGURE_COLUMNS = ("requests", "errors", *TOKEN_FIELDS, "cost")
REPORT_COLUMNS = ("group", "name", *FIGURE_COLUMNS)


def report_figures(sums: UsageSums) -> dict[str, Any]:
    """A report row's figures as the contract names them; cost as a decimal string."""
    figures: dict[str, Any] = {"requests": sums.requests, "errors": sums.errors}
    figures.update({name: sums.counts[name] for name in TOKEN_FIELDS})
    figures["cost"] = format_money(sums.cost)
    return figures


class UsageCsvRenderer(BaseRenderer):
    """`?format=csv`: the report's rows as CSV with a header line."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        """Report rows as CSV; anything else (an error) as its JSON text."""
        if not isinstance(data, dict) or "rows" not in data:
            return bytes(JSONRenderer().render(data))
        return csv_text(REPORT_COLUMNS, data["rows"], numeric=FIGURE_COLUMNS).encode()


class UsageReportInput(UsageFilterInput):
    """The report's query parameters: the usage list's filters and a grouping."""

    group_by = serializers.ChoiceField(choices=REPORT_GROUPS)


class UsageReportApi(APIView):
    """Usage sums per day, model, provider, channel, key, account or endpoint, and their total
    (`view_usagerecord`)."""

    permission_model = UsageRecord
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, UsageCsvRenderer]

    def get(self, request: Request) -> Response:
        """The report for the query's filters and grouping; 400 on a malformed parameter."""
        query = UsageReportInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        group_by = params.pop("group_by")
        summary = usage_summary(filters=UsageFilters(**params), group_by=group_by)
        data = {
            "group_by": group_by,
            "since": params.get("since"),
            "until": params.get("until"),
            "rows": [
                {"group": sums.group, "name": sums.name, **report_figures(sums)}
                for sums in summary.rows
            ],
            "total": report_figures(summary.total),
        }
        response = Response(data)
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="usage-by-{group_by}.csv"'
        return response

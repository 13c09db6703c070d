"""The usage explorer (filtered records, newest first) and a request's detail page."""

from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import LedgerEntry, UsageRecord
from billing.selectors import UsageFilters, usage_list
from dashboard.forms import UsageFilterForm
from reports.selectors import usage_summary

PAGE_SIZE = 50


def _report_query(filters: UsageFilters) -> str:
    """The reports API query string for the same filters."""
    params: dict[str, object] = {"group_by": "day", "format": "csv"}
    for name in ("key", "account", "model", "provider", "channel", "status"):
        if (value := getattr(filters, name)) is not None:
            params[name] = value
    for name in ("since", "until"):
        if (moment := getattr(filters, name)) is not None:
            params[name] = moment.isoformat()
    return urlencode(params)


@staff_member_required
def usage_explorer(request: HttpRequest) -> HttpResponse:
    """Records matching the filters, a page at a time, with their totals."""
    form = UsageFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else UsageFilters()
    page = max(1, int(request.GET["page"])) if request.GET.get("page", "").isdigit() else 1
    start = (page - 1) * PAGE_SIZE
    records = list(
        usage_list(filters=filters).select_related("key", "channel")[start : start + PAGE_SIZE + 1]
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "records": records[:PAGE_SIZE],
        "page": page,
        "has_next": len(records) > PAGE_SIZE,
        "query": query.urlencode(),
        "total": usage_summary(filters=filters, group_by="model").total,
        "csv_query": _report_query(filters),
    }
    return render(request, "dashboard/usage_list.html", context)


@staff_member_required
def usage_detail(request: HttpRequest, record_id: str) -> HttpResponse:
    """One request: its attempts, tokens, prices, cost, and its ledger charge.

    A record deleted by retention answers 404 with its charge, which the ledger keeps.
    """
    record = (
        UsageRecord.objects.select_related("key", "account", "channel").filter(pk=record_id).first()
    )
    charge = LedgerEntry.objects.filter(request_id=record_id).select_related("account").first()
    if record is None:
        if charge is None:
            raise Http404("No such request.")
        context = {"record_id": record_id, "charge": charge}
        return render(request, "dashboard/usage_pruned.html", context, status=404)
    return render(request, "dashboard/usage_detail.html", {"record": record, "charge": charge})

"""The usage explorer (filtered records, newest first) and a request's detail page."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from billing.api import TIME_OUT_OF_RANGE, filter_time_in_range
from billing.models import LedgerEntry, UsageRecord
from billing.selectors import UsageFilters, usage_list
from config.permissions import model_perm, staff_permission_required, user_can
from dashboard.forms import UsageFilterForm
from dashboard.selectors import attempts_shown
from reports.selectors import usage_summary

PAGE_SIZE = 50
# The database's OFFSET is a signed 64-bit integer: a page past this one cannot exist.
MAX_PAGE = (2**63 - 1) // PAGE_SIZE


def _report_query(filters: UsageFilters) -> str:
    """The reports API query string for the same filters."""
    params: dict[str, object] = {"group_by": "day", "format": "csv"}
    for name in ("key", "account", "model", "provider", "channel", "status", "endpoint"):
        if (value := getattr(filters, name)) is not None:
            params[name] = value
    for name in ("since", "until"):
        if (moment := getattr(filters, name)) is not None:
            params[name] = moment.isoformat()
    return urlencode(params)


def _page(request: HttpRequest) -> int:
    """The page number from `?page=`: 1 when absent or not a positive number; 404 past
    `MAX_PAGE`."""
    text = request.GET.get("page", "")
    if not (text.isascii() and text.isdigit()):
        return 1
    page = int(text)
    if page > MAX_PAGE:
        raise Http404("No such page.")
    return max(1, page)


def _filters(form: UsageFilterForm) -> UsageFilters:
    """The form's filters when valid and within the reports' time range, else none (the form
    then shows why)."""
    if not form.is_valid():
        return UsageFilters()
    for name in ("since", "until"):
        moment = form.cleaned_data.get(name)
        if moment is not None and not filter_time_in_range(moment):
            form.add_error(name, TIME_OUT_OF_RANGE)
            return UsageFilters()
    return form.filters()


@staff_permission_required(model_perm(UsageRecord, "view"))
def usage_explorer(request: HttpRequest) -> HttpResponse:
    """Records matching the filters, a page at a time, with their totals."""
    form = UsageFilterForm(request.GET or None)
    filters = _filters(form)
    page = _page(request)
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


@staff_permission_required(model_perm(UsageRecord, "view"))
def usage_detail(request: HttpRequest, record_id: str) -> HttpResponse:
    """One request: its attempts, tokens, prices, cost, and (with view_ledgerentry) its ledger
    charge.

    A record deleted by retention answers 404 with its charge, which the ledger keeps.
    """
    if "\x00" in record_id:
        # No id holds a NUL, and PostgreSQL refuses one in a query.
        raise Http404("No such request.")
    record = (
        UsageRecord.objects.select_related("key", "account", "channel").filter(pk=record_id).first()
    )
    # False: no charge; None: the viewer may not see the ledger.
    charge: LedgerEntry | bool | None = None
    if user_can(request.user, model_perm(LedgerEntry, "view")):
        charges = LedgerEntry.objects.filter(request_id=record_id).select_related("account")
        charge = charges.first() or False
    if record is None:
        if not charge:
            raise Http404("No such request.")
        pruned = {"record_id": record_id, "charge": charge}
        return render(request, "dashboard/usage_pruned.html", pruned, status=404)
    context = {"record": record, "charge": charge, "attempts": attempts_shown(record)}
    return render(request, "dashboard/usage_detail.html", context)

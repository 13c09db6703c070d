"""Billing pages: accounts with balances, an account's ledger, statement (and CSV), add credit."""

from datetime import date

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from billing.api import EARLIEST_FILTER_TIME, LATEST_FILTER_TIME
from billing.models import Account, LedgerEntry
from billing.roles import ADD_CREDIT
from billing.selectors import UsageFilters
from billing.services import account_credit
from config.permissions import model_perm, staff_permission_required, user_can
from dashboard.forms import CreditForm
from dashboard.selectors import month_bounds, statement
from reports.api import FIGURE_COLUMNS, report_figures
from reports.csv_export import csv_text
from reports.selectors import usage_summary

LEDGER_LENGTH = 50
STATEMENT_COLUMNS = ("day", "model", "endpoint", *FIGURE_COLUMNS)


def _month(request: HttpRequest) -> date:
    """The statement's month from `?month=YYYY-MM` (within the reports' range), else the
    current one."""
    try:
        month = date.fromisoformat(request.GET.get("month", "") + "-01")
    except ValueError:
        month = None
    if month is None or not EARLIEST_FILTER_TIME.date() <= month <= LATEST_FILTER_TIME.date():
        return timezone.now().date().replace(day=1)
    return month


@staff_permission_required(model_perm(Account, "view"))
def account_list(request: HttpRequest) -> HttpResponse:
    """Every account with its balance, keys and spend this month."""
    since, _ = month_bounds(timezone.now().date())
    spend = {
        sums.group: sums
        for sums in usage_summary(filters=UsageFilters(since=since), group_by="account").rows
    }
    accounts = Account.objects.annotate(key_count=Count("api_keys")).order_by("name")
    rows = [(account, spend.get(account.pk)) for account in accounts]
    return render(request, "dashboard/accounts.html", {"rows": rows, "since": since})


@staff_permission_required(model_perm(Account, "view"), post=(ADD_CREDIT,))
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """An account: balance, add-credit form, latest ledger entries (with view_ledgerentry)
    and the month's statement."""
    account = get_object_or_404(Account, pk=account_id)
    form = CreditForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entry = account_credit(
            account=account,
            amount=form.cleaned_data["amount"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, f"Added {entry.amount} USD to {account.name}.")
        return redirect("dashboard:account", account_id=account.pk)
    month = _month(request)
    context = {
        "account": account,
        "form": form,
        "ledger": list(account.ledger_entries.order_by("-created_at", "-id")[:LEDGER_LENGTH])
        if user_can(request.user, model_perm(LedgerEntry, "view"))
        else None,
        "month": month,
        "statement": statement(account_id=account.pk, month=month),
    }
    return render(request, "dashboard/account.html", context)


@staff_permission_required(model_perm(Account, "view"))
def statement_csv(request: HttpRequest, account_id: int) -> HttpResponse:
    """The month's statement as CSV: one line per day, model and endpoint."""
    account = get_object_or_404(Account, pk=account_id)
    month = _month(request)
    rows = [
        {
            "day": sums.group,
            "model": sums.subgroups[0],
            "endpoint": sums.subgroups[1],
            **report_figures(sums),
        }
        for sums in statement(account_id=account.pk, month=month).rows
    ]
    response = HttpResponse(
        csv_text(STATEMENT_COLUMNS, rows, numeric=FIGURE_COLUMNS), content_type="text/csv"
    )
    filename = f"statement-{account.pk}-{month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

"""Billing pages: accounts with balances, an account's ledger, statement (and CSV), add credit."""

from datetime import date

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from billing.models import Account
from billing.selectors import UsageFilters
from billing.services import account_credit
from dashboard.forms import CreditForm
from dashboard.selectors import month_bounds, statement
from reports.api import FIGURE_COLUMNS, csv_text, report_figures
from reports.selectors import usage_summary

LEDGER_LENGTH = 50
STATEMENT_COLUMNS = ("day", "model", *FIGURE_COLUMNS)


def _month(request: HttpRequest) -> date:
    """The statement's month from `?month=YYYY-MM`, else the current one."""
    try:
        return date.fromisoformat(request.GET.get("month", "") + "-01")
    except ValueError:
        return timezone.now().date().replace(day=1)


@staff_member_required
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


@staff_member_required
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """An account: balance, add-credit form, latest ledger entries and the month's statement."""
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
        "ledger": account.ledger_entries.order_by("-created_at", "-id")[:LEDGER_LENGTH],
        "month": month,
        "statement": statement(account_id=account.pk, month=month),
    }
    return render(request, "dashboard/account.html", context)


@staff_member_required
def statement_csv(request: HttpRequest, account_id: int) -> HttpResponse:
    """The month's statement as CSV: one line per day and model."""
    account = get_object_or_404(Account, pk=account_id)
    month = _month(request)
    rows = [
        {"day": sums.group, "model": sums.subgroup, **report_figures(sums)}
        for sums in statement(account_id=account.pk, month=month).rows
    ]
    response = HttpResponse(csv_text(STATEMENT_COLUMNS, rows), content_type="text/csv")
    filename = f"statement-{account.pk}-{month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

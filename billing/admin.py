"""Django admin for billing: balances move only through the ledger, key secrets show once."""

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from billing.models import (
    Account,
    ApiKey,
    LedgerEntry,
    LedgerKind,
    Reservation,
    UsageDeadLetter,
    UsageRecord,
)
from billing.roles import ADD_CREDIT
from billing.selectors import key_limit_remaining, key_period_spend
from billing.services import (
    account_credit,
    api_key_issue,
    api_key_revoke,
    ledger_post,
    usage_dead_letter_retry,
)

NEW_SECRET_ATTRIBUTE = "_switchyard_new_key_secret"  # noqa: S105 (a name, not a secret)
CREDIT_FIELDS = frozenset({"credit_amount", "credit_kind", "credit_description"})


class AccountForm(forms.ModelForm[Account]):
    """An account's name, plus an optional ledger entry to post on save."""

    credit_amount = forms.DecimalField(
        required=False,
        max_digits=20,
        decimal_places=10,
        help_text="USD to add (a credit, > 0) or, with 'adjustment', to add or remove.",
    )
    credit_kind = forms.ChoiceField(
        choices=[(LedgerKind.CREDIT, "Credit"), (LedgerKind.ADJUSTMENT, "Adjustment")],
        initial=LedgerKind.CREDIT,
    )
    credit_description = forms.CharField(required=False, max_length=500)

    class Meta:
        model = Account
        fields = ["name"]

    def clean(self) -> dict[str, Any]:
        """A credit must be positive; an adjustment must not be zero."""
        data = super().clean() or {}
        amount = data.get("credit_amount")
        if amount is not None:
            if data.get("credit_kind") == LedgerKind.CREDIT and amount <= 0:
                self.add_error("credit_amount", "A credit must be greater than 0.")
            elif amount == 0:
                self.add_error("credit_amount", "An adjustment must not be 0.")
        return data


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    """Accounts show their balance; credit is added through the ledger, never by editing it."""

    form = AccountForm
    list_display = ["name", "balance", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["balance", "ledger", "created_at"]

    @admin.display(description="Ledger")
    def ledger(self, account: Account) -> str:
        """A link to this account's ledger entries."""
        url = reverse("admin:billing_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">View ledger entries</a>', url)

    def get_fields(self, request: HttpRequest, obj: Account | None = None) -> Any:
        """The credit fields only for users who may add credit (billing.add_credit)."""
        fields = super().get_fields(request, obj)
        if request.user.has_perm(ADD_CREDIT):
            return fields
        return [name for name in fields if name not in CREDIT_FIELDS]

    def get_form(
        self, request: HttpRequest, obj: Account | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        """The form without the credit fields for users who may not add credit (declared
        fields stay in a ModelForm whatever `fields` says, and credit_kind is required)."""
        form = super().get_form(request, obj, change, **kwargs)
        if not request.user.has_perm(ADD_CREDIT):
            for name in CREDIT_FIELDS:
                form.base_fields.pop(name, None)
        return form

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        """Save the name, then post the entered credit or adjustment to the ledger (the form of
        a user without billing.add_credit has no credit fields: change_account moves no money)."""
        amount: Decimal | None = form.cleaned_data.get("credit_amount")
        super().save_model(request, obj, form, change)
        if amount is None:
            return
        description = form.cleaned_data.get("credit_description", "")
        if form.cleaned_data["credit_kind"] == LedgerKind.CREDIT:
            account_credit(account=obj, amount=amount, description=description)
        else:
            ledger_post(
                account=obj, kind=LedgerKind.ADJUSTMENT, amount=amount, description=description
            )
        self.message_user(request, f"Posted {amount} USD; balance is now {obj.balance}.")


class ReadOnlyAdminMixin:
    """Lists and shows records but never adds, edits or deletes them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Records are written by the system only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Records are never edited."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Records are kept for the audit."""
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LedgerEntry]):
    """The ledger, read-only: post credits from the account page."""

    list_display = ["created_at", "account", "kind", "amount", "description", "request_id"]
    list_filter = ["kind", "account"]
    search_fields = ["description", "=request_id"]
    list_select_related = ["account"]
    show_full_result_count = False


class ApiKeyForm(forms.ModelForm[ApiKey]):
    """What an operator sets on a key; the secret is generated, never typed."""

    class Meta:
        model = ApiKey
        fields = [
            "account",
            "name",
            "spend_limit",
            "limit_reset",
            "rpm_limit",
            "tpm_limit",
            "allowed_models",
            "expires_at",
        ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys: created here with the secret shown exactly once, revoked by an action."""

    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "account",
        "revoked",
        "expires_at",
        "spend_limit",
        "period_spend",
        "limit_remaining",
        "last_used_at",
    ]
    list_filter = ["limit_reset", ("revoked_at", admin.EmptyFieldListFilter), "account"]
    search_fields = ["name", "prefix"]
    list_select_related = ["account"]
    readonly_fields = [
        "prefix",
        "period_spend",
        "limit_remaining",
        "period_started_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    actions = ["revoke_keys"]

    @admin.display(boolean=True, description="Revoked")
    def revoked(self, key: ApiKey) -> bool:
        """Whether the key was revoked."""
        return key.revoked

    @admin.display(description="Spend this period")
    def period_spend(self, key: ApiKey) -> Decimal:
        """Spend in the key's current limit period (all time without a reset)."""
        return key_period_spend(key=key)

    @admin.display(description="Limit remaining")
    def limit_remaining(self, key: ApiKey) -> Decimal | None:
        """What the key may still spend this period; empty without a limit."""
        return key_limit_remaining(key=key)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        """A key never moves to another account."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "account"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        """A new key gets generated key material; its secret is kept for this response only."""
        if change:
            super().save_model(request, obj, form, change)
        else:
            setattr(request, NEW_SECRET_ATTRIBUTE, api_key_issue(key=obj))

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Show the new secret once, on this page only; it is not stored anywhere."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": obj,
            "secret": getattr(request, NEW_SECRET_ATTRIBUTE),
            "title": "API key created",
        }
        return TemplateResponse(request, "admin/billing/apikey/key_created.html", context)

    @admin.action(permissions=["change"], description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        """Revoke the selected keys for good."""
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {len(queryset)} key(s).", messages.SUCCESS)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Reservation]):
    """Database reservations of requests in flight (installs without Redis), read-only."""

    list_display = ["id", "account", "key", "amount", "expires_at"]
    list_select_related = ["account", "key"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UsageRecord]):
    """Usage records, read-only, filterable, searchable by request id."""

    list_display = [
        "id",
        "created_at",
        "account",
        "key",
        "endpoint",
        "model",
        "provider",
        "channel",
        "status",
        "http_status",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "latency_ms",
    ]
    list_filter = [
        "status",
        "endpoint",
        "stream",
        "usage_source",
        "affinity_source",
        "provider",
        "created_at",
    ]
    search_fields = ["=id"]
    list_select_related = ["account", "key", "channel"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(UsageDeadLetter)
class UsageDeadLetterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UsageDeadLetter]):
    """Usage records the database refused, with why; "Retry" stores them with their charge."""

    list_display = [
        "request_id",
        "created_at",
        "requested_model",
        "cost",
        "short_error",
        "retries",
        "resolved_at",
    ]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["=request_id"]
    fields = ("request_id", "created_at", "error", "retries", "resolved_at", "record_json")
    readonly_fields = fields
    actions = ["retry"]

    @admin.display(description="Model")
    def requested_model(self, letter: UsageDeadLetter) -> str:
        """The model the request asked for."""
        return str(letter.record.get("model", ""))

    @admin.display(description="Cost")
    def cost(self, letter: UsageDeadLetter) -> str:
        """The cost its charge will be."""
        return str(letter.record.get("cost", ""))

    @admin.display(description="Error")
    def short_error(self, letter: UsageDeadLetter) -> str:
        """The first line of the error."""
        return letter.error.splitlines()[0][:200] if letter.error else ""

    @admin.display(description="Record")
    def record_json(self, letter: UsageDeadLetter) -> str:
        """The record's fields, as stored."""
        return format_html("<pre>{}</pre>", json.dumps(letter.record, indent=2, sort_keys=True))

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Retrying writes a record and a charge: it takes the right to change dead letters."""
        return request.user.has_perm("billing.change_usagedeadletter")

    @admin.action(permissions=["retry"], description="Retry: store with its charge")
    def retry(self, request: HttpRequest, queryset: QuerySet[UsageDeadLetter]) -> None:
        """Store each selected letter's record with its ledger charge, once, and say how each
        went."""
        outcomes: dict[str, list[str]] = {"stored": [], "resolved_before": [], "refused": []}
        for letter in queryset.order_by("created_at", "id"):
            outcomes[usage_dead_letter_retry(letter=letter)].append(letter.request_id)
        if outcomes["stored"]:
            stored = ", ".join(outcomes["stored"])
            self.message_user(request, f"Stored with their charge: {stored}.", messages.SUCCESS)
        if outcomes["resolved_before"]:
            before = ", ".join(outcomes["resolved_before"])
            self.message_user(request, f"Already resolved, left alone: {before}.", messages.INFO)
        if outcomes["refused"]:
            refused = ", ".join(outcomes["refused"])
            self.message_user(
                request, f"Refused again (see their error): {refused}.", messages.ERROR
            )

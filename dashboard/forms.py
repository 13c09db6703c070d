"""Dashboard forms: usage filters, a new API key, credit for an account."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms

from billing.api import MAX_INTEGER
from billing.models import Account, ApiKey, LimitReset
from billing.selectors import UsageFilters
from channels.models import Channel
from core.usage import Endpoint, UsageStatus

MIN_CREDIT = Decimal("0.0000000001")


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-and-time picker (UTC)."""

    input_type = "datetime-local"

    def format_value(self, value: Any) -> str | None:
        """The picker's `YYYY-MM-DDTHH:MM` format."""
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M")
        return super().format_value(value)


class UsageFilterForm(forms.Form):
    """The usage explorer's filters (GET); every field optional."""

    key = forms.ModelChoiceField(ApiKey.objects.order_by("name"), required=False)
    account = forms.ModelChoiceField(Account.objects.order_by("name"), required=False)
    model = forms.CharField(required=False, max_length=200)
    provider = forms.CharField(required=False, max_length=64)
    channel = forms.ModelChoiceField(Channel.objects.order_by("name"), required=False)
    status = forms.ChoiceField(choices=[("", "any"), *UsageStatus.choices], required=False)
    endpoint = forms.ChoiceField(choices=[("", "any"), *Endpoint.choices], required=False)
    since = forms.DateTimeField(required=False, widget=LocalDateTimeInput, label="Since (UTC)")
    until = forms.DateTimeField(required=False, widget=LocalDateTimeInput, label="Until (UTC)")

    def filters(self) -> UsageFilters:
        """The valid filters as the usage selectors take them."""
        data = self.cleaned_data
        return UsageFilters(
            key=data["key"].pk if data.get("key") else None,
            account=data["account"].pk if data.get("account") else None,
            model=data.get("model") or None,
            provider=data.get("provider") or None,
            channel=data["channel"].pk if data.get("channel") else None,
            status=data.get("status") or None,
            endpoint=data.get("endpoint") or None,
            since=data.get("since"),
            until=data.get("until"),
        )


class KeyCreateForm(forms.Form):
    """A new API key and its limits."""

    name = forms.CharField(max_length=200)
    account = forms.ModelChoiceField(
        Account.objects.order_by("name"),
        help_text="The account whose credit the key spends.",
    )
    spend_limit = forms.DecimalField(
        required=False, min_value=0, max_digits=20, decimal_places=10, label="Spend limit (USD)"
    )
    limit_reset = forms.ChoiceField(
        choices=[("", "never"), *LimitReset.choices], required=False, label="Limit resets"
    )
    rpm_limit = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_INTEGER, label="Requests per minute"
    )
    tpm_limit = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_INTEGER, label="Tokens per minute"
    )
    allowed_models = forms.CharField(
        required=False, help_text="Comma-separated; empty = every model.", max_length=2000
    )
    expires_at = forms.DateTimeField(
        required=False, widget=LocalDateTimeInput, label="Expires (UTC)"
    )

    def clean_allowed_models(self) -> list[str]:
        """The allowlist as a list of model ids."""
        text = self.cleaned_data.get("allowed_models") or ""
        return [model.strip() for model in text.split(",") if model.strip()]


class CreditForm(forms.Form):
    """Prepaid credit added to an account."""

    amount = forms.DecimalField(
        min_value=MIN_CREDIT, max_digits=20, decimal_places=10, label="Amount (USD)"
    )
    description = forms.CharField(max_length=500, required=False)

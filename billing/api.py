"""Management API for billing: accounts and credits, API keys, usage records."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import (
    Account,
    ApiKey,
    LedgerEntry,
    LedgerKind,
    LimitReset,
    UsageRecord,
)
from billing.reconcile import reconcile
from billing.roles import ADD_CREDIT
from billing.selectors import UsageFilters, key_limit_remaining, key_period_spend, usage_list
from billing.services import (
    account_create,
    api_key_create,
    api_key_revoke,
    api_key_update,
    ledger_post,
)
from config.permissions import model_perm
from core.api_fields import MoneyField
from core.money import format_money
from core.pagination import paginated_response
from core.usage import Endpoint, UsageStatus

MIN_CREDIT = Decimal("0.0000000001")
# PostgreSQL's `integer`, the column of a key's rpm and tpm limits.
MAX_INTEGER = 2**31 - 1
# Filter times a year inside datetime's range, so that reports can round them to the hour, day
# or month without overflowing.
EARLIEST_FILTER_TIME = datetime(2, 1, 1, tzinfo=UTC)
LATEST_FILTER_TIME = datetime(9998, 12, 31, tzinfo=UTC)
TIME_OUT_OF_RANGE = "Expected a time between 0002-01-01 and 9998-12-31."


def filter_time_in_range(moment: datetime) -> bool:
    """Whether a usage filter's `since` or `until` lies within the supported range."""
    return EARLIEST_FILTER_TIME <= moment <= LATEST_FILTER_TIME


class AccountInput(serializers.ModelSerializer[Account]):
    """A new account: just its unique name."""

    class Meta:
        model = Account
        fields = ["name"]


class AccountOutput(serializers.ModelSerializer[Account]):
    """An account and its read-only balance."""

    balance = MoneyField(signed=True)

    class Meta:
        model = Account
        fields = ["id", "name", "balance", "created_at"]


class CreditInput(serializers.Serializer[Any]):
    """A ledger entry to post: a credit (a positive USD amount, the default) or an adjustment
    (a refund, correction or write-off: any amount but 0)."""

    amount = MoneyField(signed=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    kind = serializers.ChoiceField(
        choices=[LedgerKind.CREDIT.value, LedgerKind.ADJUSTMENT.value], default=LedgerKind.CREDIT
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A credit must be positive; an adjustment must not be zero."""
        if attrs["kind"] == LedgerKind.CREDIT and attrs["amount"] < MIN_CREDIT:
            raise serializers.ValidationError({"amount": ["A credit must be greater than 0."]})
        if attrs["amount"] == 0:
            raise serializers.ValidationError({"amount": ["An adjustment must not be 0."]})
        return attrs


class LedgerEntryOutput(serializers.ModelSerializer[LedgerEntry]):
    """A ledger entry, with the account's balance after it."""

    amount = MoneyField(signed=True)
    balance = MoneyField(signed=True, source="account.balance")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "account",
            "kind",
            "amount",
            "description",
            "usage_record",
            "created_at",
            "balance",
        ]


class AccountListApi(APIView):
    """List accounts (`view_account`), or create one (`add_account`)."""

    permission_model = Account

    def get(self, request: Request) -> Response:
        """A page of accounts by name."""
        return paginated_response(
            request=request,
            view=self,
            queryset=Account.objects.all(),
            serializer_class=AccountOutput,
        )

    def post(self, request: Request) -> Response:
        """Create an account with a zero balance."""
        serializer = AccountInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = account_create(name=serializer.validated_data["name"])
        return Response(AccountOutput(account).data, status=status.HTTP_201_CREATED)


class AccountDetailApi(APIView):
    """One account (`view_account`)."""

    permission_model = Account

    def get(self, request: Request, account_id: int) -> Response:
        """The account with its balance."""
        return Response(AccountOutput(get_object_or_404(Account, pk=account_id)).data)


class AccountCreditApi(APIView):
    """Add credit (or an adjustment) to an account through the ledger: `billing.add_credit`."""

    method_permissions = {"POST": (ADD_CREDIT,)}

    def post(self, request: Request, account_id: int) -> Response:
        """Post a credit or adjustment entry; the balance moves by the same amount."""
        account = get_object_or_404(Account, pk=account_id)
        serializer = CreditInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = ledger_post(
            account=account,
            kind=data["kind"],
            amount=data["amount"],
            description=data.get("description", ""),
        )
        return Response(LedgerEntryOutput(entry).data, status=status.HTTP_201_CREATED)


class KeyInput(serializers.Serializer[Any]):
    """What a client may set on an API key."""

    name = serializers.CharField(max_length=200)
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(),
        help_text="Required: the account whose credit the key spends (no default account).",
    )
    spend_limit = MoneyField(required=False, allow_null=True)
    limit_reset = serializers.ChoiceField(
        choices=LimitReset.choices, required=False, allow_null=True
    )
    rpm_limit = serializers.IntegerField(
        min_value=1, max_value=MAX_INTEGER, required=False, allow_null=True
    )
    tpm_limit = serializers.IntegerField(
        min_value=1, max_value=MAX_INTEGER, required=False, allow_null=True
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_limit_reset(self, value: str | None) -> str:
        """Store "no reset" as the empty choice."""
        return value or ""


class KeyOutput(serializers.ModelSerializer[ApiKey]):
    """A key as the API shows it: never the secret or its hash."""

    spend_limit = MoneyField(allow_null=True)
    spend = serializers.SerializerMethodField()
    limit_remaining = serializers.SerializerMethodField()
    limit_reset = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "account",
            "prefix",
            "spend_limit",
            "limit_reset",
            "spend",
            "limit_remaining",
            "rpm_limit",
            "tpm_limit",
            "allowed_models",
            "expires_at",
            "revoked",
            "revoked_at",
            "last_used_at",
            "created_at",
        ]

    def get_limit_reset(self, key: ApiKey) -> str | None:
        """`null` when the limit never resets."""
        return key.limit_reset or None

    def get_spend(self, key: ApiKey) -> str:
        """Spend in the current limit period (all time without a reset), a decimal string."""
        return format_money(key_period_spend(key=key))

    def get_limit_remaining(self, key: ApiKey) -> str | None:
        """What the key may still spend this period; `null` without a limit."""
        remaining = key_limit_remaining(key=key)
        return None if remaining is None else format_money(remaining)


class KeyListApi(APIView):
    """List keys (`view_apikey`), or create one (`add_apikey`; the secret is returned once, as
    `key`)."""

    permission_model = ApiKey

    def get(self, request: Request) -> Response:
        """A page of keys, newest first."""
        return paginated_response(
            request=request, view=self, queryset=ApiKey.objects.all(), serializer_class=KeyOutput
        )

    def post(self, request: Request) -> Response:
        """Create a key in the given account (400 naming `account` when there is none)."""
        serializer = KeyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        account = fields.pop("account")
        key, secret = api_key_create(account=account, **fields)
        return Response({**KeyOutput(key).data, "key": secret}, status=status.HTTP_201_CREATED)


class KeyDetailApi(APIView):
    """Read (`view_apikey`) or change (`change_apikey`) a key; DELETE revokes it, which keeps
    the key and so needs `change_apikey` too."""

    permission_model = ApiKey
    method_permissions = {"DELETE": (model_perm(ApiKey, "change"),)}

    def get(self, request: Request, key_id: int) -> Response:
        """One key."""
        return Response(KeyOutput(get_object_or_404(ApiKey, pk=key_id)).data)

    def patch(self, request: Request, key_id: int) -> Response:
        """Change the given fields; a key never moves to another account."""
        key = get_object_or_404(ApiKey, pk=key_id)
        serializer = KeyInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if "account" in fields:
            raise serializers.ValidationError({"account": ["A key cannot change accounts."]})
        return Response(KeyOutput(api_key_update(key=key, **fields)).data)

    def delete(self, request: Request, key_id: int) -> Response:
        """Revoke the key; it stays listed, marked revoked."""
        api_key_revoke(key=get_object_or_404(ApiKey, pk=key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsageFilterInput(serializers.Serializer[Any]):
    """The usage list's query parameters."""

    key = serializers.IntegerField(required=False)
    account = serializers.IntegerField(required=False)
    model = serializers.CharField(required=False)
    provider = serializers.CharField(required=False)
    channel = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=UsageStatus.choices, required=False)
    endpoint = serializers.ChoiceField(choices=Endpoint.choices, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate_since(self, value: datetime) -> datetime:
        """Within the range reports can round (see `filter_time_in_range`)."""
        return self._in_range(value)

    def validate_until(self, value: datetime) -> datetime:
        """Within the range reports can round (see `filter_time_in_range`)."""
        return self._in_range(value)

    def _in_range(self, value: datetime) -> datetime:
        if not filter_time_in_range(value):
            raise serializers.ValidationError(TIME_OUT_OF_RANGE)
        return value


class UsageOutput(serializers.ModelSerializer[UsageRecord]):
    """A usage record; its `id` is the request's `x-request-id`."""

    input_price = MoneyField(allow_null=True)
    output_price = MoneyField(allow_null=True)
    cached_input_price = MoneyField(allow_null=True)
    cache_write_price = MoneyField(allow_null=True)
    cache_write_1h_price = MoneyField(allow_null=True)
    cost = MoneyField()
    cache_savings = MoneyField()

    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "created_at",
            "account",
            "key",
            "endpoint",
            "model",
            "served_model",
            "provider",
            "channel",
            "stream",
            "status",
            "http_status",
            "error_code",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "usage_source",
            "input_price",
            "output_price",
            "cached_input_price",
            "cache_write_price",
            "cache_write_1h_price",
            "cost",
            "cache_savings",
            "latency_ms",
            "ttft_ms",
            "attempts",
            "user",
            "affinity_source",
            "affinity_routed",
        ]


class UsageListApi(APIView):
    """Usage records, newest first, filtered and paginated (`view_usagerecord`)."""

    permission_model = UsageRecord

    def get(self, request: Request) -> Response:
        """A page of records matching the query's filters; 400 on a malformed filter."""
        filters = UsageFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=usage_list(filters=UsageFilters(**filters.validated_data)),
            serializer_class=UsageOutput,
        )


class ReconcileApi(APIView):
    """`GET /api/admin/reports/reconcile/`: whether balances, ledger and usage costs agree;
    it reads all three, so it needs the view permission of each."""

    method_permissions = {
        "GET": tuple(model_perm(model, "view") for model in (Account, LedgerEntry, UsageRecord))
    }

    def get(self, request: Request) -> Response:
        """`{ok, accounts, ledger_total, charges_total, usage_cost_total, problems}`."""
        return Response(reconcile().as_dict())

"""Accounts with prepaid credit, their ledger, API keys, and one usage record per request."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from channels.models import Channel
from core.money import NON_NEGATIVE, MoneyField
from core.usage import AffinitySource, Endpoint, UsageStatus


class Account(models.Model):
    """An owner of API keys holding prepaid credit; `balance` always equals its ledger's sum."""

    name = models.CharField(max_length=200, unique=True)
    balance = MoneyField(default=Decimal(0), editable=False)
    reserved = MoneyField(
        default=Decimal(0),
        editable=False,
        help_text="Worst-case cost of requests in flight (database reservations only).",
    )
    budget_version = models.BigIntegerField(
        default=0, editable=False, help_text="Bumped with every balance change."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("add_credit", "Can add credit or an adjustment to an account")]

    def __str__(self) -> str:
        return self.name


class LimitReset(models.TextChoices):
    """How often a key's spend limit starts again (UTC)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class ApiKey(models.Model):
    """A client credential: stored as a public prefix and a SHA-256 hash, never in the clear."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    spend_limit = MoneyField(null=True, blank=True, validators=NON_NEGATIVE)
    limit_reset = models.CharField(max_length=8, choices=LimitReset.choices, blank=True)
    spend_in_period = MoneyField(default=Decimal(0), editable=False)
    period_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    reserved = MoneyField(
        default=Decimal(0),
        editable=False,
        help_text="Worst-case cost of requests in flight (database reservations only).",
    )
    budget_version = models.BigIntegerField(
        default=0, editable=False, help_text="Bumped with every change of the period spend."
    )
    rpm_limit = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    tpm_limit = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    allowed_models = models.JSONField(default=list, blank=True, help_text="Empty = every model.")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None

    def is_expired(self) -> bool:
        """Whether the key's expiry has passed."""
        return self.expires_at is not None and self.expires_at <= timezone.now()


class UsageSource(models.TextChoices):
    """Where a record's token counts come from."""

    PROVIDER = "provider"
    ESTIMATED = "estimated"


class UsageRecord(models.Model):
    """Exactly one per authenticated client request: tokens, prices, cost, timing, attempts."""

    id = models.CharField(primary_key=True, max_length=40, help_text="= the x-request-id header")
    created_at = models.DateTimeField(default=timezone.now)
    # The foreign keys below are indexed by the composite indexes in Meta.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="usage_records", db_index=False
    )
    key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, related_name="usage_records", db_index=False
    )
    model = models.CharField(max_length=200, help_text="The model the client asked for.")
    served_model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="usage_records",
        db_index=False,
    )
    stream = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=UsageStatus.choices)
    http_status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    # Database defaults too, for the writers of raw SQL that name only the older columns.
    cache_write_tokens = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Prompt tokens written to a 5-minute cache (part of the prompt).",
    )
    cache_write_1h_tokens = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Prompt tokens written to a 1-hour cache (part of the prompt).",
    )
    usage_source = models.CharField(
        max_length=16, choices=UsageSource.choices, default=UsageSource.PROVIDER
    )
    input_price = MoneyField(null=True, blank=True)
    output_price = MoneyField(null=True, blank=True)
    cached_input_price = MoneyField(null=True, blank=True)
    cache_write_price = MoneyField(null=True, blank=True)
    cache_write_1h_price = MoneyField(null=True, blank=True)
    cost = MoneyField(default=Decimal(0))
    latency_ms = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.JSONField(default=list, blank=True)
    user = models.CharField(max_length=256, blank=True)
    endpoint = models.CharField(
        max_length=16,
        choices=Endpoint.choices,
        default=Endpoint.CHAT,
        db_default=Endpoint.CHAT,
        help_text="The front door the request came through.",
    )
    cache_savings = MoneyField(
        default=Decimal(0),
        db_default=Decimal(0),
        help_text="What cache reads saved: (input - cached input price) * cached tokens.",
    )
    affinity_source = models.CharField(
        max_length=16,
        choices=AffinitySource.choices,
        blank=True,
        default=AffinitySource.NONE,
        db_default=AffinitySource.NONE,
        help_text="What identified the conversation for cache affinity.",
    )
    affinity_routed = models.BooleanField(
        default=False,
        db_default=False,
        help_text="The first attempt went to the channel that served the conversation last.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="usage_time"),
            models.Index(fields=["key", "-created_at"], name="usage_key_time"),
            models.Index(fields=["account", "-created_at"], name="usage_account_time"),
            models.Index(fields=["model", "-created_at"], name="usage_model_time"),
            models.Index(fields=["channel", "-created_at"], name="usage_channel_time"),
            models.Index(fields=["endpoint", "-created_at"], name="usage_endpoint_time"),
        ]

    def __str__(self) -> str:
        return self.id


RECORD_MONEY_FIELDS = (
    "input_price",
    "output_price",
    "cached_input_price",
    "cache_write_price",
    "cache_write_1h_price",
    "cost",
    "cache_savings",
)
"""A usage record's money fields (decimal strings in its journal line and dead letter)."""


class UsageAttempt(models.Model):
    """One upstream attempt of a usage record, as its `attempts` list has it: every attempt
    counts for its channel's figures, the serving one and the failed ones alike."""

    request = models.ForeignKey(UsageRecord, on_delete=models.CASCADE, related_name="attempt_rows")
    position = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(help_text="= the record's created_at")
    channel = models.ForeignKey(
        Channel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attempts",
        db_index=False,
    )
    channel_name = models.CharField(max_length=200)
    model = models.CharField(max_length=200, help_text="The public model the attempt was for.")
    outcome = models.CharField(max_length=32)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "position"]
        indexes = [models.Index(fields=["channel", "-created_at"], name="attempt_channel_time")]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.position}"


class LedgerKind(models.TextChoices):
    """What moved an account's balance."""

    CREDIT = "credit"
    CHARGE = "charge"
    ADJUSTMENT = "adjustment"


class LedgerEntry(models.Model):
    """One signed movement of an account's credit; charges are negative."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    amount = MoneyField()
    usage_record = models.OneToOneField(
        UsageRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="charge"
    )
    request_id = models.CharField(
        max_length=40,
        blank=True,
        db_index=True,
        help_text="The charged request's id; kept when its raw usage record is pruned.",
    )
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-created_at"], name="ledger_account_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.account_id})"


class Reservation(models.Model):
    """The worst-case cost a request in flight holds against its account and key (database
    reservations, used without Redis); deleted when its usage record is written, or expired."""

    id = models.CharField(primary_key=True, max_length=40, help_text="= the request id")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    amount = MoneyField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.id}: {self.amount}"


class UsageDeadLetter(models.Model):
    """A usage record the database refused, set aside with the error instead of being lost:
    an operator retries it (stored with its charge) once the cause is fixed."""

    request_id = models.CharField(max_length=40, db_index=True, help_text="= the record's id")
    created_at = models.DateTimeField(default=timezone.now)
    record = models.JSONField(
        help_text="The record's fields (money as decimal strings, times as ISO 8601)."
    )
    error = models.TextField(help_text="Why the database refused it (secrets scrubbed).")
    retries = models.PositiveIntegerField(default=0, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="dead_letter_unresolved",
            )
        ]

    def __str__(self) -> str:
        return self.request_id

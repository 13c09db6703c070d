"""Usage rollups (hourly and daily sums per key, model, channel, status and endpoint) and their
queue."""

from decimal import Decimal

from django.db import models

from core.money import MoneyField

# The dimensions a rollup row is unique by; every usage filter is one of them.
DIMENSIONS = (
    "bucket",
    "account_id",
    "key_id",
    "model",
    "provider",
    "channel_id",
    "status",
    "endpoint",
)
# What a rollup row sums (besides the latency histogram).
SUMS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cost",
    "cache_savings",
    "latency_ms_sum",
)
NO_CHANNEL = 0  # channel_id of requests that reached no channel
# What a dimension rollup row is unique by, and the dimensions it is kept for.
DIMENSION_KEYS = ("bucket", "dimension", "value")
ALL = "all"
DIMENSION_NAMES = (ALL, "model", "provider", "channel", "key", "account", "endpoint")


class PendingUsage(models.Model):
    """A usage record not rolled up yet; filled by a database trigger, in insertion order."""

    record_id = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.record_id


class UsageColumns(models.Model):
    """What every rollup row sums: requests, errors, tokens, cost and a latency histogram."""

    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_write_1h_tokens = models.BigIntegerField(default=0)
    cost = MoneyField(default=Decimal(0))
    cache_savings = MoneyField(default=Decimal(0), db_default=Decimal(0))
    latency_ms_sum = models.BigIntegerField(default=0)
    # Request counts per latency bucket (reports.histogram.LATENCY_BOUNDS_MS).
    lat_00 = models.BigIntegerField(default=0)
    lat_01 = models.BigIntegerField(default=0)
    lat_02 = models.BigIntegerField(default=0)
    lat_03 = models.BigIntegerField(default=0)
    lat_04 = models.BigIntegerField(default=0)
    lat_05 = models.BigIntegerField(default=0)
    lat_06 = models.BigIntegerField(default=0)
    lat_07 = models.BigIntegerField(default=0)
    lat_08 = models.BigIntegerField(default=0)
    lat_09 = models.BigIntegerField(default=0)
    lat_10 = models.BigIntegerField(default=0)
    lat_11 = models.BigIntegerField(default=0)
    lat_12 = models.BigIntegerField(default=0)
    lat_13 = models.BigIntegerField(default=0)
    lat_14 = models.BigIntegerField(default=0)
    lat_15 = models.BigIntegerField(default=0)
    lat_16 = models.BigIntegerField(default=0)
    lat_17 = models.BigIntegerField(default=0)
    lat_18 = models.BigIntegerField(default=0)
    lat_19 = models.BigIntegerField(default=0)
    lat_20 = models.BigIntegerField(default=0)
    lat_21 = models.BigIntegerField(default=0)
    lat_22 = models.BigIntegerField(default=0)
    lat_23 = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageRollup(UsageColumns):
    """Sums of the usage records of one time bucket and one combination of dimensions.

    Ids are plain integers, not foreign keys: rollups outlive what they describe.
    """

    bucket = models.DateTimeField()
    account_id = models.BigIntegerField()
    key_id = models.BigIntegerField()
    model = models.CharField(max_length=200)
    provider = models.CharField(max_length=64)
    channel_id = models.BigIntegerField(help_text="0 = no channel was reached.")
    status = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=16, default="chat")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.model} {self.status}"


class HourlyUsage(UsageRollup):
    """Usage summed per hour (UTC)."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=DIMENSIONS, name="hourly_usage_unique")]
        indexes = [
            models.Index(fields=["bucket"], name="hourly_usage_bucket"),
            models.Index(fields=["account_id", "bucket"], name="hourly_usage_account"),
        ]


class DailyUsage(UsageRollup):
    """Usage summed per day (UTC)."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=DIMENSIONS, name="daily_usage_unique")]
        indexes = [
            models.Index(fields=["bucket"], name="daily_usage_bucket"),
            models.Index(fields=["account_id", "bucket"], name="daily_usage_account"),
        ]


class DimensionRollup(UsageColumns):
    """Sums of one time bucket per value of one dimension, whatever the others: what the
    unfiltered overview and reports read. `dimension` "all" holds the bucket's total."""

    bucket = models.DateTimeField()
    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=200, help_text="A model, provider or endpoint, or an id.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.dimension}={self.value}"


class HourlyDimensionUsage(DimensionRollup):
    """Usage per hour and dimension value."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=DIMENSION_KEYS, name="hourly_dimension_usage_unique")
        ]
        indexes = [models.Index(fields=["dimension", "bucket"], name="hourly_dimension_time")]


class DailyDimensionUsage(DimensionRollup):
    """Usage per day and dimension value."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=DIMENSION_KEYS, name="daily_dimension_usage_unique")
        ]
        indexes = [models.Index(fields=["dimension", "bucket"], name="daily_dimension_time")]

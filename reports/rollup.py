"""The rollup: consume queued usage records into hourly and daily sums, each record once.

One batch is one transaction: the queued records are summed per hour (and per day) by the
database itself (`INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE` adding to the stored
sums) and their queue rows deleted, all in one snapshot, so a record is counted exactly once.
"""

from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, TruncDay, TruncHour

from billing.models import UsageRecord, UsageStatus
from reports.histogram import BUCKET_FIELDS, LATENCY_BOUNDS_MS
from reports.locks import rollup_lock, snapshot
from reports.models import (
    ALL,
    DIMENSION_KEYS,
    DIMENSION_NAMES,
    DIMENSIONS,
    NO_CHANNEL,
    SUMS,
    DailyDimensionUsage,
    DailyUsage,
    HourlyDimensionUsage,
    HourlyUsage,
    PendingUsage,
)

ROLLUP_BATCH = 20_000
COUNTED = SUMS + BUCKET_FIELDS
TABLES = (
    (TruncHour, HourlyUsage, HourlyDimensionUsage),
    (TruncDay, DailyUsage, DailyDimensionUsage),
)


def latency_bucket_counts() -> dict[str, Count]:
    """One COUNT per latency bucket, by the bucket's [low, high) bounds."""
    counts = {}
    lows = (0, *LATENCY_BOUNDS_MS)
    for index, field in enumerate(BUCKET_FIELDS):
        condition = Q(latency_ms__gte=lows[index])
        if index < len(LATENCY_BOUNDS_MS):
            condition &= Q(latency_ms__lt=LATENCY_BOUNDS_MS[index])
        counts[field] = Count("pk", filter=condition)
    return counts


def _sums() -> dict[str, Any]:
    """The summed columns, named `r_<rollup column>`."""
    sums: dict[str, Any] = {
        "r_requests": Count("pk"),
        "r_errors": Count("pk", filter=~Q(status=UsageStatus.OK)),
        "r_prompt_tokens": Sum("prompt_tokens"),
        "r_completion_tokens": Sum("completion_tokens"),
        "r_cached_tokens": Sum("cached_tokens"),
        "r_reasoning_tokens": Sum("reasoning_tokens"),
        "r_cost": Sum("cost"),
        "r_latency_ms_sum": Sum("latency_ms"),
    }
    sums.update({f"r_{name}": count for name, count in latency_bucket_counts().items()})
    return sums


def _grouped_sums(records: QuerySet[UsageRecord], keys: dict[str, Any]) -> QuerySet[Any]:
    """Records summed per the given keys (annotations named `r_<rollup column>`)."""
    grouped: QuerySet[Any] = records.order_by().annotate(**keys).values(*keys).annotate(**_sums())
    return grouped


def _channel_id() -> Coalesce:
    """The record's channel id, NO_CHANNEL for none."""
    return Coalesce("channel_id", Value(NO_CHANNEL))


def _dimension_value(dimension: str) -> Any:
    """What a record is counted under in a dimension rollup (as text)."""
    text: CharField[Any, Any] = CharField()
    return {
        ALL: Value("", output_field=text),
        "model": F("model"),
        "provider": F("provider"),
        "channel": Cast(_channel_id(), output_field=text),
        "key": Cast("key_id", output_field=text),
        "account": Cast("account_id", output_field=text),
    }[dimension]


def _dimension_select(
    records: QuerySet[UsageRecord], truncate: Any, dimension: str
) -> QuerySet[Any]:
    """Records summed per bucket and value of one dimension."""
    return _grouped_sums(
        records,
        {
            "r_bucket": truncate("created_at"),
            "r_dimension": Value(dimension, output_field=CharField()),
            "r_value": _dimension_value(dimension),
        },
    )


def _rollup_select(records: QuerySet[UsageRecord], truncate: Any) -> QuerySet[Any]:
    """Records summed per bucket and combination of dimensions."""
    dimensions = {
        "r_bucket": truncate("created_at"),
        "r_account_id": F("account_id"),
        "r_key_id": F("key_id"),
        "r_model": F("model"),
        "r_provider": F("provider"),
        "r_channel_id": _channel_id(),
        "r_status": F("status"),
    }
    return _grouped_sums(records, dimensions)


def _add_to(model: type[Any], select: QuerySet[Any], unique: tuple[str, ...]) -> None:
    """INSERT the selected sums into a rollup table, adding them to the row with the same
    `unique` columns when there is one."""
    sql, params = select.query.get_compiler(connection=connection).as_sql()
    names = list(select.query.annotation_select)
    if select.query.values_select or sorted(names) != sorted(f"r_{c}" for c in unique + COUNTED):
        raise RuntimeError(f"unexpected rollup select columns: {names}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [quote(name.removeprefix("r_")) for name in names]
    counted = [quote(name) for name in COUNTED]
    additions = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in counted)
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) {sql} "
        f"ON CONFLICT ({', '.join(quote(name) for name in unique)}) DO UPDATE SET {additions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def usage_rollup_step(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up the oldest queued records (at most `batch_size`); return how many were consumed.

    Returns 0 when nothing is queued or another worker is rolling up right now.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            snapshot()
        if not rollup_lock():
            return 0
        last = (
            PendingUsage.objects.order_by("id")
            .values_list("id", flat=True)[batch_size - 1 : batch_size]
            .first()
        )
        queued = (
            PendingUsage.objects.all()
            if last is None
            else PendingUsage.objects.filter(id__lte=last)
        )
        records = UsageRecord.objects.filter(pk__in=queued.values("record_id"))
        for truncate, rollup, by_dimension in TABLES:
            _add_to(rollup, _rollup_select(records, truncate), DIMENSIONS)
            for dimension in DIMENSION_NAMES:
                select = _dimension_select(records, truncate, dimension)
                _add_to(by_dimension, select, DIMENSION_KEYS)
        consumed, _ = queued.delete()
    return consumed


def usage_rollup_run(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up everything queued so far, batch by batch; return how many records were consumed."""
    total = 0
    while consumed := usage_rollup_step(batch_size=batch_size):
        total += consumed
    return total

"""The rollup: consume queued usage records into hourly and daily sums, each record once.

One batch is one transaction: the queued records are summed per hour into a temporary table
by the database itself, each rollup adds those sums to its rows (`INSERT … SELECT … GROUP BY …
ON CONFLICT DO UPDATE`), and the queue rows are deleted, all in one snapshot, so a record is
counted exactly once.
"""

from typing import Any

from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Model, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncHour

from billing.models import UsageRecord
from channels.models import ChannelModel
from core.usage import UsageStatus
from reports.histogram import BUCKET_FIELDS, LATENCY_BOUNDS_MS
from reports.locks import ROLLUP_LOCK_KEY, rollup_lock, snapshot
from reports.models import (
    ALL,
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
BATCH_TABLE = "reports_rollup_batch"  # temporary, per connection
# (column, SQL expression over the source, grouped by it)
Key = tuple[str, str, bool]
# The one model key of every record whose model no channel offered (refused as unknown, or
# never routed), so that client-chosen names cannot grow the rollups; the record keeps its name.
UNKNOWN_MODEL = "(unknown)"
MODEL_NOT_FOUND = "model_not_found"  # the gateway's error code (gateway.errors.ModelNotFound)


def report_model() -> Case:
    """A usage record's model as rollups and reports key it: UNKNOWN_MODEL for a request
    refused as an unknown model, or one that no channel served and whose model no channel
    offers; the requested model otherwise."""
    offered = ChannelModel.objects.values("model")
    unknown = Q(error_code=MODEL_NOT_FOUND) | (Q(served_model="") & ~Q(model__in=offered))
    return Case(
        When(unknown, then=Value(UNKNOWN_MODEL)), default=F("model"), output_field=CharField()
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
        "r_cache_write_tokens": Sum("cache_write_tokens"),
        "r_cache_write_1h_tokens": Sum("cache_write_1h_tokens"),
        "r_cost": Sum("cost"),
        "r_cache_savings": Sum("cache_savings"),
        "r_latency_ms_sum": Sum("latency_ms"),
    }
    sums.update({f"r_{name}": count for name, count in latency_bucket_counts().items()})
    return sums


def _rollup_select(records: QuerySet[UsageRecord]) -> QuerySet[Any]:
    """Records summed per hour and combination of dimensions (columns named `r_<column>`)."""
    dimensions = {
        "r_bucket": TruncHour("created_at"),
        "r_account_id": F("account_id"),
        "r_key_id": F("key_id"),
        "r_model": report_model(),
        "r_provider": F("provider"),
        "r_channel_id": Coalesce("channel_id", Value(NO_CHANNEL)),
        "r_status": F("status"),
        "r_endpoint": F("endpoint"),
    }
    grouped: QuerySet[Any] = (
        records.order_by().annotate(**dimensions).values(*dimensions).annotate(**_sums())
    )
    names = list(grouped.query.annotation_select)
    if grouped.query.values_select or names != [f"r_{c}" for c in DIMENSIONS + COUNTED]:
        raise RuntimeError(f"unexpected rollup select columns: {names}")
    return grouped


def _upsert(
    target: type[Model],
    keys: list[Key],
    source: str,
    prefix: str,
    counted: tuple[str, ...] = COUNTED,
) -> None:
    """Sum the source's rows per key into `target`, adding to the rows it already holds
    (`counted` names the summed columns: a migration passes those of its time)."""
    quote = connection.ops.quote_name
    table = quote(target._meta.db_table)
    columns = [quote(column) for column, _, _ in keys] + [quote(name) for name in counted]
    select = [expression for _, expression, _ in keys]
    select += [f"SUM({prefix}{name})" for name in counted]
    groups = [str(position) for position, key in enumerate(keys, start=1) if key[2]]
    additions = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in counted
    )
    unique = ", ".join(quote(column) for column, _, _ in keys)
    # "WHERE true" tells SQLite that ON starts the upsert, not a join constraint.
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)} "  # noqa: S608
        f"FROM {source} WHERE true GROUP BY {', '.join(groups)} "
        f"ON CONFLICT ({unique}) DO UPDATE SET {additions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement)


def _day(bucket: str) -> str:
    """SQL truncating a bucket column to its day (UTC), parameters inlined."""
    # Django 5 returns (sql, params); the stubs still describe the older string.
    truncated: Any = connection.ops.datetime_trunc_sql("day", bucket, (), None)
    sql, params = truncated
    literals = tuple("NULL" if param is None else f"'{param}'" for param in params)
    return str(sql % literals)


def dimension_upserts(
    *,
    source: str,
    prefix: str,
    target: type[HourlyDimensionUsage] | type[DailyDimensionUsage],
    dimensions: tuple[str, ...] = DIMENSION_NAMES,
    counted: tuple[str, ...] = COUNTED,
) -> None:
    """Add a source of combined rollup rows to a per-dimension rollup, per value (of every
    dimension, or of the ones named; summing `counted`, as for `_upsert`)."""
    bucket = f"{prefix}bucket" if target is HourlyDimensionUsage else _day(f"{prefix}bucket")
    values = {
        ALL: ("''", False),
        "model": (f"{prefix}model", True),
        "provider": (f"{prefix}provider", True),
        "channel": (f"CAST({prefix}channel_id AS varchar(200))", True),
        "key": (f"CAST({prefix}key_id AS varchar(200))", True),
        "account": (f"CAST({prefix}account_id AS varchar(200))", True),
        "endpoint": (f"{prefix}endpoint", True),
    }
    for dimension in dimensions:
        value, grouped = values[dimension]
        keys = [("bucket", bucket, True), ("dimension", f"'{dimension}'", False)]
        _upsert(target, [*keys, ("value", value, grouped)], source, prefix, counted)


def unknown_models_fold(
    *, dimensions: tuple[str, ...] = DIMENSIONS, counted: tuple[str, ...] = COUNTED
) -> None:
    """Merge the rows that rollups made per unknown model before the bucket existed into
    UNKNOWN_MODEL: combined rows that reached no channel with a model no channel offers, then
    the per-model dimension rows, summed again from the combined ones. A migration passes the
    combined rollups' `dimensions` and `counted` columns of its time."""
    quote = connection.ops.quote_name
    offered = quote(ChannelModel._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
        for target in (HourlyUsage, DailyUsage):
            table = quote(target._meta.db_table)
            # Constants only, no input: the WHERE can be inlined into _upsert's source.
            where = (
                f"channel_id = {NO_CHANNEL} AND model <> '{UNKNOWN_MODEL}' "  # noqa: S608
                f"AND model NOT IN (SELECT model FROM {offered})"
            )
            keys = [(column, column, True) for column in dimensions]
            keys[dimensions.index("model")] = ("model", f"'{UNKNOWN_MODEL}'", False)
            folded = f"(SELECT * FROM {table} WHERE {where}) folded"  # noqa: S608
            _upsert(target, keys, folded, "", counted)
            cursor.execute(f"DELETE FROM {table} WHERE {where}")  # noqa: S608
        for source, dimensional in (
            (HourlyUsage, HourlyDimensionUsage),
            (DailyUsage, DailyDimensionUsage),
        ):
            dimension_table = quote(dimensional._meta.db_table)
            cursor.execute(f"DELETE FROM {dimension_table} WHERE dimension = 'model'")  # noqa: S608
            dimension_upserts(
                source=quote(source._meta.db_table),
                prefix="",
                target=dimensional,
                dimensions=("model",),
                counted=counted,
            )


def _add_batch(records: QuerySet[UsageRecord]) -> None:
    """Add a batch of records to every rollup: summed once per hour into a temporary table,
    from which each rollup takes its rows."""
    sql, params = _rollup_select(records).query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BATCH_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {BATCH_TABLE} AS {sql}", params)
    combined = [(column, f"r_{column}", True) for column in DIMENSIONS]
    _upsert(HourlyUsage, combined, BATCH_TABLE, "r_")
    _upsert(DailyUsage, [("bucket", _day("r_bucket"), True), *combined[1:]], BATCH_TABLE, "r_")
    dimension_upserts(source=BATCH_TABLE, prefix="r_", target=HourlyDimensionUsage)
    dimension_upserts(source=BATCH_TABLE, prefix="r_", target=DailyDimensionUsage)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {BATCH_TABLE}")


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
        _add_batch(UsageRecord.objects.filter(pk__in=queued.values("record_id")))
        consumed, _ = queued.delete()
    return consumed


def usage_rollup_run(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up everything queued so far, batch by batch; return how many records were consumed."""
    total = 0
    while consumed := usage_rollup_step(batch_size=batch_size):
        total += consumed
    return total

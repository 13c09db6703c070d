"""The database trigger that queues every new usage record for the rollup, on any backend.

Usage records have string ids and are written in batches up to seconds after their request
started, so neither the id nor `created_at` tells what is new. Every inserted record's id is
queued in the pending-usage table (a serial id = insertion order) in the inserting transaction;
the rollup consumes the queue, so a late record lands in its own hour and is counted once.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

from billing.models import UsageRecord
from reports.models import PendingUsage


def _postgres_sql(records: str, queue: str) -> tuple[str, ...]:
    return (
        f"""
        CREATE OR REPLACE FUNCTION reports_queue_usage() RETURNS trigger AS $$
        BEGIN
            INSERT INTO {queue} (record_id) VALUES (NEW.id);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """,  # noqa: S608 (table names from the models, not from input)
        f"DROP TRIGGER IF EXISTS reports_queue_usage ON {records}",
        f"""
        CREATE TRIGGER reports_queue_usage AFTER INSERT ON {records}
        FOR EACH ROW EXECUTE FUNCTION reports_queue_usage()
        """,
    )


def _sqlite_sql(records: str, queue: str) -> tuple[str, ...]:
    return (
        f"""
        CREATE TRIGGER IF NOT EXISTS reports_queue_usage AFTER INSERT ON {records}
        BEGIN
            INSERT INTO {queue} (record_id) VALUES (NEW.id);
        END
        """,  # noqa: S608 (table names from the models, not from input)
    )


def install_usage_trigger(
    connection: BaseDatabaseWrapper, *, records: str | None = None, queue: str | None = None
) -> None:
    """Create (or replace) the trigger on the `records` table (UsageRecord's by default) that
    queues into `queue` (PendingUsage's), once both tables exist; idempotent. Migrations pass
    the names as they were then."""
    if records is None or queue is None:
        records, queue = UsageRecord._meta.db_table, PendingUsage._meta.db_table
    if not {records, queue} <= set(connection.introspection.table_names()):
        return
    quote = connection.ops.quote_name
    build = _postgres_sql if connection.vendor == "postgresql" else _sqlite_sql
    with connection.cursor() as cursor:
        for statement in build(quote(records), quote(queue)):
            cursor.execute(statement)

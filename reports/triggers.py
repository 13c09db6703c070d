"""The database trigger that queues every new usage record for the rollup, on any backend.

Usage records have string ids and are written in batches up to seconds after their request
started, so neither the id nor `created_at` tells what is new. Every inserted record's id is
queued in `reports_pendingusage` (a serial id = insertion order) in the inserting transaction;
the rollup consumes the queue, so a late record lands in its own hour and is counted once.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

POSTGRES_SQL = (
    """
    CREATE OR REPLACE FUNCTION reports_queue_usage() RETURNS trigger AS $$
    BEGIN
        INSERT INTO reports_pendingusage (record_id) VALUES (NEW.id);
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS reports_queue_usage ON billing_usagerecord",
    """
    CREATE TRIGGER reports_queue_usage AFTER INSERT ON billing_usagerecord
    FOR EACH ROW EXECUTE FUNCTION reports_queue_usage()
    """,
)

SQLITE_SQL = (
    """
    CREATE TRIGGER IF NOT EXISTS reports_queue_usage AFTER INSERT ON billing_usagerecord
    BEGIN
        INSERT INTO reports_pendingusage (record_id) VALUES (NEW.id);
    END
    """,
)


def install_usage_trigger(connection: BaseDatabaseWrapper) -> None:
    """Create (or replace) the trigger once both tables exist; idempotent."""
    tables = set(connection.introspection.table_names())
    if not {"billing_usagerecord", "reports_pendingusage"} <= tables:
        return
    statements = POSTGRES_SQL if connection.vendor == "postgresql" else SQLITE_SQL
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)

"""Transaction helpers of the reports: one consistent snapshot, one rollup at a time."""

from django.db import connection

# pg_advisory_xact_lock key of the rollup ("rollup" in ASCII).
ROLLUP_LOCK_KEY = 0x726F6C6C7570


def snapshot() -> None:
    """Make the current transaction read one snapshot (PostgreSQL; SQLite already does).

    Must be the transaction's first statement.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def rollup_lock() -> bool:
    """Take the rollup's lock until the transaction ends; False when another worker holds it."""
    if connection.vendor != "postgresql":
        return True  # SQLite runs one writing transaction at a time anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])

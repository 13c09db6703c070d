"""One SQLite write transaction at a time in this process.

SQLite has a single writer: a transaction that finds the file locked sleeps in steps of one
millisecond and more before it tries again, which showed as the gateway's latency tail once
every request reserved its budget in the database. Writers of this process queue on a lock
instead and start the moment the previous one commits. Other databases lock rows: no-op there.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

_lock = threading.Lock()


@contextmanager
def serialized_writes(using: str = "default") -> Iterator[None]:
    """Hold the process's SQLite write lock for the block (a no-op on other databases)."""
    if connections[using].vendor != "sqlite":
        yield
        return
    with _lock:
        yield

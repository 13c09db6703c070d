"""This process's request journal (format and recovery: `billing.journal`).

Requests append their steps (a few microseconds each: one line copied into a file mapped into
memory, no fsync — the kernel keeps what a killed process wrote). A segment is replaced by a new
one once it is large or old; the requests still open are carried into the new segment, and the
old one is deleted when the recorder has stored every record that ended in it. A thread sweeps
the journals of dead processes on this machine every GATEWAY_JOURNAL_SWEEP_SECONDS (0: never).
"""

import errno
import fcntl
import logging
import mmap
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from billing.journal import encode, journal_sweep, lock_path, segment_path
from gateway.accounting import UsageDraft
from gateway.bridge.reservations import reservations
from gateway.schemas import Offer
from gateway.threads import OnDemandThread

logger = logging.getLogger(__name__)

SEGMENT_BYTES = 8 * 1024 * 1024
"""A segment this large is replaced by a new one at the next stored batch."""
SEGMENT_CAPACITY = 16 * 1024 * 1024
"""A segment's allocated size (at least twice what is carried into it); a line that does not
fit starts a new segment at once."""
SEGMENT_SECONDS = 300.0
RELAYED_EVERY_SECONDS = 1.0
"""How often a stream notes what it has relayed (the estimate of an interrupted one)."""


@dataclass(slots=True)
class _Segment:
    """A journal file mapped into memory: a line is a copy into the page cache — no system call,
    so the event loop never hands the GIL to another thread for it — and what a killed process
    copied stays in the file. Its blocks are allocated up front (no SIGBUS on a full disk); the
    unwritten rest is zeros."""

    number: int
    path: Path
    mapping: mmap.mmap
    capacity: int
    opened: float
    size: int = 0
    unstored: set[str] = field(default_factory=set)
    """Requests that ended in this segment and whose records are not stored yet."""

    def close(self) -> None:
        """Unmap and delete the file."""
        self.mapping.close()
        self.path.unlink(missing_ok=True)


class Journal:
    """The journal of this process, opened on first use (a forked child opens its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._instance = ""
        self._lock_descriptor = -1
        self._current: _Segment | None = None
        self._closed: list[_Segment] = []
        self._open: dict[str, dict[str, Any]] = {}
        self._sweeper = OnDemandThread(self._sweep_forever, name="journal-sweeper")
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: the parent's journal is not this process's."""
        self._lock = threading.Lock()
        self._started, self._current, self._closed, self._open = False, None, [], {}

    def open(self) -> None:
        """Open the journal (and start the sweeper) now rather than at the first request."""
        with self._lock:
            self._segment()

    def hold(self, draft: UsageDraft, *, prompt_tokens: int, amount: Decimal) -> None:
        """Before credit is reserved: who asks, for what, and the estimate to bill if lost."""
        self._step(
            {
                "k": "hold",
                "id": draft.id,
                "at": draft.created_at,
                "account": draft.account_id,
                "key": draft.key_id,
                "model": draft.model[:200],
                "stream": draft.stream,
                "user": draft.user[:256],
                "endpoint": draft.endpoint,
                "prompt": prompt_tokens,
                "amount": amount,
            }
        )

    def attempt(self, request_id: str, offer: Offer) -> None:
        """Before an upstream is called: the channel and the prices it would bill at."""
        self._step(
            {
                "k": "try",
                "id": request_id,
                "channel": offer.channel_id,
                "channel_name": offer.channel_name,
                "provider": offer.provider,
                "served_model": offer.model,
                "input_price": offer.input_price,
                "output_price": offer.output_price,
                "cached_input_price": offer.cached_input_price,
                "cache_write_price": offer.cache_write_price,
                "cache_write_1h_price": offer.cache_write_1h_price,
                "chars": 0,
            }
        )

    def relayed(self, request_id: str, chars: int) -> None:
        """What a stream has relayed so far (completion characters)."""
        self._step({"k": "relayed", "id": request_id, "chars": chars})

    def end(self, draft: UsageDraft) -> None:
        """The finished record, before the recorder queues it."""
        with self._lock:
            segment = self._segment()
            self._open.pop(draft.id, None)
            segment.unstored.add(draft.id)
            self._write(
                segment, encode({"k": "end", "id": draft.id, "record": draft.record_fields()})
            )

    def stored(self, request_ids: Iterable[str]) -> None:
        """The recorder stored these records: delete segments nothing needs any more, and
        start a new segment when the current one is large or old."""
        with self._lock:
            if self._current is None:
                return
            ids = set(request_ids)
            for segment in [*self._closed, self._current]:
                segment.unstored -= ids
            current = self._current
            if current.size > SEGMENT_BYTES or time.monotonic() - current.opened > SEGMENT_SECONDS:
                self._closed.append(current)
                self._current = None
                self._segment()
            for segment in [s for s in self._closed if not s.unstored]:
                segment.close()
                self._closed.remove(segment)

    def close(self) -> None:
        """At a clean shutdown, after the recorder drained: remove the journal if nothing in
        it is left to bill (else the next sweep bills it)."""
        with self._lock:
            if self._current is None or not self._started:
                return
            segments = [*self._closed, self._current]
            if self._open or any(segment.unstored for segment in segments):
                return
            for segment in segments:
                segment.close()
            lock_path(self._directory(), self._instance).unlink(missing_ok=True)
            os.close(self._lock_descriptor)
            self._current, self._closed, self._started = None, [], False

    def _step(self, entry: dict[str, Any]) -> None:
        with self._lock:
            segment = self._segment()
            self._open.setdefault(entry["id"], {}).update(entry)
            self._write(segment, encode(entry))

    def _write(self, segment: _Segment, line: bytes) -> None:
        end = segment.size + len(line)
        if end > segment.capacity:  # full: this line and the rest go to a new segment
            self._closed.append(segment)
            self._current = None
            segment = self._segment()
            end = segment.size + len(line)
        segment.mapping[segment.size : end] = line
        segment.size = end

    @staticmethod
    def _directory() -> Path:
        return Path(settings.GATEWAY_JOURNAL_DIR)

    def _segment(self) -> _Segment:
        """The segment to write to (opening the journal in a new process); call locked."""
        if not self._started:
            self._start()
        if self._current is None:
            number = self._closed[-1].number + 1 if self._closed else 0
            path = segment_path(self._directory(), self._instance, number)
            carried = [encode({**steps, "k": "open"}) for steps in self._open.values()]
            capacity = max(SEGMENT_CAPACITY, 2 * sum(len(line) for line in carried))
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _allocate(descriptor, capacity)
                mapping = mmap.mmap(descriptor, capacity)
            finally:
                os.close(descriptor)
            self._current = _Segment(number, path, mapping, capacity, time.monotonic())
            for line in carried:  # the requests still open: the old segment may go
                self._write(self._current, line)
        return self._current

    def _start(self) -> None:
        """Take a new instance name and its lock: the lock is taken on a temporary name and
        renamed, so no sweeper ever sees an unlocked lock file of a live process."""
        directory = self._directory()
        directory.mkdir(parents=True, exist_ok=True)
        self._started = True
        self._instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._current, self._closed, self._open = None, [], {}
        final = lock_path(directory, self._instance)
        temporary = final.with_suffix(".new")
        self._lock_descriptor = os.open(temporary, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_descriptor, fcntl.LOCK_EX)
        temporary.rename(final)
        if settings.GATEWAY_JOURNAL_SWEEP_SECONDS > 0:
            self._sweeper.ensure()

    def _sweep_forever(self) -> None:
        """Bill dead processes' journals now, then every GATEWAY_JOURNAL_SWEEP_SECONDS."""
        while True:
            try:
                close_old_connections()
                journal_sweep(directory=self._directory(), reservations=reservations().name)
            except Exception:
                logger.exception("sweeping the journals of stopped gateway processes failed")
            time.sleep(settings.GATEWAY_JOURNAL_SWEEP_SECONDS)


def _allocate(descriptor: int, size: int) -> None:
    """Give the file `size` bytes of disk now (a filesystem that cannot: a sparse file)."""
    try:
        os.posix_fallocate(descriptor, 0, size)
    except OSError as error:
        if error.errno not in {errno.EOPNOTSUPP, errno.EINVAL}:
            raise
        os.ftruncate(descriptor, size)


journal = Journal()

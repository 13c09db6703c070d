"""CPU time and resident memory of another process, read from /proc (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_UTIME, _STIME = 11, 12  # fields 14 and 15 of stat(5), counted after the ")" of the name


class ProcessGone(RuntimeError):
    """The watched process has exited."""


def _read(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} has exited") from None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by every thread of process `pid`."""
    stat = _read(pid, "stat")
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[_UTIME]) + int(fields[_STIME])) / _CLOCK_TICKS


def rss_kib(pid: int) -> int:
    """Resident set size of process `pid` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in _read(pid, "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ProcessGone(f"process {pid} has exited (it has no memory left)")


def core_ticks() -> list[tuple[int, int]]:
    """(busy, total) clock ticks of every CPU since boot; busy = user, nice, system, steal."""
    # Interrupt time is left out of busy: the kernel charges it to no process, so it would
    # show our own loopback traffic as somebody else's work.
    ticks = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, values[:8])
            busy = user + nice + system + steal  # guest time is already in user
            ticks.append((busy, busy + idle + iowait + irq + softirq))
    return ticks


def busy_fractions(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> list[float]:
    """How busy each CPU was between two `core_ticks()` readings, 0..1."""
    return [
        round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else 0.0
        for (busy0, total0), (busy1, total1) in zip(before, after, strict=True)
    ]


def children(pid: int) -> list[int]:
    """The pids of process `pid`'s children (every thread's), [] once it has exited."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """Process `pid` and all its descendants."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += children(current)
    return tree


def pin_tree(pid: int, cores: set[int]) -> None:
    """Move every thread of process `pid` and of its descendants onto `cores`."""
    for process in process_tree(pid):
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), cores)
            except ProcessLookupError:
                continue

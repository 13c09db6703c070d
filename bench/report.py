"""The benchmark's report: figures side by side, ratios, target checks, the table and the JSON,
door by door (chat, then the Messages and Responses doors)."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.load import ScenarioResult
from bench.plan import CHUNKS, DIRECT, GATEWAY, PACED, REFERENCE, door, scenario_names
from bench.stats import difference, ratio

__all__ = [
    "DIRECT",
    "GATEWAY",
    "REFERENCE",
    "Check",
    "Row",
    "Runs",
    "TargetReport",
    "checks",
    "comparison",
    "payload",
    "render",
]

TARGETS = (DIRECT, REFERENCE, GATEWAY)
OTHER_LOAD_WARNING = 0.1
_COMPARE = {"≤": operator.le, "≥": operator.ge}


@dataclass(slots=True)
class TargetReport:
    """One target's outcome: its figures by scenario, and why anything was not measured."""

    name: str
    results: dict[str, ScenarioResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failure: str = ""


Runs = Mapping[str, Mapping[str, TargetReport]]
"""Door name → target name → its report (a door with `baseline_of` shares that door's direct
and reference reports)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of one scenario of one door on every target, with gateway ratios and added
    milliseconds."""

    door: str
    scenario: str
    metric: str
    values: dict[str, float | None]
    gateway_per_direct: float | None
    gateway_per_reference: float | None
    added_ms: float | None


@dataclass(frozen=True, slots=True)
class Check:
    """One target of the issue at one door: the gateway's figure against its limit."""

    door: str
    name: str
    value: float | None
    relation: str
    limit: float
    unit: str

    @property
    def met(self) -> bool | None:
        """True or False once measured; None when the figure is missing."""
        return None if self.value is None else bool(_COMPARE[self.relation](self.value, self.limit))


# (scenario, ScenarioResult field, label, whether "gateway - direct" means added milliseconds)
METRICS: list[tuple[str, str, str, bool]] = [
    *[
        (scenario, name, label, added)
        for scenario in ("ns-c1", "ns-c16", "ns-c64")
        for name, label, added in (
            ("rps", "req/s", False),
            ("p50_ms", "p50 ms", True),
            ("p99_ms", "p99 ms", True),
            ("cpu_ms_per_request", "CPU ms/req", False),
        )
    ],
    *[
        (scenario, name, label, True)
        for scenario in ("ttfb-c1", "ttfb-c16", "ttfb-c256")
        for name, label in (("p50_ms", "TTFB p50 ms"), ("p99_ms", "TTFB p99 ms"))
    ],
    (CHUNKS, "cpu_ms_per_chunk", "CPU ms/chunk", False),
    (PACED, "errors", "errors", False),
    (PACED, "gap_p99_ms", "gap p99 ms", True),
    (PACED, "rss_idle_kib", "idle RSS KiB", False),
    (PACED, "rss_peak_kib", "peak RSS KiB", False),
    (PACED, "rss_kib_per_stream", "KiB/stream", False),
]
# Shown only when a target was behind nginx (the cluster stack).
FRONT_METRICS: list[tuple[str, str, str, bool]] = [
    (scenario, "front_cpu_ms_per_request", "nginx ms/req", False)
    for scenario in ("ns-c1", "ns-c16", "ns-c64")
]


def figure(reports: Mapping[str, TargetReport], target: str, scenario: str, name: str) -> Any:
    """One figure of one target, None when that target or scenario was not measured."""
    report = reports.get(target)
    result = report.results.get(scenario) if report is not None else None
    return None if result is None else getattr(result, name)


def comparison(runs: Runs) -> list[Row]:
    """Every figure the doors measured on every target, with gateway ÷ direct, ÷ reference and
    added ms."""
    rows = []
    behind_nginx = any(
        result.front_cpu_ms_per_request is not None
        for reports in runs.values()
        for report in reports.values()
        for result in report.results.values()
    )
    metrics = METRICS + FRONT_METRICS if behind_nginx else METRICS
    for name, reports in runs.items():
        planned = scenario_names(full=door(name).full)
        for scenario, metric, label, added in metrics:
            if scenario not in planned:
                continue
            values = {target: figure(reports, target, scenario, metric) for target in TARGETS}
            gateway, direct = values[GATEWAY], values[DIRECT]
            rows.append(
                Row(
                    door=name,
                    scenario=scenario,
                    metric=label,
                    values=values,
                    gateway_per_direct=ratio(gateway, direct),
                    gateway_per_reference=ratio(gateway, values[REFERENCE]),
                    added_ms=difference(gateway, direct) if added else None,
                )
            )
    return rows


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else round(value * factor, 1)


def checks(runs: Runs, *, paced_streams: int) -> list[Check]:
    """The issue's targets for the gateway at every door, the same at each."""
    return [
        check
        for name, reports in runs.items()
        for check in door_checks(name, reports, paced_streams=paced_streams)
    ]


def door_checks(
    name: str, reports: Mapping[str, TargetReport], *, paced_streams: int
) -> list[Check]:
    """The issue's targets for the gateway at one door (MB and KB read as decimal, the stricter
    reading)."""

    def gateway(scenario: str, metric: str) -> Any:
        return figure(reports, GATEWAY, scenario, metric)

    def added(scenario: str, metric: str) -> float | None:
        return difference(gateway(scenario, metric), figure(reports, DIRECT, scenario, metric))

    throughput = ratio(gateway("ns-c64", "rps"), figure(reports, REFERENCE, "ns-c64", "rps"))
    limits: list[tuple[str, float | None, str, float, str]] = [
        (
            "non-stream CPU per request (c=64)",
            gateway("ns-c64", "cpu_ms_per_request"),
            "≤",
            2.5,
            "ms",
        ),
        ("non-stream req/s ÷ reference proxy (c=64)", throughput, "≥", 0.7, "x"),
        ("added latency p50 (c=1)", added("ns-c1", "p50_ms"), "≤", 2.5, "ms"),
        ("added latency p99 (c=1)", added("ns-c1", "p99_ms"), "≤", 8.0, "ms"),
        ("CPU per relayed chunk", gateway(CHUNKS, "cpu_ms_per_chunk"), "≤", 0.1, "ms"),
        ("added TTFB p50 (1 stream)", added("ttfb-c1", "p50_ms"), "≤", 3.0, "ms"),
        ("added TTFB p99 (16 streams)", added("ttfb-c16", "p99_ms"), "≤", 80.0, "ms"),
        (f"errors in {paced_streams} paced streams", gateway(PACED, "errors"), "≤", 0, ""),
        ("paced chunk gap p99", gateway(PACED, "gap_p99_ms"), "≤", 1100.0, "ms"),
        ("idle RSS", _scaled(gateway(PACED, "rss_idle_kib"), 1.024e-3), "≤", 120.0, "MB"),
        (
            "RSS per open stream",
            _scaled(gateway(PACED, "rss_kib_per_stream"), 1.024),
            "≤",
            80.0,
            "KB",
        ),
    ]
    return [Check(name, *limit) for limit in limits]


def _cell(value: float | None, width: int) -> str:
    if value is None:
        return "—".rjust(width)
    text = (
        f"{value:.0f}"
        if abs(value) >= 1000
        else f"{value:.3g}"
        if abs(value) < 0.1
        else f"{value:.2f}"
    )
    return text.rjust(width)


def _measured(runs: Runs) -> list[tuple[str, TargetReport]]:
    """(door, report) of every target measured at a door, not those it shares with another."""
    return [
        (name, report)
        for name, reports in runs.items()
        for target, report in reports.items()
        if door(name).baseline_of is None or target == GATEWAY
    ]


def _door_heading(name: str) -> str:
    shared = door(name).baseline_of
    return f"[{name}]" + (f" direct and reference: the {shared} door's figures" if shared else "")


def _problems(label: str, report: TargetReport, failures_seen: set[str]) -> list[str]:
    """Warnings, failures, skipped scenarios and error samples of one measured target."""
    lines = []
    busy = [
        f"{scenario} ({result.other_load:.2f})"
        for scenario, result in report.results.items()
        if result.other_load is not None and result.other_load > OTHER_LOAD_WARNING
    ]
    if busy:
        lines.append(
            f"warning: other processes kept CPU cores busy while {label} was measured: "
            f"{', '.join(busy)} cores; those figures may be disturbed"
        )
    if report.failure:
        failure = "as above" if report.failure in failures_seen else report.failure
        failures_seen.add(report.failure)
        lines.append(f"\n{label} failed: {failure}")
    reasons: dict[str, list[str]] = {}
    for scenario, reason in report.skipped.items():
        reasons.setdefault(reason, []).append(scenario)
    for reason, names in reasons.items():
        lines.append(f"{label} {', '.join(names)}: not run, one request got {reason}")
    for scenario, result in report.results.items():
        for sample in result.error_samples:
            lines.append(f"{label} {scenario}: {sample}")
    return lines


def render(runs: Runs, rows: list[Row], results: list[Check], *, title: str = "") -> str:
    """The comparison table door by door (under `title`, e.g. the stack), the target checks,
    then every failure and error sample."""
    header = f"{'scenario':<10} {'metric':<13}" + "".join(f"{t:>10}" for t in TARGETS)
    lines = [title] if title else []
    lines += [header + f"{'gw÷direct':>10}{'gw÷ref':>8}{'added ms':>10}", "-" * (len(header) + 28)]
    previous = ("", "")
    for row in rows:
        if row.door != previous[0]:
            lines.append(_door_heading(row.door))
        name = row.scenario if (row.door, row.scenario) != previous else ""
        previous = (row.door, row.scenario)
        cells = "".join(_cell(row.values[target], 10) for target in TARGETS)
        extra = _cell(row.gateway_per_direct, 10) + _cell(row.gateway_per_reference, 8)
        lines.append(f"{name:<10} {row.metric:<13}{cells}{extra}{_cell(row.added_ms, 10)}")
    lines += ["", "targets (gateway):"]
    previous_door = ""
    for check in results:
        if check.door != previous_door:
            lines.append(f"  [{check.door}]")
            previous_door = check.door
        verdict = {True: "met", False: "MISSED", None: "n/a"}[check.met]
        value = "not measured" if check.value is None else f"{check.value:.4g} {check.unit}"
        limit = f"({check.relation} {check.limit:g} {check.unit})".replace(" )", ")")
        lines.append(f"  {verdict:<7}{check.name:<44}{value:>16}  {limit}")
    failures_seen: set[str] = set()
    for name, report in _measured(runs):
        lines += _problems(f"{report.name} ({name})", report, failures_seen)
    return "\n".join(lines)


def payload(
    meta: Mapping[str, Any], runs: Runs, rows: list[Row], results: list[Check]
) -> dict[str, Any]:
    """Everything of one run as JSON-ready data (a door's shared targets only once)."""
    doors: dict[str, Any] = {}
    for name, report in _measured(runs):
        entry = doors.setdefault(name, {"targets": {}})
        if shared := door(name).baseline_of:
            entry["direct_and_reference_of"] = shared
        entry["targets"][report.name] = asdict(report)
    return {
        "meta": dict(meta),
        "doors": doors,
        "comparison": [asdict(row) for row in rows],
        "checks": [{**asdict(check), "met": check.met} for check in results],
    }

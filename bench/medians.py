"""`python -m bench.medians RUN.json ...`: the median of each target's figure over several runs
of `bench.run` (their `--json` files), door by door, each checked on the median; the machine is
noisy, so figures are quoted this way, not from one run."""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.report import Check


def median_checks(runs: list[dict[str, Any]]) -> list[Check]:
    """One Check per (door, target) of the first run, its value the median over the runs that
    measured it (None when none did)."""
    values: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for check in run["checks"]:
            if check["value"] is not None:
                values.setdefault((check["door"], check["name"]), []).append(check["value"])
    medians = []
    for check in runs[0]["checks"]:
        measured = values.get((check["door"], check["name"]))
        medians.append(
            Check(
                door=check["door"],
                name=check["name"],
                value=statistics.median(measured) if measured else None,
                relation=check["relation"],
                limit=check["limit"],
                unit=check["unit"],
            )
        )
    return medians


def render(checks: list[Check], count: int) -> str:
    """The medians as text, one door after the other."""
    lines, door = [f"medians of {count} run(s)"], None
    for check in checks:
        if check.door != door:
            door = check.door
            lines.append(f"[{door}]")
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[check.met]
        value = "—" if check.value is None else f"{check.value:.4g} {check.unit}"
        lines.append(f"  {mark} {check.name:<48} {value:>12}  ({check.relation} {check.limit:g})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the medians of the given runs; 2 when a file is not a bench.run JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.medians", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by bench.run")
    args = parser.parse_args(argv)
    try:
        runs = [json.loads(path.read_text()) for path in args.runs]
        print(render(median_checks(runs), len(runs)))
    except (OSError, ValueError, KeyError) as error:
        print(f"bench.medians: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.run [--quick] [--stack STACK] [--gateways N] [--door SLUG] [--json PATH]`:
direct vs reference proxy vs gateway at each front door (chat completions, Messages and
Responses, native and translated), one run, on one stack (embedded SQLite, PostgreSQL + Redis,
or the cluster: nginx in front of N gateway processes).

The fake upstream and this load driver share core 1; each proxy runs on core 0, one after the
other, fresh for each door (bench/README.md says where the cluster's processes run). Prints the
comparison table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import resource
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench.gateway_setup import KEY_PREFIX
from bench.load import ScenarioResult, Target, measure, probe
from bench.plan import (
    DIRECT,
    DOORS,
    GATEWAY,
    REFERENCE,
    Door,
    first_touch,
    paced_streams,
    scenarios,
    warmups,
)
from bench.procfs import ProcessGone
from bench.report import TargetReport, checks, comparison, payload, render
from bench.servers import (
    BIN,
    Server,
    ServerFailed,
    can_pin,
    free_port,
    log_tail,
    run_step,
    serving,
)
from bench.stacks import (
    CLUSTER,
    DRIVER_CORE,
    EMBEDDED,
    STACKS,
    Served,
    Stack,
    default_stack,
    missing_services,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
MIN_OPEN_FILES = 8192


@dataclass(frozen=True, slots=True)
class Run:
    """One run's settings (small counts or not, the stack, the doors) and the time it has spent
    at each door."""

    quick: bool
    stack: Stack
    doors: tuple[Door, ...] = DOORS
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time spent measuring each door, servers' start and stop included."""

    @property
    def log_dir(self) -> Path:
        """Where every server logs."""
        return self.stack.log_dir

    @property
    def pin(self) -> bool:
        """Whether processes are pinned to their cores."""
        return self.stack.pin

    def core(self, core: int) -> int | None:
        """`core` when pinning, else None."""
        return self.stack.core(core)

    @contextmanager
    def timing(self, door: Door) -> Iterator[None]:
        """Add the block's wall time to `door`'s."""
        start = time.monotonic()
        try:
            yield
        finally:
            spent = self.seconds.get(door.name, 0.0) + time.monotonic() - start
            self.seconds[door.name] = round(spent, 1)


def _progress(result: ScenarioResult) -> None:
    print(
        f"  {result.target:<9} {result.scenario:<10} ok {result.ok:>6}  errors {result.errors:>4}"
        f"  {result.rps:>8.1f}/s  p50 {result.p50_ms} ms  p99 {result.p99_ms} ms",
        file=sys.stderr,
        flush=True,
    )


async def _measure_target(target: Target, report: TargetReport, *, quick: bool, full: bool) -> None:
    failed = {stream: await probe(target, stream=stream) for stream in (False, True)}
    for scenario in first_touch():
        if not failed[scenario.stream]:
            await measure(target, scenario)
    for index, scenario in enumerate(scenarios(quick=quick, full=full)):
        if index == 1:  # after the paced (memory) scenario, warm up for the timed ones
            for warmup in warmups(quick=quick):
                if not failed[warmup.stream]:
                    await measure(target, warmup)
        if failed[scenario.stream]:
            report.skipped[scenario.name] = failed[scenario.stream]
            continue
        try:
            report.results[scenario.name] = result = await measure(target, scenario)
        except ProcessGone:
            report.failure = f"the {target.name} process exited during {scenario.name}"
            return
        _progress(result)


def measure_target(target: Target, report: TargetReport, *, quick: bool, door: Door) -> None:
    """Every scenario of `door` on one target, on a fresh event loop, into `report`."""
    pids = ", ".join(str(pid) for pid in target.server_pids)
    print(
        f"measuring {target.name} at the {door.name} door (pid {pids})",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(_measure_target(target, report, quick=quick, full=door.full))


def serve_and_measure(
    run: Run,
    name: str,
    serve: AbstractContextManager[Served],
    *,
    upstream: Server,
    key: str,
    door: Door,
    log_name: str,
) -> TargetReport:
    """Serve a proxy, measure it at `door`, stop it; failures reported with the end of
    `log_name`'s log."""
    report = TargetReport(name)
    log = run.log_dir / f"{log_name}.log"
    try:
        with run.timing(door), serve as served:
            target = Target(
                name,
                f"{served.url}/v1",
                key,
                door.models_of(name),
                served.pid,
                (upstream.pid, *served.helper_pids),
                wire=door.wire_of(name),
                sibling_pids=served.sibling_pids,
                front_pids=served.front_pids,
            )
            measure_target(target, report, quick=run.quick, door=door)
    except ServerFailed as exc:
        report.failure = str(exc)
        return report
    if report.failure or report.skipped:
        report.failure = f"{report.failure}\n{log} ends:\n{log_tail(log, 12)}".lstrip()
    return report


def gateway_env(stack: Stack, var_dir: Path) -> dict[str, str]:
    """The gateway's environment: embedded SQLite in `var_dir`, or the services of
    DATABASE_URL and REDIS_URL, as `stack` says."""
    env = stack.gateway_env(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    env["SWITCHYARD_VAR_DIR"] = str(var_dir)
    if env.get("DATABASE_URL"):  # not embedded: secrets must be given; make some for this run
        env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
        fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        env.setdefault("SWITCHYARD_ENCRYPTION_KEYS", fernet_key)
    return env


def prepare_gateway(env: Mapping[str, str], upstream: Server, log_dir: Path) -> str:
    """Migrate the gateway's database, create its bench account, key and channels; the key."""
    python = str(BIN / "python")
    migrate = [python, str(ROOT / "manage.py"), "migrate", "--noinput"]
    run_step("migrate", migrate, env=env, log_dir=log_dir)
    setup = [python, "-m", "bench.gateway_setup", "--upstream-url", f"{upstream.url}/v1"]
    output = run_step("gateway-setup", setup, env=env, log_dir=log_dir)
    for line in output.splitlines():
        if line.startswith(KEY_PREFIX):
            return line.removeprefix(KEY_PREFIX)
    raise RuntimeError(f"bench.gateway_setup printed no key:\n{output}")


def run_all(run: Run) -> dict[str, dict[str, TargetReport]]:
    """Start the upstream; at every door measure it directly, then the reference proxy, then
    the gateway (a door with `baseline_of` takes that door's direct and reference figures)."""
    runs: dict[str, dict[str, TargetReport]] = {door.name: {} for door in run.doors}
    own_baseline = [door for door in run.doors if door.baseline_of is None]
    port = free_port()
    upstream_argv = [str(BIN / "python"), "-m", "bench.fake_upstream", "--port", str(port)]
    with (
        tempfile.TemporaryDirectory(prefix="switchyard-bench-") as var_dir,
        serving(
            "fake-upstream",
            upstream_argv,
            port=port,
            core=run.core(DRIVER_CORE),
            env=os.environ,
            log_dir=run.log_dir,
            cwd=ROOT,
            ready_path="/_fake/health",
        ) as upstream,
    ):
        only_driver_core = frozenset({DRIVER_CORE}) if run.pin else None
        for door in own_baseline:
            direct = Target(
                DIRECT,
                f"{upstream.url}/v1",
                "bench-direct",
                door.models_of(DIRECT),
                upstream.pid,
                cores=only_driver_core,
                wire=door.wire_of(DIRECT),
            )
            runs[door.name][DIRECT] = TargetReport(DIRECT)
            with run.timing(door):
                measure_target(direct, runs[door.name][DIRECT], quick=run.quick, door=door)
        env = dict(os.environ, BENCH_UPSTREAM_URL=f"{upstream.url}/v1")
        for door in own_baseline:
            log_name = f"{REFERENCE}-{door.slug}"
            runs[door.name][REFERENCE] = serve_and_measure(
                run,
                REFERENCE,
                run.stack.reference(env, log_name),
                upstream=upstream,
                key="bench-reference",
                door=door,
                log_name=log_name,
            )
        for door in run.doors:
            if door.baseline_of is not None:
                runs[door.name].update(
                    {name: runs[door.baseline_of][name] for name in (DIRECT, REFERENCE)}
                )
        env = gateway_env(run.stack, Path(var_dir))
        try:
            key = prepare_gateway(env, upstream, run.log_dir)
        except RuntimeError as exc:
            for door in run.doors:
                runs[door.name][GATEWAY] = TargetReport(GATEWAY, failure=str(exc))
        else:
            for door in run.doors:
                log_name = f"{GATEWAY}-{door.slug}"
                runs[door.name][GATEWAY] = serve_and_measure(
                    run,
                    GATEWAY,
                    run.stack.gateway(env, log_name),
                    upstream=upstream,
                    key=key,
                    door=door,
                    log_name=log_name,
                )
    return runs


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _prepare_process(*, pin: bool) -> None:
    """Stop cleanly on SIGTERM, allow thousands of sockets, pin this driver to its core."""
    signal.signal(signal.SIGTERM, _interrupt)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < MIN_OPEN_FILES:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, MIN_OPEN_FILES), hard))
    if pin:
        os.sched_setaffinity(0, {DRIVER_CORE})


def selected_doors(slugs: list[str] | None) -> tuple[Door, ...]:
    """The doors of `slugs` (every door when None), with each one's baseline door."""
    if not slugs:
        return DOORS
    wanted = {door.name for door in DOORS if door.slug in slugs}
    wanted |= {door.baseline_of for door in DOORS if door.name in wanted and door.baseline_of}
    return tuple(door for door in DOORS if door.name in wanted)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see --help)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts, < 3 min")
    parser.add_argument(
        "--stack",
        choices=STACKS,
        default=default_stack(os.environ),
        help="embedded SQLite, PostgreSQL + Redis (services) or the cluster behind nginx "
        "(default: services when DATABASE_URL is set, else embedded)",
    )
    parser.add_argument(
        "--gateways", type=int, default=1, help="the cluster's gateway processes (default 1)"
    )
    parser.add_argument(
        "--door",
        action="append",
        choices=[door.slug for door in DOORS],
        help="measure only this door (and the door it takes its baseline from); repeatable",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    args = parser.parse_args(argv)
    if args.gateways < 1 or (args.gateways > 1 and args.stack != CLUSTER):
        parser.error("--gateways: 1 or more, and more than 1 only with --stack cluster")
    if why := missing_services(args.stack, os.environ):
        parser.error(why)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON; 130 on Ctrl-C."""
    args = parse_args(argv)
    stack = Stack(args.stack, args.gateways, pin=can_pin(), log_dir=args.json.parent / "logs")
    run = Run(quick=args.quick, stack=stack, doors=selected_doors(args.door))
    run.log_dir.mkdir(parents=True, exist_ok=True)
    _prepare_process(pin=run.pin)
    started = time.time()
    try:
        runs = run_all(run)
    except KeyboardInterrupt:
        print("interrupted; every server was stopped", file=sys.stderr)
        return 130
    rows = comparison(runs)
    results = checks(runs, paced_streams=paced_streams(quick=run.quick))
    meta = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "quick": run.quick,
        "pinned": run.pin,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "stack": stack.name,
        "gateways": stack.gateways,
        "stack_description": stack.describe(),
        "doors": [door.name for door in run.doors],
        "database": "embedded SQLite" if stack.name == EMBEDDED else "DATABASE_URL",
        "logs": str(run.log_dir),
        "seconds_by_door": run.seconds,
    }
    print(render(runs, rows, results, title=f"stack: {stack.describe()}"))
    args.json.write_text(json.dumps(payload(meta, runs, rows, results), indent=2) + "\n")
    print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The stacks `bench.run` measures the gateway on — embedded SQLite, PostgreSQL + Redis, or the
cluster (nginx in front of N gateway processes, started by bench.cluster) — and how each proxy
is served there and which of its processes are watched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cluster import NGINX, NGINX_USER, kill_left_behind, nginx_conf
from bench.procfs import pin_tree, process_tree
from bench.servers import (
    BIN,
    GATEWAY_APP,
    ServerFailed,
    free_port,
    log_tail,
    pinned,
    serving,
    uvicorn_argv,
)

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED, SERVICES, CLUSTER = "embedded", "services", "cluster"
STACKS = (EMBEDDED, SERVICES, CLUSTER)
SERVER_CORE, DRIVER_CORE = 0, 1
CLUSTER_READY_TIMEOUT_S = 120.0
CLUSTER_STOP_TIMEOUT_S = 90.0
# Nothing is in flight when a cluster is stopped: its gateways need not drain for long.
CLUSTER_SHUTDOWN_GRACE = "3"
NGINX_GROUP = "nogroup"  # nobody's own group on Debian
SERVICES_NEEDED = ("DATABASE_URL", "REDIS_URL")


def default_stack(env: Mapping[str, str]) -> str:
    """PostgreSQL + Redis when DATABASE_URL is set (scripts/with-services), else embedded."""
    return SERVICES if env.get("DATABASE_URL") else EMBEDDED


def missing_services(stack: str, env: Mapping[str, str]) -> str:
    """Why `stack` cannot run in `env` ("" when it can)."""
    missing = [name for name in SERVICES_NEEDED if not env.get(name)]
    if stack == EMBEDDED or not missing:
        return ""
    return (
        f"the {stack} stack needs PostgreSQL and Redis ({', '.join(missing)} not set): run it "
        f"under scripts/with-services, e.g. scripts/with-services .venv/bin/python -m bench.run "
        f"--stack {stack}"
    )


@dataclass(frozen=True, slots=True)
class Served:
    """A proxy being measured: its root URL and the processes to watch."""

    url: str
    pid: int
    sibling_pids: tuple[int, ...] = ()  # its other processes (a cluster's other gateways)
    front_pids: tuple[int, ...] = ()  # nginx's, when it is behind nginx
    helper_pids: tuple[int, ...] = ()  # what else runs for it (a cluster's worker and beat)


@dataclass(frozen=True, slots=True)
class Stack:
    """One stack: how the reference proxy and the gateway are served on it, and where."""

    name: str
    gateways: int
    pin: bool
    log_dir: Path

    def describe(self) -> str:
        """The stack in words, for the table's heading."""
        if self.name == EMBEDDED:
            return "embedded SQLite, one gateway process"
        if self.name == SERVICES:
            return "PostgreSQL + Redis, one gateway process"
        return (
            f"cluster: nginx in front of {self.gateways} gateway process"
            f"{'es' if self.gateways > 1 else ''}, a Celery worker and beat, PostgreSQL + Redis"
            " (the reference behind its own nginx)"
        )

    def core(self, core: int) -> int | None:
        """`core` when pinning, else None."""
        return core if self.pin else None

    def gateway_cores(self) -> set[int]:
        """Where the cluster's gateways run: core 0 for one, both cores for two or more."""
        return {SERVER_CORE} if self.gateways == 1 else {SERVER_CORE, DRIVER_CORE}

    def gateway_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The gateway's environment on this stack: embedded leaves the services out."""
        if self.name != EMBEDDED:
            return dict(env)
        return {name: value for name, value in env.items() if name not in SERVICES_NEEDED}

    def reference(self, env: Mapping[str, str], log_name: str) -> AbstractContextManager[Served]:
        """The reference proxy on the server core, behind nginx on the cluster stack."""
        served = self._uvicorn(log_name, "bench.reference_proxy:application", env, "/")
        if self.name != CLUSTER:
            return served
        return self._behind_nginx(served, f"nginx-{log_name}", env)

    def gateway(self, env: Mapping[str, str], log_name: str) -> AbstractContextManager[Served]:
        """The gateway: one process on the server core, or the cluster."""
        if self.name == CLUSTER:
            return self._cluster(env, log_name)
        return self._uvicorn(log_name, GATEWAY_APP, env, "/healthz")

    @contextmanager
    def _uvicorn(
        self, log_name: str, app: str, env: Mapping[str, str], ready_path: str
    ) -> Iterator[Served]:
        port = free_port()
        with serving(
            log_name,
            uvicorn_argv(app, port),
            port=port,
            core=self.core(SERVER_CORE),
            env=env,
            log_dir=self.log_dir,
            cwd=ROOT,
            ready_path=ready_path,
        ) as server:
            yield Served(server.url, server.pid)

    @contextmanager
    def _behind_nginx(
        self, inner: AbstractContextManager[Served], log_name: str, env: Mapping[str, str]
    ) -> Iterator[Served]:
        """`inner` behind nginx on the driver core, configured as the cluster's."""
        with inner as served, tempfile.TemporaryDirectory(prefix="switchyard-nginx.") as prefix:
            port = free_port()
            config = Path(prefix) / "nginx.conf"
            config.write_text(nginx_conf(Path(prefix), port, [int(served.url.rsplit(":", 1)[1])]))
            argv = [NGINX, "-p", prefix, "-c", str(config), "-e", f"{prefix}/error.log"]
            if os.geteuid() == 0:  # its workers drop root, as the cluster's nginx does
                shutil.chown(prefix, NGINX_USER)
                argv += ["-g", f"user {NGINX_USER} {NGINX_GROUP};"]
            with serving(
                log_name,
                argv,
                port=port,
                core=self.core(DRIVER_CORE),
                env=env,
                log_dir=self.log_dir,
                cwd=ROOT,
            ) as nginx:
                yield Served(nginx.url, served.pid, front_pids=tuple(process_tree(nginx.pid)))

    @contextmanager
    def _cluster(self, env: Mapping[str, str], log_name: str) -> Iterator[Served]:
        """bench.cluster on the driver core (nginx, worker, beat), its gateways moved to theirs;
        its logs, nginx's access log and state.json kept in the log folder's `log_name`."""
        work = self.log_dir / log_name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        state_file = work / "state.json"
        argv = [
            str(BIN / "python"),
            "-m",
            "bench.cluster",
            "--gateways",
            str(self.gateways),
            "--no-demo",
            "--no-upstream",
            "--work-dir",
            str(work),
            "--state-file",
            str(state_file),
        ]
        log = self.log_dir / f"{log_name}.log"
        cluster_env = {**env, "GATEWAY_SHUTDOWN_GRACE": CLUSTER_SHUTDOWN_GRACE}
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 (fixed argument list, no shell)
                pinned(argv, self.core(DRIVER_CORE)),
                env=cluster_env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            state = _wait_for_state(process, state_file, log)
            gateway_pids = tuple(int(gateway["pid"]) for gateway in state["gateways"])
            if self.pin:
                for pid in gateway_pids:
                    pin_tree(pid, self.gateway_cores())
            yield Served(
                state["url"],
                gateway_pids[0],
                sibling_pids=gateway_pids[1:],
                front_pids=tuple(process_tree(int(state["nginx_pid"]))),
                helper_pids=(int(state["worker_pid"]), int(state["beat_pid"])),
            )
        finally:
            _stop_cluster(process, state_file)


def _wait_for_state(
    process: subprocess.Popen[bytes], state_file: Path, log: Path
) -> dict[str, Any]:
    """The cluster's state once it is written; ServerFailed if the cluster exits first."""
    deadline = time.monotonic() + CLUSTER_READY_TIMEOUT_S
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise ServerFailed(f"the cluster did not start; {log} ends:\n{log_tail(log)}")
        time.sleep(0.2)
    state: dict[str, Any] = json.loads(state_file.read_text())
    return state


def _stop_cluster(process: subprocess.Popen[bytes], state_file: Path) -> None:
    """SIGTERM bench.cluster, which stops its processes; it and they are killed if it takes
    too long."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(CLUSTER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        kill_left_behind(state_file)

"""`python -m bench.cluster`: the cluster's shape on loopback — nginx in front of N gateway
processes, one Celery worker, exactly one beat and the fake upstream — on the PostgreSQL and
Redis of DATABASE_URL and REDIS_URL (`make cluster` runs it under scripts/with-services).

SIGINT or SIGTERM stops every process (a second one kills them); a gateway that exits otherwise
is started again on its port, as a supervisor would. Once everything answers, the state file
(JSON: URLs, ports, pids) is written, and rewritten after each restart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from honcho.environ import parse_procfile  # type: ignore[import-untyped]

from bench.servers import HOST, ServerFailed, free_port, log_tail, run_step
from config.env import BASE_DIR
from gateway.edge.server import raise_descriptor_limit

READY_TIMEOUT_S = 60.0
POLL_S = 0.2
# After SIGTERM: a gateway drains for GATEWAY_SHUTDOWN_GRACE (+ its margin); the rest stop fast.
STOP_MARGIN_S = 15.0
NGINX = "/usr/sbin/nginx"
# nginx drops root: as root it runs as this user, its folder handed over to it.
NGINX_USER = "nobody"
NGINX_CONF = """\
# Written by bench.cluster for one run: every path is in this folder.
daemon off;
master_process on;
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections 8192; }
http {
    log_format upstream '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                        'upstream=$upstream_addr upstream_status=$upstream_status '
                        'time=$request_time';
    access_log %(prefix)s/access.log upstream;
    client_body_temp_path %(prefix)s/client_body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    upstream gateways {
%(servers)s
        # Idle connections to the gateways are kept, and closed before the gateway would close
        # them (GATEWAY_KEEPALIVE_TIMEOUT), so nginx never sends on a connection being closed.
        keepalive 64;
        keepalive_timeout %(keepalive)ss;
    }
    server {
        listen %(host)s:%(port)s;
        # The gateway's own limit (GATEWAY_MAX_BODY_BYTES) answers larger bodies first.
        client_max_body_size %(body)s;
        client_body_buffer_size 1m;
        location / {
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Streams reach the client as they are written; a request may run for the gateway's
            # whole deadline (GATEWAY_REQUEST_DEADLINE).
            proxy_buffering off;
            proxy_cache off;
            proxy_connect_timeout 2s;
            proxy_read_timeout %(read)ss;
            proxy_send_timeout %(read)ss;
            # Another gateway is tried when one refuses the connection or times out before the
            # request was sent; a POST that reached a gateway is never sent twice (no
            # non_idempotent), so no request is billed twice.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries %(tries)s;
        }
    }
}
"""


@dataclass
class Child:
    """One process of the cluster: what runs it, where it logs, and how to tell it answers."""

    name: str
    command: str
    log: Path
    env: dict[str, str]
    ready_url: str | None = None
    port: int | None = None
    user: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start it in its own session (the runner alone decides when it stops)."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 (the Procfile's own commands)
                ["/bin/sh", "-c", self.command],
                cwd=BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.user,
            )

    @property
    def pid(self) -> int:
        """Its process id (`exec` in the command makes it the server's own)."""
        if self.process is None:
            raise ServerFailed(f"{self.name} was not started")
        return self.process.pid

    def exited(self) -> int | None:
        """Its exit status once it has exited, else None."""
        return None if self.process is None else self.process.poll()

    def answers(self) -> bool:
        """Whether its ready URL answers 200."""
        if self.ready_url is None:
            return True
        try:
            return httpx.get(self.ready_url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def signal(self, signum: int) -> None:
        """Send `signum` if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def kill(self) -> None:
        """Kill its whole process group (nginx's workers too) and reap it."""
        if self.process is not None:
            kill_group(self.process.pid)
            self.process.wait()


class Stop(Exception):
    """The runner was asked to stop (SIGINT or SIGTERM)."""


class Cluster:
    """The processes of one cluster run, started in order and stopped in reverse."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.stop_asked = False
        self.forced = False
        self.env = cluster_env(work)
        self.procfile = parse_procfile((BASE_DIR / "Procfile").read_text("utf-8")).processes
        self.nginx_port = args.port or free_port()
        self.url = f"http://{HOST}:{self.nginx_port}"
        self.upstream: Child | None = None
        self.gateways: list[Child] = []
        self.workers: list[Child] = []
        self.nginx: Child | None = None
        self.nginx_dir: Path | None = None

    def on_signal(self, signum: int, _frame: Any) -> None:
        """The first signal stops the cluster (at the next wait); a second kills what is left."""
        self.forced = self.stop_asked
        self.stop_asked = True

    def _stop_if_asked(self) -> None:
        if self.stop_asked:
            raise Stop

    def _child(
        self, name: str, process: str, *, env: dict[str, str] | None = None, port: int | None = None
    ) -> Child:
        """The Procfile's `process` as `name`, logging to its own file in the run's folder."""
        log = self.work / f"{name}.log"
        return Child(name, self.procfile[process], log, {**self.env, **(env or {})}, port=port)

    def start(self) -> None:
        """Migrate, then start the upstream, gateways, worker, beat and nginx, each answering."""
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        run_step("migrate", [*manage, "migrate", "--noinput"], env=self.env, log_dir=self.work)
        if not self.args.no_upstream:
            port = free_port()
            upstream_env = {"FAKE_UPSTREAM_PORT": str(port)}
            self.upstream = self._child("upstream", "upstream", env=upstream_env, port=port)
            self.upstream.ready_url = f"http://{HOST}:{port}/_fake/health"
            self._start_and_wait(self.upstream)
            if not self.args.no_demo:
                self._demo(f"http://{HOST}:{port}/v1")
        for number in range(1, self.args.gateways + 1):
            self.gateways.append(self._gateway(number, free_port()))
        for gateway in self.gateways:
            gateway.start()
        self.workers = [self._child("worker", "worker"), self._child("beat", "beat")]
        for child in self.workers:
            child.start()
        for gateway in self.gateways:
            self._wait(gateway)
        self.nginx = self._nginx()
        self._start_and_wait(self.nginx)
        self.write_state()

    def _gateway(self, number: int, port: int) -> Child:
        env = {"SWITCHYARD_HOST": HOST, "SWITCHYARD_PORT": str(port)}
        gateway = self._child(f"gateway-{number}", "gateway", env=env, port=port)
        gateway.ready_url = f"http://{HOST}:{port}/readyz"
        return gateway

    def _demo(self, upstream_url: str) -> None:
        """The demo data of `make run` (an admin, an account with credit, a key, a channel to the
        fake upstream); its credentials are printed in a box and kept in the run's folder."""
        subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
            [
                sys.executable,
                "manage.py",
                "demo_setup",
                "--upstream-url",
                upstream_url,
                "--gateway-url",
                self.url,
            ],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
        )

    def _nginx(self) -> Child:
        # Its own folder in the system's temp dir, which a dropped-root nginx can reach.
        prefix = self.nginx_dir = Path(tempfile.mkdtemp(prefix="switchyard-nginx."))
        user = None
        if os.geteuid() == 0:
            user = NGINX_USER
            shutil.chown(prefix, user)
        config = prefix / "nginx.conf"
        config.write_text(
            nginx_conf(prefix, self.nginx_port, [g.port for g in self.gateways if g.port])
        )
        command = f"exec {NGINX} -p {prefix} -c {config} -e {prefix}/error.log"
        log = self.work / "nginx.log"
        nginx = Child("nginx", command, log, self.env, port=self.nginx_port, user=user)
        nginx.ready_url = f"{self.url}/healthz"
        return nginx

    def _start_and_wait(self, child: Child) -> None:
        child.start()
        self._wait(child)

    def _wait(self, child: Child) -> None:
        """Return once `child` answers; ServerFailed if it exits or takes too long first."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not child.answers():
            self._stop_if_asked()
            if child.exited() is not None or time.monotonic() > deadline:
                raise ServerFailed(
                    f"{child.name} did not start; {child.log} ends:\n{log_tail(child.log)}"
                )
            time.sleep(POLL_S)

    def state(self) -> dict[str, Any]:
        """What a test or an operator needs to reach every part of the cluster."""
        return {
            "url": self.url,
            "nginx_pid": self.nginx.pid if self.nginx else None,
            "gateways": [
                {"name": g.name, "port": g.port, "pid": g.pid, "url": f"http://{HOST}:{g.port}"}
                for g in self.gateways
            ],
            "worker_pid": self.workers[0].pid,
            "beat_pid": self.workers[1].pid,
            "upstream_url": f"http://{HOST}:{self.upstream.port}" if self.upstream else None,
            "upstream_pid": self.upstream.pid if self.upstream else None,
            "database_url": self.env["DATABASE_URL"],
            "redis_url": self.env["REDIS_URL"],
            "logs": str(self.work),
            "nginx_dir": str(self.nginx_dir),
        }

    def write_state(self) -> None:
        """Write the state file whole (a reader never sees half of it)."""
        path = Path(self.args.state_file or self.work / "state.json")
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(self.state(), indent=2))
        partial.replace(path)

    def supervise(self) -> None:
        """Until stopped: start a gateway again when it exits; stop all when another part does."""
        while True:
            self._stop_if_asked()
            for gateway in self.gateways:
                status = gateway.exited()
                if status is not None:
                    print(
                        f"cluster: {gateway.name} (pid {gateway.pid}) exited ({status}); "
                        f"starting it again on port {gateway.port}",
                        flush=True,
                    )
                    self._start_and_wait(gateway)
                    self.write_state()
                    print(f"cluster: {gateway.name} answers again (pid {gateway.pid})", flush=True)
            for child in [*self.workers, self.nginx, self.upstream]:
                if child is not None and child.exited() is not None:
                    raise ServerFailed(
                        f"{child.name} exited ({child.exited()}); "
                        f"{child.log} ends:\n{log_tail(child.log)}"
                    )
            time.sleep(POLL_S)

    def stop(self) -> None:
        """Stop nginx, then the gateways (each drains), the worker and beat, then the upstream;
        kill what is left after the gateways' grace (at once after a second signal)."""
        grace = float(self.env.get("GATEWAY_SHUTDOWN_GRACE", 20.0))
        for group in ([self.nginx], self.gateways, self.workers, [self.upstream]):
            children = [child for child in group if child is not None]
            for child in children:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace + STOP_MARGIN_S
            for child in children:
                while child.exited() is None and not self.forced and time.monotonic() < deadline:
                    time.sleep(POLL_S)
                child.kill()
        if self.nginx_dir is not None:  # its logs join the others
            for log in self.nginx_dir.glob("*.log"):
                shutil.move(log, self.work / f"nginx-{log.name}")
            shutil.rmtree(self.nginx_dir, ignore_errors=True)

    def announce(self) -> None:
        """Say where the cluster answers."""
        ports = ", ".join(str(g.port) for g in self.gateways)
        lines = [
            f"Switchyard cluster answers at {self.url} (nginx) — dashboard {self.url}/dashboard/",
            f"  {len(self.gateways)} gateway processes on {HOST} ports {ports}; "
            "one Celery worker and one beat",
        ]
        if self.upstream is not None:
            lines.append(f"  fake upstream at http://{HOST}:{self.upstream.port}/v1")
        lines += [f"  logs and state in {self.work}", "  Ctrl-C stops everything."]
        print("\n".join(lines), flush=True)


def kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads (every child runs in a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def kill_left_behind(state_file: Path) -> None:
    """Kill every process a cluster's state file names: for a runner that was itself killed,
    which leaves its children (each in a session of its own) running."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    pids = [state.get(f"{name}_pid") for name in ("nginx", "worker", "beat", "upstream")]
    pids += [gateway.get("pid") for gateway in state.get("gateways", [])]
    for pid in pids:
        if isinstance(pid, int):
            kill_group(pid)


def cluster_env(work: Path) -> dict[str, str]:
    """The children's environment: production settings on the services given, this run's
    folder for local state, and fresh secrets unless they are set."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not env.get(name):
            raise SystemExit(
                f"cluster: {name} is not set: run `make cluster` "
                "(or scripts/with-services python -m bench.cluster)"
            )
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    env.setdefault("SWITCHYARD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    # The demo's credentials, the journal and beat's schedule stay in this run's folder.
    env["SWITCHYARD_VAR_DIR"] = str(work)
    env.setdefault("GATEWAY_JOURNAL_DIR", str(work / "journal"))
    return env


def nginx_conf(prefix: Path, port: int, gateway_ports: list[int]) -> str:
    """nginx's configuration: every gateway behind one listener, within the gateway's limits."""
    from config.settings import gateway as limits  # the settings' own values and defaults

    servers = "\n".join(f"        server {HOST}:{port} max_fails=0;" for port in gateway_ports)
    return NGINX_CONF % {
        "prefix": prefix,
        "host": HOST,
        "port": port,
        "servers": servers,
        "keepalive": max(1, int(limits.GATEWAY_KEEPALIVE_TIMEOUT) - 1),
        "body": limits.GATEWAY_MAX_BODY_BYTES,
        "read": int(limits.GATEWAY_REQUEST_DEADLINE) + 60,
        "tries": len(gateway_ports),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--gateways", type=int, default=2, help="gateway processes (default 2)")
    parser.add_argument("--port", type=int, default=0, help="nginx's port (default: a free one)")
    parser.add_argument(
        "--state-file", help="where to write the state (default: in the run's folder)"
    )
    parser.add_argument("--work-dir", help="the run's folder, kept (default: a new one, removed)")
    parser.add_argument(
        "--no-upstream", action="store_true", help="no fake upstream (nor demo data)"
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="no demo data (make run's demo_setup)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the cluster until a signal stops it (0) or a part of it fails (1)."""
    args = parse_args(argv)
    raise_descriptor_limit()  # nginx and the gateways inherit it
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="switchyard-cluster."))
    work.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(args, work)
    signal.signal(signal.SIGINT, cluster.on_signal)
    signal.signal(signal.SIGTERM, cluster.on_signal)
    status = 0
    try:
        cluster.start()
        cluster.announce()
        cluster.supervise()
    except Stop:
        print("cluster: stopping…", flush=True)
    except (ServerFailed, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"cluster: {error}", file=sys.stderr, flush=True)
        status = 1
    finally:
        cluster.stop_asked = True  # a signal from now on forces the stop
        cluster.stop()
        if status == 0 and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

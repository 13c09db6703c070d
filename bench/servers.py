"""Start, wait for and stop the benchmark's server processes, each pinned to one core."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
BIN = Path(sys.executable).parent


class ServerFailed(RuntimeError):
    """A server did not start; the message ends with its log."""


@dataclass(frozen=True, slots=True)
class Server:
    """A running server process and where it listens."""

    name: str
    pid: int
    port: int
    log: Path

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def can_pin() -> bool:
    """Whether processes can be pinned: taskset exists and this process may use two cores."""
    return shutil.which("taskset") is not None and {0, 1} <= os.sched_getaffinity(0)


def pinned(argv: list[str], core: int | None) -> list[str]:
    """`argv` run on one core via taskset (which execs, so the pid stays the server's)."""
    return argv if core is None else ["taskset", "-c", str(core), *argv]


GATEWAY_APP = "config.asgi:application"


def uvicorn_argv(app: str, port: int) -> list[str]:
    """The command line serving `app` on `port`: the gateway as in production
    (`gateway.edge.server`, uvicorn within the edge's limits), anything else under uvicorn."""
    if app == GATEWAY_APP:
        command = [str(BIN / "python"), "-m", "gateway.edge.server"]
    else:
        command = [str(BIN / "uvicorn"), app, "--no-access-log"]
    return [*command, "--host", HOST, "--port", str(port)]


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a server's log, for error messages."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(
    name: str,
    argv: list[str],
    *,
    port: int,
    core: int | None,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path,
    ready_path: str = "/",
) -> Iterator[Server]:
    """Run a server (on `core` unless None) until the block exits, once `ready_path` answers."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as output:
        # Own session: a Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(  # noqa: S603 (fixed argument list, no shell)
            pinned(argv, core),
            env=dict(env),
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _answers(port, ready_path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"{name} did not start; {log} ends:\n{log_tail(log)}")
            time.sleep(0.1)
        yield Server(name, process.pid, port, log)
    finally:
        _stop(process)


def run_step(name: str, argv: list[str], *, env: Mapping[str, str], log_dir: Path) -> str:
    """Run a set-up command to its end and return its stdout; raise with its output on failure."""
    done = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
        argv, env=dict(env), capture_output=True, text=True, check=False
    )
    (log_dir / f"{name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout

"""Another gateway process, as a second server of a deployment: same database, same Redis."""

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

from config.env import BASE_DIR
from tests.gateway.conftest import _free_port


def database_url() -> str:
    """The test database, as a DATABASE_URL for another process."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def gateway_process(
    *, descriptors: int | None = None, log: Path | None = None, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The gateway (`python -m gateway.edge.server`) in a subprocess on a free port, with at
    most `descriptors` open files when given and its output in `log` when given; yields it and
    its URL, and stops it on the way out (SIGTERM, then SIGKILL after 15 s) if still running."""
    port = _free_port()
    output = None if log is None else log.open("ab")
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        **env,
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and app)
        [
            sys.executable,
            "-m",
            "gateway.edge.server",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=environment,
        preexec_fn=None if descriptors is None else lambda: _limit_descriptors(descriptors),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        _wait_until_up(port)
        yield server, f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:  # a graceful stop: its queued records are stored first
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        if output is not None:
            output.close()


def _limit_descriptors(count: int) -> None:
    """In the child: at most `count` open files, a limit it cannot raise."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


def _wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway subprocess did not start")

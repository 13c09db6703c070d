"""A PostgreSQL server of a test's own, on a free loopback port, that the test may stop and start
again (the suite's own server, from scripts/with-services, must stay up for the other tests)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "switchyard"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise AssertionError(f"{name} is not installed (scripts/with-services needs it too)")


class PostgresServer:
    """A throwaway cluster (trust authentication, fsync off) in `folder`; the database
    `postgres` belongs to USER. As root, the server runs as the `postgres` (or `nobody`) user,
    since PostgreSQL refuses to run as root."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.url = f"postgres://{USER}@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = "postgres" if _has_user("postgres") else "nobody"
            shutil.chown(folder, user)
            self._as = ["runuser", "-u", user, "--"]

    def _run(self, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 (fixed binaries and arguments)
            [*self._as, *arguments],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def initialise(self) -> None:
        """Create the cluster."""
        self._run(_binary("initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        """Start it (on the same port every time) and wait until it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -F -c max_connections=100"
        log = self.folder / "server.log"
        pg_ctl = _binary("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(log), "-w", "-o", options, "start")

    def stop(self) -> None:
        """Stop it at once (`-m immediate`: every connection is cut, as in a crash)."""
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def is_running(self) -> bool:
        """Whether its postmaster is up."""
        status = subprocess.run(  # noqa: S603 (a fixed binary and arguments)
            [*self._as, _binary("pg_ctl"), "-D", str(self.data), "status"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return status.returncode == 0


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgresServer, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="switchyard-pg-") as folder:
        server = PostgresServer(Path(folder))
        server.initialise()
        server.start()
        try:
            yield server
        finally:
            if server.is_running():
                server.stop()

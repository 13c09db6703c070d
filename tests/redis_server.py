"""A Redis server of a test's own, on a free loopback port, that the test may restart empty."""

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """`redis-server` without persistence: a restart loses everything, as a crash does."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (scripts/with-services installs it)"
        arguments = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        arguments += ["--appendonly", "no", "--dir", str(self.folder)]
        self._process = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
            [binary, *arguments], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self, *, kill: bool = True) -> None:
        """Stop it: SIGKILL (a crash), or SIGTERM with `kill=False` (a clean shutdown, which
        closes every client connection); nothing is saved either way."""
        if self._process is not None and self._process.poll() is None:
            if kill:
                self._process.kill()
            else:
                self._process.terminate()
            self._process.wait(timeout=10)

    def restart(self, *, kill: bool = True) -> None:
        """Stop it (as `stop`) and start an empty one on the same port."""
        self.stop(kill=kill)
        self.start()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running RedisServer, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="switchyard-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()

"""`manage.py demo_run`: the Procfile's processes under honcho, and the demo's credentials in a
box once they have started and the gateway answers — the last thing `make run` prints."""

import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils import timezone
from honcho.environ import parse_procfile  # type: ignore[import-untyped]
from honcho.manager import Manager  # type: ignore[import-untyped]
from honcho.printer import Message, Printer  # type: ignore[import-untyped]

from config.env import BASE_DIR
from gateway.management.commands.demo_setup import ADMIN_USERNAME
from gateway.management.demo_credentials import (
    ADMIN_PASSWORD,
    API_KEY,
    DemoCredentials,
    credentials_box,
    credentials_path,
    credentials_read,
    credentials_still_valid,
    try_it,
)

BOX = "demo-credentials"
# How long to wait for the gateway to answer, then for the start-up output to settle.
GATEWAY_WAIT_SECONDS = 60.0
SETTLE_SECONDS = 1.0
SETTLE_WAIT_SECONDS = 15.0


class _Printer(Printer):
    """honcho's printer, which prints the box as it is and notes who printed what when."""

    def __init__(self, output: Any, on_first_line: Any) -> None:
        super().__init__(output)
        self.last_line_at = time.monotonic()
        self.printed: set[str] = set()
        self._on_first_line = on_first_line

    def write(self, message: Message) -> None:
        if self._on_first_line is not None:
            # The first line comes after every process was started (forked), so the thread
            # that waits for the gateway is started then.
            self._on_first_line()
            self._on_first_line = None
        if message.name == BOX:
            print(message.data, file=self.output, flush=True)
            return
        self.printed.add(str(message.name))
        self.last_line_at = time.monotonic()
        super().write(message)


class Command(BaseCommand):
    """Run the Procfile like `honcho start`; Ctrl-C stops every process (exit status 130)."""

    help = (
        "Run the gateway, worker, beat and fake upstream (the Procfile) and print the demo "
        "credentials once they are up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--gateway-url: the gateway to wait for; --procfile: the processes to run."""
        parser.add_argument("--gateway-url", default="http://127.0.0.1:8000")
        parser.add_argument("--procfile", type=Path, default=BASE_DIR / "Procfile")

    def handle(self, *args: Any, gateway_url: str, procfile: Path, **options: Any) -> None:
        """Run until a process exits or a signal stops them all; exit with honcho's status."""
        processes = parse_procfile(procfile.read_text(encoding="utf-8")).processes
        announcer = threading.Thread(
            target=self._announce, args=(gateway_url, processes.keys()), daemon=True
        )
        self.printer = _Printer(sys.stdout, on_first_line=announcer.start)
        self.manager = Manager(self.printer)
        for name, command in processes.items():
            self.manager.add_process(name, command, cwd=str(BASE_DIR))
        self.manager.loop()
        sys.exit(self.manager.returncode)

    def _announce(self, gateway_url: str, names: Any) -> None:
        """Once the gateway answers and every process has spoken and then been quiet for a
        moment, hand the box to honcho's loop, which prints it."""
        if not _wait_for_gateway(gateway_url):
            return
        expected = set(names)
        deadline = time.monotonic() + SETTLE_WAIT_SECONDS
        while time.monotonic() < deadline:
            settled = time.monotonic() - self.printer.last_line_at >= SETTLE_SECONDS
            if settled and expected <= self.printer.printed:
                break
            time.sleep(0.1)
        self.manager.events.put(
            Message(
                type="line", data=self._box(gateway_url), time=timezone.now(), name=BOX, colour=None
            )
        )

    def _box(self, gateway_url: str) -> str:
        path = credentials_path()
        known = credentials_read(path)
        try:
            current = credentials_still_valid(
                DemoCredentials(
                    gateway_url=gateway_url,
                    admin_user=ADMIN_USERNAME,
                    admin_password=known.get(ADMIN_PASSWORD),
                    api_key=known.get(API_KEY),
                )
            )
        finally:
            connection.close()
        unicode = (getattr(sys.stdout, "encoding", "") or "").lower().startswith("utf")
        box = credentials_box(current, path=path, unicode=unicode)
        return "\n" + try_it(current) + "\n\n" + self.style.SUCCESS(box)


def _wait_for_gateway(gateway_url: str) -> bool:
    """Whether the gateway's /healthz answered 200 within GATEWAY_WAIT_SECONDS."""
    deadline = time.monotonic() + GATEWAY_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(gateway_url.rstrip("/") + "/healthz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False

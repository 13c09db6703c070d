"""`manage.py sweep_journals`: bill the journals that stopped gateway processes left here."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from billing.journal import journal_sweep
from gateway.bridge.reservations import reservations


class Command(BaseCommand):
    help = "Store the usage records of requests whose gateway process died, and free its holds."

    def handle(self, *args: Any, **options: Any) -> None:
        """Sweep GATEWAY_JOURNAL_DIR once (running gateways also do it every few seconds)."""
        stored = journal_sweep(
            directory=Path(settings.GATEWAY_JOURNAL_DIR), reservations=reservations().name
        )
        self.stdout.write(f"{stored} usage record(s) stored from stopped processes' journals.")

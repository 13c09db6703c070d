"""`manage.py rotate_channel_secrets`: re-encrypt every channel secret under the first key."""

from typing import Any

from django.core.management.base import BaseCommand

from channels.services import channels_reencrypt_secrets


class Command(BaseCommand):
    """Finish a key rotation: afterwards the old keys can leave SWITCHYARD_ENCRYPTION_KEYS."""

    help = "Re-encrypt every stored channel secret under the first SWITCHYARD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        """Print how many secrets were re-encrypted."""
        count = channels_reencrypt_secrets()
        self.stdout.write(f"Re-encrypted {count} channel secret(s) under the first key.")

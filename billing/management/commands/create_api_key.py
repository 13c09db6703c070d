"""`manage.py create_api_key`: issue a key from the shell and print its secret once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import Account
from billing.services import api_key_create


class Command(BaseCommand):
    """Create an API key in an existing account."""

    help = "Create an API key in an account and print its secret (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        """--account NAME (required), --name (default 'cli')."""
        parser.add_argument("--account", required=True, help="The owning account's name.")
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args: Any, account: str, name: str, **options: Any) -> None:
        """Print only the secret on stdout, so it can be captured by a script."""
        owner = Account.objects.filter(name=account).first()
        if owner is None:
            raise CommandError(f"No account named {account!r}.")
        _, secret = api_key_create(account=owner, name=name)
        self.stdout.write(secret)

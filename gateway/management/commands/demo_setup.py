"""`manage.py demo_setup`: an admin user, a demo account, key and channel, created once."""

import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from billing.models import Account, ApiKey
from billing.services import account_create, account_credit, api_key_create
from channels.models import ApiType
from channels.selectors import channels_live
from channels.services import ModelOffer, channel_create, channel_update

ADMIN_USERNAME = "admin"
DEMO_ACCOUNT = "demo"
DEMO_KEY_NAME = "demo"
DEMO_CHANNEL = "demo-fake-upstream"
DEMO_CREDIT = Decimal(10)
DEMO_MODELS = [
    ModelOffer(
        model="gpt-4o-mini",
        upstream_model="gpt-4o-mini",
        input_price=Decimal("0.15"),
        output_price=Decimal("0.60"),
        cached_input_price=Decimal("0.075"),
    ),
]


class Command(BaseCommand):
    """Create the demo once; later runs keep the data and change nothing but the channel URL."""

    help = "Create an admin user, a demo account with credit, a demo key and a demo channel."

    def add_arguments(self, parser: CommandParser) -> None:
        """--upstream-url: the fake upstream's API root; --gateway-url: for the printed curl."""
        parser.add_argument("--upstream-url", default="http://127.0.0.1:9100/v1")
        parser.add_argument("--gateway-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, *args: Any, upstream_url: str, gateway_url: str, **options: Any) -> None:
        """Print what was created; secrets only the one time they are made."""
        self._admin(gateway_url)
        account = self._account()
        self._channel(upstream_url)
        self._key(account, gateway_url)

    def _admin(self, gateway_url: str) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(
                f"Admin user '{ADMIN_USERNAME}' exists (its password was printed when it was "
                "created; reset it with "
                f"`.venv/bin/python manage.py changepassword {ADMIN_USERNAME}`)."
            )
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin user created: {ADMIN_USERNAME} / {password}  ({gateway_url}/admin/)"
            )
        )

    def _account(self) -> Account:
        account = Account.objects.filter(name=DEMO_ACCOUNT).first()
        if account is None:
            account = account_create(name=DEMO_ACCOUNT)
            account_credit(account=account, amount=DEMO_CREDIT, description="demo credit")
            self.stdout.write(f"Demo account '{DEMO_ACCOUNT}' created with {DEMO_CREDIT} USD.")
        return account

    def _channel(self, upstream_url: str) -> None:
        channel = channels_live().filter(name=DEMO_CHANNEL).first()
        if channel is None:
            channel_create(
                name=DEMO_CHANNEL,
                provider="fake",
                api_type=ApiType.OPENAI,
                base_url=upstream_url,
                api_key="fake-upstream-" + secrets.token_urlsafe(16),
                models=DEMO_MODELS,
            )
            self.stdout.write(f"Demo channel '{DEMO_CHANNEL}' created for {upstream_url}.")
        elif channel.base_url != upstream_url:
            channel_update(channel=channel, fields={"base_url": upstream_url})
            self.stdout.write(f"Demo channel '{DEMO_CHANNEL}' now points at {upstream_url}.")

    def _key(self, account: Account, gateway_url: str) -> None:
        existing = ApiKey.objects.filter(account=account, name=DEMO_KEY_NAME).first()
        if existing is not None:
            self.stdout.write(
                f"Demo key exists ({existing.prefix}…; its secret was printed once). Make another "
                f"with `.venv/bin/python manage.py create_api_key --account {DEMO_ACCOUNT}`."
            )
            return
        _, secret = api_key_create(account=account, name=DEMO_KEY_NAME)
        self.stdout.write(self.style.SUCCESS(f"Demo API key (shown once): {secret}"))
        self.stdout.write(
            f"Try it:\n  curl {gateway_url}/v1/chat/completions -H 'Authorization: Bearer {secret}'"
            " -H 'Content-Type: application/json'"
            ' -d \'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}\''
        )

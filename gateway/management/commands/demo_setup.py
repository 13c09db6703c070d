"""`manage.py demo_setup`: an admin user, a demo account, key and channel, created once; the
secrets go to `var/demo-credentials.txt` (mode 0600)."""

import secrets
import sys
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
from gateway.management.demo_credentials import (
    ADMIN_PASSWORD,
    API_KEY,
    DemoCredentials,
    credentials_box,
    credentials_path,
    credentials_read,
    credentials_still_valid,
    credentials_write,
    display_path,
    try_it,
)

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

    help = (
        "Create an admin user, a demo account with credit, a demo key and a demo channel; save "
        "the secrets to var/demo-credentials.txt (mode 0600) and show them in a box."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--upstream-url: the fake upstream's API root; --gateway-url: where clients reach the
        gateway; --no-box: leave the box to `demo_run`, which shows it once the gateway is up."""
        parser.add_argument("--upstream-url", default="http://127.0.0.1:9100/v1")
        parser.add_argument("--gateway-url", default="http://127.0.0.1:8000")
        parser.add_argument("--no-box", action="store_true")

    def handle(
        self, *args: Any, upstream_url: str, gateway_url: str, no_box: bool, **options: Any
    ) -> None:
        """Say what was made; the secrets only in the file and the box, never in a log line."""
        path = credentials_path()
        with transaction.atomic():
            known = credentials_read(path)
            password = self._admin() or known.get(ADMIN_PASSWORD)
            account = self._account()
            self._channel(upstream_url)
            key = self._key(account) or known.get(API_KEY)
        # A password changed or a key revoked since the file was written is dropped from it.
        current = credentials_still_valid(
            DemoCredentials(
                gateway_url=gateway_url,
                admin_user=ADMIN_USERNAME,
                admin_password=password,
                api_key=key,
            )
        )
        credentials_write(current, path)
        self.stdout.write(f"Demo credentials saved to {display_path(path)} (mode 0600).")
        if not no_box:
            unicode = (getattr(sys.stdout, "encoding", "") or "").lower().startswith("utf")
            self.stdout.write(try_it(current))
            self.stdout.write(
                self.style.SUCCESS(credentials_box(current, path=path, unicode=unicode))
            )

    def _admin(self) -> str | None:
        """The new admin's password, or None when the user exists."""
        user_model = get_user_model()
        if user_model.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(f"Admin user '{ADMIN_USERNAME}' exists.")
            return None
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        self.stdout.write(f"Admin user '{ADMIN_USERNAME}' created.")
        return password

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

    def _key(self, account: Account) -> str | None:
        """The new demo key's secret, or None when the key exists."""
        existing = ApiKey.objects.filter(account=account, name=DEMO_KEY_NAME).first()
        if existing is not None:
            self.stdout.write(f"Demo key exists ({existing.prefix}…).")
            return None
        _, secret = api_key_create(account=account, name=DEMO_KEY_NAME)
        self.stdout.write(f"Demo API key '{DEMO_KEY_NAME}' created.")
        return secret

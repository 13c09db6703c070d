"""Give the gateway under benchmark an account with credit, a key and a `bench` channel.

Run with the gateway's environment: ``DJANGO_SETTINGS_MODULE=config.settings.base
python -m bench.gateway_setup --upstream-url http://127.0.0.1:PORT/v1``; prints ``BENCH_API_KEY=…``.
"""

from __future__ import annotations

import argparse
import secrets
from decimal import Decimal

import django

ACCOUNT = "bench"
CHANNEL = "bench"
KEY_PREFIX = "BENCH_API_KEY="
CREDIT = Decimal(1_000_000)


def setup(upstream_url: str) -> str:
    """Create (or repoint) the account, channel and models; return a fresh key's secret."""
    from django.db import transaction

    from bench.plan import GATEWAY_MODELS, UPSTREAM_MODELS
    from billing.models import Account
    from billing.services import account_create, account_credit, api_key_create
    from channels.models import ApiType, ChannelStatus
    from channels.selectors import channels_live
    from channels.services import ModelOffer, channel_create, channel_update

    offers = [
        ModelOffer(
            model=GATEWAY_MODELS[kind],
            upstream_model=UPSTREAM_MODELS[kind],
            input_price=Decimal("0.15"),
            output_price=Decimal("0.60"),
        )
        for kind in GATEWAY_MODELS
    ]
    upstream_key = "bench-" + secrets.token_urlsafe(12)
    with transaction.atomic():
        account = Account.objects.filter(name=ACCOUNT).first() or account_create(name=ACCOUNT)
        account_credit(account=account, amount=CREDIT, description="benchmark credit")
        channel = channels_live().filter(name=CHANNEL).first()
        fields: dict[str, object] = {
            "provider": "fake",
            "api_type": ApiType.OPENAI,
            "base_url": upstream_url,
        }
        if channel is None:
            channel_create(name=CHANNEL, api_key=upstream_key, models=offers, **fields)
        else:
            fields.update(enabled=True, status=ChannelStatus.UNKNOWN)
            channel_update(channel=channel, fields=fields, api_key=upstream_key, models=offers)
        _, secret = api_key_create(account=account, name="bench")
    return secret


def main() -> None:
    """Parse --upstream-url, set Django up, print the key."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_setup")
    parser.add_argument("--upstream-url", required=True)
    args = parser.parse_args()
    django.setup()
    print(f"{KEY_PREFIX}{setup(args.upstream_url)}", flush=True)


if __name__ == "__main__":
    main()

"""Give the gateway under benchmark an account with credit, a key and two channels on the fake
upstream: `bench` (OpenAI-compatible, for the chat door, the translated Messages door and both
Responses doors) and `bench-anthropic` (Anthropic Messages, for the native Messages door).

Run with the gateway's environment: ``DJANGO_SETTINGS_MODULE=config.settings.base
python -m bench.gateway_setup --upstream-url http://127.0.0.1:PORT/v1``; prints ``BENCH_API_KEY=…``.
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import django

if TYPE_CHECKING:
    from channels.services import ModelOffer

ACCOUNT = "bench"
CHANNEL = "bench"
ANTHROPIC_CHANNEL = "bench-anthropic"
KEY_PREFIX = "BENCH_API_KEY="
CREDIT = Decimal(1_000_000)


def _offers(public: Mapping[str, str], upstream: Mapping[str, str]) -> list[ModelOffer]:
    from channels.services import ModelOffer

    return [
        ModelOffer(
            model=public[kind],
            upstream_model=upstream[kind],
            input_price=Decimal("0.15"),
            output_price=Decimal("0.60"),
        )
        for kind in public
    ]


def _channel(name: str, *, api_type: str, upstream_url: str, offers: list[ModelOffer]) -> None:
    """Create the channel `name`, or repoint, re-enable and re-key it."""
    from channels.models import ChannelStatus
    from channels.selectors import channels_live
    from channels.services import channel_create, channel_update

    upstream_key = "bench-" + secrets.token_urlsafe(12)
    channel = channels_live().filter(name=name).first()
    fields: dict[str, object] = {"provider": "fake", "api_type": api_type, "base_url": upstream_url}
    if channel is None:
        channel_create(name=name, api_key=upstream_key, models=offers, **fields)
    else:
        fields.update(enabled=True, status=ChannelStatus.UNKNOWN)
        channel_update(channel=channel, fields=fields, api_key=upstream_key, models=offers)


def setup(upstream_url: str) -> str:
    """Create (or repoint) the account, channels and models; return a fresh key's secret."""
    from django.db import transaction

    from bench.plan import CLAUDE_MODELS, GATEWAY_MODELS, NATIVE_MODELS, UPSTREAM_MODELS
    from billing.models import Account
    from billing.services import account_create, account_credit, api_key_create
    from channels.models import ApiType

    with transaction.atomic():
        account = Account.objects.filter(name=ACCOUNT).first() or account_create(name=ACCOUNT)
        account_credit(account=account, amount=CREDIT, description="benchmark credit")
        _channel(
            CHANNEL,
            api_type=ApiType.OPENAI,
            upstream_url=upstream_url,
            offers=_offers(GATEWAY_MODELS, UPSTREAM_MODELS),
        )
        _channel(
            ANTHROPIC_CHANNEL,
            api_type=ApiType.ANTHROPIC,
            upstream_url=upstream_url,
            offers=_offers(NATIVE_MODELS, CLAUDE_MODELS),
        )
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

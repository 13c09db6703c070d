"""Writes to channels: create, update, enable, and (re-)encrypt their secrets."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from channels.crypto import encrypt_secret, reencrypt_secret, secret_hint
from channels.models import Channel, ChannelModel


@dataclass(frozen=True)
class ModelOffer:
    """A public model a channel serves, its upstream name and prices (USD per 1M tokens)."""

    model: str
    upstream_model: str = ""
    input_price: Decimal = Decimal(0)
    output_price: Decimal = Decimal(0)
    cached_input_price: Decimal | None = None


def channel_set_api_key(*, channel: Channel, api_key: str) -> None:
    """Store `api_key` encrypted on the (unsaved) channel, with a masked hint."""
    channel.api_key_encrypted = encrypt_secret(api_key) if api_key else ""
    channel.api_key_hint = secret_hint(api_key) if api_key else ""


def channel_models_replace(*, channel: Channel, offers: Iterable[ModelOffer]) -> None:
    """Replace every model a channel serves by `offers`."""
    channel.models.all().delete()
    ChannelModel.objects.bulk_create(
        ChannelModel(
            channel=channel,
            model=offer.model,
            upstream_model=offer.upstream_model,
            input_price=offer.input_price,
            output_price=offer.output_price,
            cached_input_price=offer.cached_input_price,
        )
        for offer in offers
    )


@transaction.atomic
def channel_create(
    *, api_key: str = "", models: Iterable[ModelOffer] = (), **fields: Any
) -> Channel:
    """Create a channel with its secret encrypted and the models it serves."""
    channel = Channel(**fields)
    channel_set_api_key(channel=channel, api_key=api_key)
    channel.save()
    channel_models_replace(channel=channel, offers=models)
    return channel


@transaction.atomic
def channel_update(
    *,
    channel: Channel,
    fields: Mapping[str, Any],
    api_key: str | None = None,
    models: Iterable[ModelOffer] | None = None,
) -> Channel:
    """Change the given fields; a new `api_key` replaces the secret, `models` all the models."""
    for name, value in fields.items():
        setattr(channel, name, value)
    if api_key is not None:
        channel_set_api_key(channel=channel, api_key=api_key)
    channel.save()
    if models is not None:
        channel_models_replace(channel=channel, offers=models)
    return channel


def channels_set_enabled(*, channels: QuerySet[Channel], enabled: bool) -> int:
    """Enable or disable the given channels; return how many changed."""
    return channels.exclude(enabled=enabled).update(enabled=enabled)


def channels_reencrypt_secrets() -> int:
    """Re-encrypt every stored channel secret under the first configured key; return the count."""
    count = 0
    with transaction.atomic():
        for channel in Channel.objects.select_for_update().exclude(api_key_encrypted=""):
            channel.api_key_encrypted = reencrypt_secret(channel.api_key_encrypted)
            channel.save(update_fields=["api_key_encrypted"])
            count += 1
    return count

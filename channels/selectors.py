"""Reads of channels."""

from django.db.models import QuerySet

from channels.crypto import decrypt_secret
from channels.models import Channel, ChannelModel


def channel_list() -> QuerySet[Channel]:
    """Every channel with its models, highest priority first."""
    return Channel.objects.prefetch_related("models")


def channel_api_key(*, channel: Channel) -> str:
    """The channel's secret in the clear, for the upstream request only; never log or render it."""
    return decrypt_secret(channel.api_key_encrypted) if channel.api_key_encrypted else ""


def served_models() -> QuerySet[ChannelModel]:
    """Every model served by an enabled channel, with its channel."""
    return ChannelModel.objects.filter(channel__enabled=True).select_related("channel")

"""Reads of channels."""

from django.db.models import QuerySet

from channels.crypto import decrypt_secret
from channels.models import Channel, ChannelModel


def channels_live() -> QuerySet[Channel]:
    """Every channel that is not archived, highest priority first."""
    return Channel.objects.filter(archived_at__isnull=True)


def channel_list(*, archived: bool = False) -> QuerySet[Channel]:
    """Live channels with their models, highest priority first; archived ones too if asked."""
    channels = Channel.objects.all() if archived else channels_live()
    return channels.prefetch_related("models")


def channel_api_key(*, channel: Channel) -> str:
    """The channel's secret in the clear, for the upstream request only; never log or render it."""
    return decrypt_secret(channel.api_key_encrypted) if channel.api_key_encrypted else ""


def served_models() -> QuerySet[ChannelModel]:
    """Every model served by an enabled, live (not archived) channel, with its channel."""
    return ChannelModel.objects.filter(
        channel__enabled=True, channel__archived_at__isnull=True
    ).select_related("channel")


def live_channel_models() -> QuerySet[ChannelModel]:
    """Every model of a live (not archived) channel, enabled or not."""
    return ChannelModel.objects.filter(channel__archived_at__isnull=True)

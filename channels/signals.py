"""Broadcast every change of a channel or of the models and prices it serves (the admin, the
management API, the dashboard and the services all save through here), once committed."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from channels.models import Channel, ChannelModel
from core.config_changes import CATALOG, changed

PROBE_BOOKKEEPING = frozenset({"next_probe_at", "updated_at", "consecutive_failures"})
"""Fields a probe saves that routing does not read: saving only these broadcasts nothing."""


@receiver(post_save, sender=Channel, dispatch_uid="channels.channel_saved")
def _channel_saved(*, update_fields: frozenset[str] | None, using: str, **kwargs: Any) -> None:
    if update_fields is None or not update_fields <= PROBE_BOOKKEEPING:
        changed(CATALOG, using=using)


@receiver(post_delete, sender=Channel, dispatch_uid="channels.channel_deleted")
@receiver(post_save, sender=ChannelModel, dispatch_uid="channels.model_saved")
@receiver(post_delete, sender=ChannelModel, dispatch_uid="channels.model_deleted")
def _catalog_changed(*, using: str, **kwargs: Any) -> None:
    changed(CATALOG, using=using)

"""Broadcast every change of an API key (limits, allowlist, expiry, revocation, deletion), once
committed, so that no gateway process goes on trusting what it cached of it.

Accounts are not broadcast: a process caches nothing of an account (its credit is checked when
each request is admitted, against the reservations' own budgets)."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import ApiKey
from core.config_changes import key_changed


@receiver(post_save, sender=ApiKey, dispatch_uid="billing.key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="billing.key_deleted")
def _key_changed(*, instance: ApiKey, using: str, **kwargs: Any) -> None:
    if instance.key_hash:
        key_changed(instance.key_hash, using=using)

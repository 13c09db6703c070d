"""Writes to channels: create, update, enable, archive or delete, (re-)encrypt their secrets,
and record probes."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from channels.crypto import encrypt_secret, reencrypt_secret, secret_hint
from channels.models import Channel, ChannelModel, ChannelStatus, HealthCheck
from channels.probes import ProbeResult, probe_channel, probe_delay, probe_interval
from core.config_changes import CATALOG, changed

INVALID_CREDENTIALS = "invalid credentials: upstream answered {status}"
FAILED_IN_A_ROW = "{failures} failed probes in a row: {error}"
CREDENTIAL_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class ModelOffer:
    """A public model a channel serves, its upstream name and prices (USD per 1M tokens)."""

    model: str
    upstream_model: str = ""
    input_price: Decimal = Decimal(0)
    output_price: Decimal = Decimal(0)
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None
    cache_write_1h_price: Decimal | None = None
    max_output_tokens: int | None = None
    unsupported: tuple[str, ...] = ()


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
            cache_write_price=offer.cache_write_price,
            cache_write_1h_price=offer.cache_write_1h_price,
            max_output_tokens=offer.max_output_tokens,
            unsupported=sorted(set(offer.unsupported)),
        )
        for offer in offers
    )
    changed(CATALOG)  # bulk_create sends no post_save


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
    """Enable or disable the given channels (an archived one is never enabled again); return
    how many changed."""
    if enabled:
        channels = channels.filter(archived_at__isnull=True)
    # updated_at marks the change: channel_delete waits for requests routed before it.
    count = channels.exclude(enabled=enabled).update(enabled=enabled, updated_at=timezone.now())
    if count:
        changed(CATALOG)  # update() sends no post_save
    return count


def in_flight_seconds() -> float:
    """How long after a channel last served, or was changed, a request routed to it may still
    be unrecorded: a process's catalog is up to GATEWAY_CATALOG_SECONDS old, and a request
    holds its reservation up to GATEWAY_RESERVATION_SECONDS."""
    return float(settings.GATEWAY_RESERVATION_SECONDS + settings.GATEWAY_CATALOG_SECONDS)


def channel_has_history(*, channel: Channel, now: datetime | None = None) -> bool:
    """Whether a usage record or a rollup refers to the channel, or a request routed to it may
    still be in flight (it serves models now, or was changed within `in_flight_seconds()`)."""
    now = now or timezone.now()
    # Through the reverse relation and the app registry: channels imports neither billing nor
    # reports (the dependencies run gateway → billing → channels).
    if channel.usage_records.exists():
        return True
    # Raw records may be pruned once rolled up; the rollups keep the channel's id.
    if apps.get_model("reports", "DailyUsage").objects.filter(channel_id=channel.pk).exists():
        return True
    if channel.updated_at > now - timedelta(seconds=in_flight_seconds()):
        return True
    return channel.enabled and channel.archived_at is None and channel.models.exists()


def channel_archive(*, channel: Channel, now: datetime | None = None) -> Channel:
    """Archive a channel: disabled, out of routing, probes and lists, its name free for a new
    channel; its records and rollups keep it. Archiving again keeps the first time."""
    if channel.archived_at is None:
        channel.archived_at = now or timezone.now()
        channel.enabled = False
        channel.save(update_fields=["archived_at", "enabled", "updated_at"])
    return channel


def channel_delete(*, channel: Channel, now: datetime | None = None) -> bool:
    """What deleting a channel means: delete it for real when it has no history (True),
    archive it otherwise (False), so that no usage record ever loses or lacks its channel."""
    now = now or timezone.now()
    if not channel_has_history(channel=channel, now=now):
        pk = channel.pk
        try:
            with transaction.atomic():
                channel.delete()
        except (ProtectedError, IntegrityError):
            # A usage record arrived meanwhile: keep the channel for it. (Model.delete() clears
            # the pk before the commit whose deferred foreign-key check refused.)
            channel.pk = pk
        else:
            return True
    channel_archive(channel=channel, now=now)
    return False


def channels_reencrypt_secrets() -> int:
    """Re-encrypt every stored channel secret under the first configured key; return the count."""
    count = 0
    with transaction.atomic():
        for channel in Channel.objects.select_for_update().exclude(api_key_encrypted=""):
            channel.api_key_encrypted = reencrypt_secret(channel.api_key_encrypted)
            channel.save(update_fields=["api_key_encrypted"])
            count += 1
    return count


def channel_probe(*, channel: Channel) -> HealthCheck:
    """Probe the channel now and record the probe (see `channel_record_probe`)."""
    return channel_record_probe(channel=channel, result=probe_channel(channel))


def channel_record_probe(
    *, channel: Channel, result: ProbeResult, now: datetime | None = None
) -> HealthCheck:
    """Write the probe's HealthCheck and move the channel's status and next probe time with it.

    A pass makes the channel healthy; K failures in a row (or one 401/403) make it down, and
    past K the next probe backs off. A probe of an unsupported protocol changes nothing but
    the next probe time.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        check = HealthCheck.objects.create(
            channel=locked,
            checked_at=now,
            ok=result.ok,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        fields = ["next_probe_at", "updated_at"]
        if not result.supported:
            delay = probe_interval(channel=locked)
        elif result.ok:
            locked.consecutive_failures = 0
            fields += ["consecutive_failures", *_set_status(locked, ChannelStatus.HEALTHY, "", now)]
            delay = probe_interval(channel=locked)
        else:
            locked.consecutive_failures += 1
            fields.append("consecutive_failures")
            reason = _down_reason(locked.consecutive_failures, result)
            if reason:
                fields += _set_status(locked, ChannelStatus.DOWN, reason, now)
            delay = probe_delay(channel=locked, failures=locked.consecutive_failures)
        locked.next_probe_at = now + timedelta(seconds=delay)
        locked.save(update_fields=fields)
    for name in ("status", "status_reason", "status_changed_at", "consecutive_failures"):
        setattr(channel, name, getattr(locked, name))
    channel.next_probe_at = locked.next_probe_at
    return check


def _down_reason(failures: int, result: ProbeResult) -> str:
    """Why a failed probe takes the channel down, or "" when it stays as it is for now."""
    if result.status_code in CREDENTIAL_STATUSES:
        return INVALID_CREDENTIALS.format(status=result.status_code)
    if failures >= settings.HEALTH_FAILURE_THRESHOLD:
        return FAILED_IN_A_ROW.format(failures=failures, error=result.error)[:500]
    return ""


def _set_status(channel: Channel, status: str, reason: str, now: datetime) -> list[str]:
    """Set status and reason; stamp `status_changed_at` only on a change. Returns the fields."""
    fields = []
    if channel.status != status:
        channel.status = status
        channel.status_changed_at = now
        fields += ["status", "status_changed_at"]
    if channel.status_reason != reason:
        channel.status_reason = reason
        fields.append("status_reason")
    return fields


def health_checks_prune(*, now: datetime | None = None) -> int:
    """Delete HealthCheck rows older than HEALTH_RETENTION_DAYS; return how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HEALTH_RETENTION_DAYS)
    deleted, _ = HealthCheck.objects.filter(checked_at__lt=cutoff).delete()
    return deleted

"""The in-process snapshot of what is served where: public model → offers, refreshed in the
background every GATEWAY_CATALOG_SECONDS so that no request waits on the database for it."""

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings

from gateway.bridge import store
from gateway.metrics import set_channel_status
from gateway.schemas import Offer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Offers by public model id, as loaded at `loaded_at` (monotonic seconds)."""

    offers: dict[str, tuple[Offer, ...]] = field(default_factory=dict)
    loaded_at: float = 0.0

    def models(self) -> list[str]:
        """Every public model id served, sorted."""
        return sorted(self.offers)


_current: Catalog | None = None
_refreshing: asyncio.Future[Catalog] | None = None


async def _load() -> Catalog:
    by_model: defaultdict[str, list[Offer]] = defaultdict(list)
    for offer in await store.load_offers():
        by_model[offer.model].append(offer)
        set_channel_status(offer.channel_name, offer.status)
    return Catalog(
        offers={model: tuple(offers) for model, offers in by_model.items()},
        loaded_at=time.monotonic(),
    )


async def _refresh() -> Catalog:
    global _current, _refreshing
    try:
        catalog = await _load()
        _current = catalog
        return catalog
    finally:
        _refreshing = None


async def current_catalog() -> Catalog:
    """The snapshot; a stale one is served while a single background refresh replaces it."""
    global _refreshing
    catalog = _current
    if (
        catalog is not None
        and time.monotonic() - catalog.loaded_at < settings.GATEWAY_CATALOG_SECONDS
    ):
        return catalog
    if _refreshing is None or _refreshing.get_loop() is not asyncio.get_running_loop():
        _refreshing = asyncio.ensure_future(_refresh())
        _refreshing.add_done_callback(_log_failure)
    if catalog is None:
        return await asyncio.shield(_refreshing)
    return catalog


def _log_failure(future: asyncio.Future[Catalog]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("catalog refresh failed", exc_info=future.exception())


def invalidate_catalog() -> None:
    """Forget the snapshot: the next request loads a fresh one (tests, admin changes)."""
    global _current
    _current = None

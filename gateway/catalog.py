"""The in-process snapshot of what is served where: public model → offers.

No request is routed or priced on a snapshot older than GATEWAY_CATALOG_SECONDS. A timer on the
serving event loop reloads it every half of that, traffic or not; a request that finds it older
than half the bound starts a reload and goes on; one that finds it older than the bound waits
for the reload (one load, shared by every request waiting), and gets 503 `database_unavailable`
if the database cannot give one. A model the snapshot does not know is looked up again when the
snapshot is over a second old, so a model created a moment ago is served (one load a second at
most, whatever names clients make up). A configuration notice (gateway.config_follow) reloads
it at once: one reload at a time, and one more after it when notices came during it.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from gateway.bridge import store
from gateway.errors import DatabaseUnavailable
from gateway.schemas import Offer

logger = logging.getLogger(__name__)

UNKNOWN_MODEL_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Catalog:
    """Offers by public model id, as loaded at `loaded_at` (monotonic seconds)."""

    offers: dict[str, tuple[Offer, ...]] = field(default_factory=dict)
    loaded_at: float = 0.0

    def models(self) -> list[str]:
        """Every public model id served, sorted."""
        return sorted(self.offers)

    def age(self) -> float:
        """Seconds since it was loaded."""
        return time.monotonic() - self.loaded_at


_current: Catalog | None = None
_refreshing: asyncio.Future[Catalog] | None = None
_timer_loop: asyncio.AbstractEventLoop | None = None
_failing = False
_again = False
_generation = 0
"""Bumped by `invalidate_catalog`: a reload begun before keeps its snapshot to itself."""


async def _load() -> Catalog:
    by_model: defaultdict[str, list[Offer]] = defaultdict(list)
    for offer in await store.load_offers():
        by_model[offer.model].append(offer)
    return Catalog(
        offers={model: tuple(offers) for model, offers in by_model.items()},
        loaded_at=time.monotonic(),
    )


async def _refresh() -> Catalog:
    global _current, _refreshing
    generation = _generation
    try:
        catalog = await _load()
        if generation == _generation:  # not read before an invalidation
            _current = catalog
        return catalog
    finally:
        if _refreshing is asyncio.current_task():
            _refreshing = None


def _note_outcome(future: asyncio.Future[Catalog]) -> None:
    """Log a failing reload once per outage, and the recovery once."""
    global _failing
    if future.cancelled():
        return
    error = future.exception()
    if error is not None and not _failing:
        _failing = True
        logger.error(
            "catalog reload failed (%s); retrying every %g s",
            error,
            _interval(),
            exc_info=None if isinstance(error, DatabaseUnavailable) else error,
        )
    elif error is None and _failing:
        _failing = False
        logger.warning("catalog reloaded again after failures")


def _reload() -> asyncio.Future[Catalog]:
    """The reload under way on this loop, or a new one."""
    global _refreshing
    if _refreshing is None or _refreshing.get_loop() is not asyncio.get_running_loop():
        _refreshing = asyncio.ensure_future(_refresh())
        _refreshing.add_done_callback(_note_outcome)
    return _refreshing


def _interval() -> float:
    """Seconds between timer reloads: half the bound."""
    bound: float = settings.GATEWAY_CATALOG_SECONDS
    return max(0.05, bound / 2)


def _tick(loop: asyncio.AbstractEventLoop) -> None:
    """Reload in the background, then schedule the next tick (a pending timer is simply dropped
    when the loop closes, so shutdown never waits for it)."""
    if loop.is_closed() or _timer_loop is not loop:
        return
    reloading = _reload()
    reloading.add_done_callback(lambda _: loop.call_later(_interval(), _tick, loop))


def _start_timer() -> None:
    """Keep the snapshot fresh on the running loop from now on (once per loop)."""
    global _timer_loop
    loop = asyncio.get_running_loop()
    if _timer_loop is not loop:
        _timer_loop = loop
        loop.call_later(_interval(), _tick, loop)


async def _fresh() -> Catalog:
    """A snapshot loaded now; DatabaseUnavailable when the database cannot give one (any
    other error is a bug, and propagates as one)."""
    return await asyncio.shield(_reload())


async def current_catalog(*, wanting: Iterable[str] = ()) -> Catalog:
    """A snapshot younger than GATEWAY_CATALOG_SECONDS that, if it can, knows the `wanting`
    models (see the module's docstring for when it waits)."""
    _start_timer()
    catalog = _current
    bound = settings.GATEWAY_CATALOG_SECONDS
    if catalog is None or catalog.age() >= bound:
        return await _fresh()
    if catalog.age() >= bound / 2:
        _reload()
    unknown = any(model not in catalog.offers for model in wanting)
    if unknown and catalog.age() >= UNKNOWN_MODEL_RECHECK_SECONDS:
        try:
            return await _fresh()
        except DatabaseUnavailable:
            return catalog  # still within the bound: the model is unknown as of it
    return catalog


def reload_now() -> None:
    """Reload on the running loop now; when a reload is under way, reload once more after it
    (it may have read the database before the change committed)."""
    global _again
    reloading = _refreshing
    if reloading is None or reloading.get_loop() is not asyncio.get_running_loop():
        _reload()
    elif not _again:
        _again = True
        reloading.add_done_callback(_reload_again)


def _reload_again(_: asyncio.Future[Catalog]) -> None:
    global _again
    _again = False
    _reload()


def reload_under_way() -> bool:
    """Whether a reload is reading the database now (tests wait for it before emptying it)."""
    return _refreshing is not None and not _refreshing.done()


def invalidate_catalog() -> None:
    """Forget the snapshot: the next request loads a fresh one, not one a reload under way
    read before now (tests, admin changes)."""
    global _current, _refreshing, _generation
    _current = None
    _refreshing = None
    _generation += 1

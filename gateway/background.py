"""Fire-and-forget work on the running event loop, kept referenced until it is done."""

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

logger = logging.getLogger(__name__)

_running: set["asyncio.Future[Any]"] = set()


def spawn(work: Awaitable[Any], *, what: str) -> None:
    """Run `work` in the background on the running loop; a failure is logged as `what`."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(lambda done: _finished(done, what))


def _finished(task: "asyncio.Future[Any]", what: str) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("%s failed: %s", what, task.exception())

"""The Responses door's state: an answered response kept in the stored responses
(gateway.bridge.responses_store) before the client has its last byte, so that the next turn
(`previous_response_id`) or a `GET /v1/responses/{id}` sent the moment the answer arrived finds
it; a store that fails is logged and never fails the answer."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.bridge import responses_store

logger = logging.getLogger(__name__)

Keeper = Callable[[dict[str, Any]], Awaitable[None]]


def keeper(
    *,
    key_id: int,
    input_items: list[dict[str, Any]],
    previous_response_id: str | None,
    channel_id: int | None,
) -> Keeper:
    """What stores an answered response with this request's own input items."""

    async def keep(response: dict[str, Any]) -> None:
        try:
            await responses_store.remember(
                key_id=key_id,
                response=response,
                input_items=input_items,
                previous_response_id=previous_response_id,
                channel_id=channel_id,
            )
        except Exception as error:  # the answer stands without its stored copy
            logger.warning("storing response %s failed: %s", response.get("id"), error)

    return keep

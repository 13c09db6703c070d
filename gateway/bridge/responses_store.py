"""The Responses API's stored responses, from async code: each call runs in a pool thread, as
gateway.bridge.store's reads do, and answers DatabaseUnavailable (503) when the database cannot.

A response belongs to the key that made it: another key's id is not found, like an unknown,
deleted or pruned one (GATEWAY_RESPONSES_RETENTION_DAYS).
"""

from typing import Any

from gateway.bridge.store import _client_read
from gateway.stored_responses import (
    Order,
    Turn,
    stored_response_delete,
    stored_response_input_items,
    stored_response_of_key,
    stored_response_save,
    stored_response_turns,
)

__all__ = ["Turn", "conversation", "delete", "input_items", "remember", "retrieve", "turns"]

_save = _client_read(stored_response_save)
_turns = _client_read(stored_response_turns)
_delete = _client_read(stored_response_delete)
_input_items = _client_read(stored_response_input_items)


def _response_of(*, key_id: int, response_id: str) -> dict[str, Any]:
    return dict(stored_response_of_key(key_id=key_id, response_id=response_id).response)


_retrieve = _client_read(_response_of)


async def remember(
    *,
    key_id: int,
    response: dict[str, Any],
    input_items: list[dict[str, Any]],
    previous_response_id: str | None,
    channel_id: int | None,
) -> None:
    """Store the answered Response object (by its `id`) with this request's own input items."""
    await _save(
        key_id=key_id,
        response=response,
        input_items=input_items,
        previous_response_id=previous_response_id,
        channel_id=channel_id,
    )


async def turns(*, key_id: int, response_id: str) -> list[Turn]:
    """The stored responses of the conversation ending with `response_id`, oldest first;
    ResponseNotFound (404, param `previous_response_id`) when one is missing."""
    return await _turns(key_id=key_id, response_id=response_id)


async def conversation(*, key_id: int, response_id: str) -> list[dict[str, Any]]:
    """Every item of the conversation up to and including `response_id`, oldest first (each
    response's input items, then its output items); ResponseNotFound as `turns`."""
    return [
        item
        for turn in await turns(key_id=key_id, response_id=response_id)
        for item in (*turn.input_items, *turn.output_items)
    ]


async def retrieve(*, key_id: int, response_id: str) -> dict[str, Any]:
    """The Response object as answered; ResponseNotFound (404) when not the key's."""
    return await _retrieve(key_id=key_id, response_id=response_id)


async def delete(*, key_id: int, response_id: str) -> bool:
    """Forget the key's response; False when it has none with that id."""
    return await _delete(key_id=key_id, response_id=response_id)


async def input_items(
    *, key_id: int, response_id: str, after: str | None, limit: int, order: Order
) -> dict[str, Any]:
    """A page of the response's own input items (an OpenAI list object); ResponseNotFound when
    not the key's, InvalidRequest (param `after`) for an item id it does not have."""
    return await _input_items(
        key_id=key_id, response_id=response_id, after=after, limit=limit, order=order
    )

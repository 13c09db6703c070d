"""Stored Responses-API responses (sync): saved per key, walked back along
`previous_response_id`, listed, deleted and pruned. Async code reaches these through
gateway.bridge.responses_store."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.write_lock import serialized_writes
from gateway.clip import clip
from gateway.errors import InvalidRequest, ResponseNotFound
from gateway.models import RESPONSE_ID_LENGTH, StoredResponse

Order = Literal["asc", "desc"]

MAX_CONVERSATION_RESPONSES = 1000
"""How many responses one `previous_response_id` chain may hold (one query per hop)."""
PRUNE_BATCH = 5000
RESPONSE_NOT_FOUND = "Response with id '{id}' not found."
PREVIOUS_NOT_FOUND = "Previous response with id '{id}' not found."
CONVERSATION_TOO_LONG = (
    "The conversation continues more than {limit} stored responses; start a new one with the "
    "whole input instead of previous_response_id."
)
ITEM_NOT_FOUND = "No input item with id '{id}' in response '{response}'."
ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored response of a conversation: what its request added and what it answered,
    and the channel that served it (encrypted reasoning may only go back there)."""

    response_id: str
    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]
    channel_id: int | None


def stored_response_save(
    *,
    key_id: int,
    response: dict[str, Any],
    input_items: list[dict[str, Any]],
    previous_response_id: str | None,
    channel_id: int | None,
) -> None:
    """Store `response` (its `id`, `created_at` and `output` are read from it) for `key_id`;
    saving the same id again replaces it."""
    defaults = {
        "key_id": key_id,
        "created_at": _time_of(response.get("created_at")),
        "previous_response_id": previous_response_id or "",
        "input_items": input_items,
        "output_items": list(response.get("output") or []),
        "response": response,
        "channel_id": channel_id,
    }
    with serialized_writes():
        StoredResponse.objects.update_or_create(id=response["id"], defaults=defaults)


def _time_of(created_at: Any) -> datetime:
    if isinstance(created_at, int | float) and not isinstance(created_at, bool):
        return datetime.fromtimestamp(created_at, tz=UTC)
    return timezone.now()


def _of_key(key_id: int, response_id: str) -> QuerySet[StoredResponse]:
    """The key's stored responses with that id: none for text no id could be (too long, or not
    printable: PostgreSQL refuses a NUL in a query)."""
    if len(response_id) > RESPONSE_ID_LENGTH or not response_id.isprintable():
        return StoredResponse.objects.none()
    return StoredResponse.objects.filter(pk=response_id, key_id=key_id)


def stored_response_of_key(*, key_id: int, response_id: str) -> StoredResponse:
    """The key's stored response; ResponseNotFound when it has none with that id."""
    found = _of_key(key_id, response_id).first()
    if found is None:
        raise ResponseNotFound(RESPONSE_NOT_FOUND.format(id=clip(response_id)))
    return found


def stored_response_turns(*, key_id: int, response_id: str) -> list[Turn]:
    """The conversation ending with `response_id`, oldest first. ResponseNotFound
    (param `previous_response_id`) when it or one it continues is not the key's stored
    response; InvalidRequest past MAX_CONVERSATION_RESPONSES."""
    turns: list[Turn] = []
    current: str | None = response_id
    while current is not None:
        if len(turns) == MAX_CONVERSATION_RESPONSES:
            raise InvalidRequest(
                CONVERSATION_TOO_LONG.format(limit=MAX_CONVERSATION_RESPONSES),
                param="previous_response_id",
            )
        row = (
            _of_key(key_id, current)
            .values("previous_response_id", "input_items", "output_items", "channel_id")
            .first()
        )
        if row is None:
            raise ResponseNotFound(
                PREVIOUS_NOT_FOUND.format(id=clip(current)),
                param="previous_response_id",
                code="previous_response_not_found",
            )
        turns.append(Turn(current, row["input_items"], row["output_items"], row["channel_id"]))
        current = row["previous_response_id"] or None
    turns.reverse()
    return turns


def stored_response_delete(*, key_id: int, response_id: str) -> bool:
    """Delete the key's stored response; False when it has none with that id."""
    with serialized_writes():
        deleted, _ = _of_key(key_id, response_id).delete()
    return deleted > 0


def stored_response_input_items(
    *, key_id: int, response_id: str, after: str | None, limit: int, order: Order
) -> dict[str, Any]:
    """One page of the request's own input items as an OpenAI list object (`data`,
    `first_id`, `last_id`, `has_more`), each with an `id`; ResponseNotFound for another key's
    response, InvalidRequest (param `after`) for an item id it does not have."""
    stored = stored_response_of_key(key_id=key_id, response_id=response_id)
    items = listed_items(stored.id, stored.input_items)
    if order == "desc":
        items.reverse()
    start = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            message = ITEM_NOT_FOUND.format(id=clip(after), response=clip(response_id))
            raise InvalidRequest(message, param="after")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": start + limit < len(items),
    }


def listed_items(response_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as the API lists them: typed, with their text as content parts, and an id
    (the client's, else one derived from the response id and the item's place, so it is stable
    across pages)."""
    suffix = response_id.removeprefix("resp_")
    listed = []
    for index, item in enumerate(items):
        shaped = dict(item)
        if "role" in shaped:
            shaped.setdefault("type", "message")
        if shaped.get("type") == "message" and isinstance(shaped.get("content"), str):
            part = "output_text" if shaped.get("role") == "assistant" else "input_text"
            shaped["content"] = [{"type": part, "text": shaped["content"]}]
        prefix = ITEM_PREFIXES.get(str(shaped.get("type")), "item")
        shaped.setdefault("id", f"{prefix}_{suffix}_{index}")
        listed.append(shaped)
    return listed


def stored_responses_prune(
    *, now: datetime | None = None, days: int | None = None, batch_size: int = PRUNE_BATCH
) -> int:
    """Delete stored responses older than `days` (default GATEWAY_RESPONSES_RETENTION_DAYS;
    0 = keep all); return how many were deleted."""
    days = settings.GATEWAY_RESPONSES_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = StoredResponse.objects.filter(created_at__lt=cutoff)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        with serialized_writes(), transaction.atomic():
            deleted += StoredResponse.objects.filter(pk__in=ids).delete()[0]
    return deleted

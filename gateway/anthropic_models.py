"""`GET /v1/models` in Anthropic's shape (the SDK's `ModelInfo` list), for a client that sends
`anthropic-version`: Claude Code discovers a gateway's models this way.

A page of `{"type": "model", "id", "display_name", "created_at"}` with `has_more`, `first_id` and
`last_id`, cut by `limit` (1 to 1000, default 20), `after_id` and `before_id` as Anthropic cuts it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.clip import clip
from gateway.errors import InvalidRequest

VERSION_HEADER = "anthropic-version"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
CREATED_AT = "1970-01-01T00:00:00Z"
"""The gateway does not know when a model was made (the OpenAI list says `created: 0`)."""
BAD_LIMIT = "limit: an integer from 1 to {most} is required."
UNKNOWN_CURSOR = "{param}: no model '{id}' in this list."


def wants_anthropic_shape(headers: Mapping[str, str]) -> bool:
    """Whether the client speaks Anthropic's API (it sends `anthropic-version`)."""
    return bool(headers.get(VERSION_HEADER))


def model_info(model: str) -> dict[str, Any]:
    """One model as the SDK's `ModelInfo`."""
    return {"type": "model", "id": model, "display_name": model, "created_at": CREATED_AT}


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Where a page starts or ends, and how long it may be."""

    limit: int = DEFAULT_LIMIT
    after_id: str | None = None
    before_id: str | None = None


def page_request(query: Mapping[str, str]) -> PageRequest:
    """The page a query string asks for; InvalidRequest naming a bad `limit`."""
    raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(BAD_LIMIT.format(most=MAX_LIMIT), param="limit")
    return PageRequest(limit, query.get("after_id") or None, query.get("before_id") or None)


def _position(models: Sequence[str], param: str, model: str) -> int:
    try:
        return models.index(model)
    except ValueError:
        message = UNKNOWN_CURSOR.format(param=param, id=clip(model))
        raise InvalidRequest(message, param=param) from None


def model_page(models: Sequence[str], page: PageRequest) -> dict[str, Any]:
    """The page of `models` (in list order) that `page` asks for; `before_id` alone takes the
    models just before it, as paging backwards does."""
    start = 0 if page.after_id is None else _position(models, "after_id", page.after_id) + 1
    end = len(models) if page.before_id is None else _position(models, "before_id", page.before_id)
    window = list(models[start:end])
    backwards = page.before_id is not None and page.after_id is None
    chosen = window[-page.limit :] if backwards else window[: page.limit]
    return {
        "data": [model_info(model) for model in chosen],
        "has_more": len(window) > len(chosen),
        "first_id": chosen[0] if chosen else None,
        "last_id": chosen[-1] if chosen else None,
    }

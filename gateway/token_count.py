"""`POST /v1/messages/count_tokens`: how many input tokens a Messages body is.

An `anthropic` channel serving the model answers it (the client's body with the channel's model
name and key, and the client's `anthropic-version` / `anthropic-beta`, sent to
`<API root>/messages/count_tokens`); for every other channel, or when that call fails, the
gateway answers its own estimate (gateway.estimate, on the body translated to chat form) and says
so in `x-switchyard-estimated: true`. Counting is free: no usage record, no charge, no limits.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from channels.adapters import passthrough_for
from channels.adapters.base import UpstreamTarget
from gateway import auth, catalog
from gateway.clip import clip
from gateway.errors import InvalidRequest, ModelNotAllowed, ModelNotFound
from gateway.estimate import estimate_prompt_tokens
from gateway.front_doors.messages import API_TYPE, DIALECT_HEADERS
from gateway.front_doors.messages_request import chat_body
from gateway.parsing import parse_object
from gateway.pipeline import MODEL_NOT_ALLOWED, MODEL_NOT_FOUND
from gateway.schemas import Offer
from gateway.upstream_client import upstream_client

logger = logging.getLogger(__name__)

COUNT_PATH = "/count_tokens"
"""Appended to the channel's Messages URL."""
MISSING_MODEL = "model: a non-empty string is required."
ESTIMATED_HEADER = "x-switchyard-estimated"
CHANNEL_HEADER = "x-switchyard-channel"
COUNT_TIMEOUT_SECONDS = 30.0
"""The most a count waits for its channel before the gateway estimates instead."""
_ANY_BUDGET = 1
"""A `max_tokens` for the translation: a count's body has none, and needs none."""


@dataclass(frozen=True, slots=True)
class TokenCount:
    """The answer: a JSON body and the headers that go with it."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


async def count_tokens(
    *, authorization: str, read_body: Callable[[], bytes], headers: Mapping[str, str]
) -> TokenCount:
    """The count for a client's body (read once the key is known); raises InvalidApiKey,
    RequestTooLarge, InvalidRequest (naming the field), ModelNotFound or ModelNotAllowed as
    `/v1/messages` would."""
    key = await auth.authenticate(authorization)
    data = parse_object(read_body())
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest(MISSING_MODEL, param="model")
    chat = chat_body({**data, "max_tokens": _ANY_BUDGET})
    snapshot = await catalog.current_catalog(wanting=[model])
    offers = snapshot.offers.get(model)
    if not offers:
        raise ModelNotFound(MODEL_NOT_FOUND.format(model=clip(model)), param="model")
    if not key.allows(model):
        raise ModelNotAllowed(MODEL_NOT_ALLOWED.format(model=clip(model)), param="model")
    native = sorted(
        (offer for offer in offers if offer.api_type == API_TYPE), key=lambda o: -o.priority
    )
    if native and (counted := await _upstream_count(native[0], data, headers)) is not None:
        return TokenCount(counted, {CHANNEL_HEADER: native[0].channel_name})
    estimate = orjson.dumps({"input_tokens": estimate_prompt_tokens(chat)})
    return TokenCount(estimate, {ESTIMATED_HEADER: "true"})


async def _upstream_count(
    offer: Offer, data: dict[str, Any], headers: Mapping[str, str]
) -> bytes | None:
    """The channel's own `{"input_tokens": N}` body, or None when it did not give one."""
    protocol = {name: headers[name] for name in DIALECT_HEADERS if headers.get(name)}
    target = UpstreamTarget(
        base_url=offer.base_url, api_key=offer.api_key, upstream_model=offer.upstream_model
    )
    request = passthrough_for(API_TYPE, protocol).build_request(
        body=data, target=target, stream=False
    )
    timeout = min(offer.first_token_timeout, COUNT_TIMEOUT_SECONDS)
    try:
        response = await upstream_client().post(
            request.url + COUNT_PATH,
            content=request.content,
            headers=request.headers,
            timeout=httpx.Timeout(timeout),
        )
    except httpx.HTTPError as error:
        # The exception's type only: its text could carry the URL of a misconfigured channel.
        logger.warning("count_tokens on %s failed: %s", offer.channel_name, type(error).__name__)
        return None
    if response.status_code != 200:
        logger.warning("count_tokens on %s: HTTP %s", offer.channel_name, response.status_code)
        return None
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        answer = None
    counted = answer.get("input_tokens") if isinstance(answer, dict) else None
    if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
        logger.warning("count_tokens on %s: no input_tokens in the answer", offer.channel_name)
        return None
    return orjson.dumps(answer)

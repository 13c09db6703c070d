"""The life of one client request, whatever its dialect: authenticate → admit (limits and a
reservation) → plan → relay → account.

The pipeline owns the request's usage draft and writes exactly one usage record per
authenticated request, however it ends. It speaks OpenAI Chat Completions inside; a front door
(gateway.front_doors) translates the client's dialect on the way in and out, and the view maps
the Answer to HTTP.
"""

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.usage import UsageStatus
from gateway import admission, auth, catalog, ratelimit, relay, stats
from gateway.accounting import UsageDraft, new_request_id
from gateway.affinity import affinity_store, conversation_of
from gateway.background import spawn
from gateway.bridge.journal import journal
from gateway.bridge.recorder import recorder
from gateway.clip import clip
from gateway.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    ModelNotAllowed,
    ModelNotFound,
)
from gateway.estimate import estimate_prompt_tokens, prompt_tokens_bound
from gateway.front_doors.base import FrontDoor
from gateway.metrics import observe_request
from gateway.request_log import log_request
from gateway.routing import offers_for, route_plan
from gateway.schemas import ChatRequest, KeyContext, Offer

logger = logging.getLogger(__name__)

MODEL_NOT_FOUND = "The model '{model}' does not exist or no channel serves it."
MODEL_NOT_ALLOWED = "This API key may not use the model '{model}'."
INTERNAL_ERROR = "The gateway failed to handle this request."

_rng = random.Random()  # noqa: S311 (load balancing, not security)


@dataclass(frozen=True, slots=True)
class ClientCall:
    """What the pipeline needs of one HTTP request: its credentials and its body (read on
    demand: `read_body` raises RequestTooLarge past GATEWAY_MAX_BODY_BYTES)."""

    authorization: str
    read_body: Callable[[], bytes]
    headers: Mapping[str, str] = field(default_factory=dict)
    """The request's headers (case-insensitive when the view passes Django's)."""


@dataclass(slots=True)
class Answer:
    """The pipeline's answer, in its own dialect, for a door to render: an error, a JSON body,
    or SSE events (with `on_close`, which settles a stream the server never finished sending)."""

    request_id: str
    error: GatewayError | None = None
    body: bytes | None = None
    events: AsyncIterator[bytes] | None = None
    on_close: Callable[[], Coroutine[Any, Any, None] | None] = lambda: None
    headers: dict[str, str] = field(default_factory=dict)
    native: bool = False
    """The body or events are already in the client's dialect (same-dialect passthrough)."""
    key_id: int | None = None
    channel_id: int | None = None
    """Who asked and which channel answered (a door's state, such as stored responses)."""


async def serve(door: FrontDoor, call: ClientCall) -> Answer:
    """Answer one client request; exactly one usage record once the key is known."""
    request_id = new_request_id()
    started = time.monotonic()
    try:
        key = await auth.authenticate(call.authorization)
    except GatewayError as error:
        return Answer(request_id, error=error)
    draft = UsageDraft(
        id=request_id,
        created_at=timezone.now(),
        account_id=key.account_id,
        key_id=key.key_id,
        model="",
        endpoint=door.endpoint,
        key_prefix=key.prefix,
        limit_reset=key.limit_reset,
    )
    try:
        return await _answer(door, call, key, draft, started)
    except GatewayError as error:
        draft.end(UsageStatus.ERROR, error.http_status, error.error_code)
        _record(draft, started)
        return Answer(request_id, error=error)
    except asyncio.CancelledError:
        draft.end(UsageStatus.CANCELLED, 499, relay.CLIENT_DISCONNECTED)
        _record(draft, started)
        raise
    except Exception:
        logger.exception("request %s failed", request_id)
        draft.end(UsageStatus.ERROR, 500, InternalError.code)
        _record(draft, started)
        return Answer(request_id, error=InternalError(INTERNAL_ERROR))


def _models_to_try(chat: ChatRequest, key: KeyContext, served: set[str]) -> list[str]:
    """The primary model (which must be served and allowed), then the usable fallbacks."""
    if chat.model not in served:
        raise ModelNotFound(MODEL_NOT_FOUND.format(model=clip(chat.model)), param="model")
    if not key.allows(chat.model):
        raise ModelNotAllowed(MODEL_NOT_ALLOWED.format(model=clip(chat.model)), param="model")
    fallbacks = [name for name in chat.fallback_models if name in served and key.allows(name)]
    return [chat.model, *fallbacks]


async def _answer(
    door: FrontDoor, call: ClientCall, key: KeyContext, draft: UsageDraft, started: float
) -> Answer:
    raw = call.read_body()
    try:
        chat = door.parse(raw, call.headers)
    except InvalidRequest:
        draft.model = door.requested_model(raw)
        raise
    draft.model, draft.stream, draft.user = chat.model, chat.stream, chat.user
    chat = await door.resolve(chat, key)
    snapshot = await catalog.current_catalog(wanting=[chat.model, *chat.fallback_models])
    models = _models_to_try(chat, key, set(snapshot.offers))
    prompt_tokens = estimate_prompt_tokens(chat.body)
    rate = await admission.admit_rate(key, chat, prompt_tokens)
    draft.tokens_charge = rate.tokens
    sticky = await _conversation_channel(chat, call, key, draft)
    plan = route_plan(
        models=models,
        offers=offers_for(chat, snapshot.offers),
        preferences=chat.provider,
        health=await stats.channel_health(stream=chat.stream),
        rng=_rng,
        max_attempts=settings.GATEWAY_MAX_ATTEMPTS,
        sticky=sticky,
    )
    draft.affinity_routed = sticky is not None and plan[0].channel_id == sticky
    prompt_bound = prompt_tokens_bound(chat.body, body_bytes=len(raw))
    worst_case = admission.worst_case_cost(chat, plan, prompt_bound)
    journal.hold(draft, prompt_tokens=prompt_tokens, amount=worst_case)
    await admission.reserve(request_id=draft.id, key=key, amount=worst_case)
    exchange = relay.Exchange(
        chat=chat,
        draft=draft,
        started=started,
        deadline=started + settings.GATEWAY_REQUEST_DEADLINE,
        _prompt_tokens=prompt_tokens,
    )
    if chat.stream:
        answer = await _stream(exchange, plan)
    else:
        completed = await relay.complete(exchange, plan)
        draft.end(UsageStatus.OK, 200)
        _record(draft, started)
        answer = Answer(draft.id, body=completed.body, native=completed.native)
        answer.channel_id = draft.channel_id
        answer.headers["x-request-id"] = draft.id
        answer.headers["x-switchyard-channel"] = draft.attempts[-1].channel
    answer.headers.update(rate.headers)
    answer.key_id = key.key_id
    return answer


async def _conversation_channel(
    chat: ChatRequest, call: ClientCall, key: KeyContext, draft: UsageDraft
) -> int | None:
    """The channel that served the request's conversation last (None: new, or affinity off);
    the conversation goes on the draft, to be remembered with the channel that answers."""
    if not settings.GATEWAY_CACHE_AFFINITY:
        return None
    draft.conversation = conversation_of(chat, call.headers, key_id=key.key_id)
    if draft.conversation is None:
        return None
    draft.affinity_source = draft.conversation.source
    return await affinity_store().last_channel(draft.conversation)


async def _stream(exchange: relay.Exchange, plan: list[Offer]) -> Answer:
    opened = await relay.open_stream(exchange, plan)
    draft = exchange.draft

    def on_end() -> None:
        _record(draft, exchange.started)

    return Answer(
        draft.id,
        events=relay.relay_events(exchange, opened, on_end),
        on_close=lambda: None if opened.settled else relay.abandon_stream(exchange, opened, on_end),
        native=opened.native,
        channel_id=opened.offer.channel_id,
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "x-request-id": draft.id,
            "x-switchyard-channel": opened.offer.channel_name,
        },
    )


def _record(draft: UsageDraft, started: float) -> None:
    """The request is over: measure, log and journal it, and hand its record to the recorder."""
    draft.latency_ms = round((time.monotonic() - started) * 1000)
    channel = draft.channel_name or None
    observe_request(draft, channel)
    log_request(draft, draft.key_prefix, channel)
    journal.end(draft)
    recorder.submit(draft)
    if draft.status == UsageStatus.OK and draft.channel_id:
        _learn(draft, draft.channel_id)
    if draft.tokens_charge is not None:
        used = draft.usage.prompt_tokens + draft.usage.completion_tokens
        spawn(ratelimit.adjust(draft.tokens_charge, used), what="correcting a token limit")


def _learn(draft: UsageDraft, channel_id: int) -> None:
    """What routing learns from an answered request: its channel-model's cache use (usage the
    provider reported) and its conversation's channel (kept in the background)."""
    if draft.usage_source == "provider":
        usage = draft.usage
        stats.record_cache_use(
            channel_id,
            model=draft.served_model,
            prompt_tokens=usage.prompt_tokens,
            cached_tokens=usage.cached_tokens,
        )
    if draft.conversation is not None:
        remembered = affinity_store().remember(draft.conversation, channel_id)
        spawn(remembered, what="keeping a conversation's channel")

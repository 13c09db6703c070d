"""The client-facing OpenAI-compatible API: chat completions, models, generation lookup."""

import asyncio
import logging
import random
import time
from typing import Any

import orjson
from adrf.views import APIView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.request import Request

from channels.money import format_money
from gateway import admission, auth, catalog, ratelimit, relay, stats
from gateway.accounting import UsageDraft, new_request_id, request_is_recent
from gateway.background import spawn
from gateway.bridge import store
from gateway.bridge.journal import journal
from gateway.bridge.recorder import recorder
from gateway.errors import (
    GatewayError,
    GenerationNotFound,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotAllowed,
    ModelNotFound,
    RequestTooLarge,
)
from gateway.estimate import estimate_prompt_tokens, prompt_tokens_bound
from gateway.metrics import observe_request
from gateway.parsing import parse_chat_request
from gateway.request_log import log_request
from gateway.responses import RelayStreamResponse, error_response, json_response
from gateway.routing import route_plan
from gateway.schemas import ChatRequest, KeyContext, Offer

logger = logging.getLogger(__name__)

REQUEST_TOO_LARGE = "The request body is larger than {limit} bytes."
MODEL_NOT_FOUND = "The model '{model}' does not exist or no channel serves it."
MODEL_NOT_ALLOWED = "This API key may not use the model '{model}'."
INTERNAL_ERROR = "The gateway failed to handle this request."
GENERATION_NOT_FOUND = "No generation with id '{id}' was made with this API key."
MISSING_GENERATION_ID = "Pass the generation's id as '?id='."
METHOD_NOT_ALLOWED = "This endpoint does not answer {method}."
GENERATION_WAIT_SECONDS = 2.0

_rng = random.Random()  # noqa: S311 (load balancing, not security)


class GatewayApiView(APIView):
    """An async DRF view that authenticates by gateway key itself and renders its own errors."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    parser_classes: list[Any] = []

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """adrf's dispatch minus `initial()`, which it runs in a thread: these views have no
        authenticators, permissions, throttles or renderers to negotiate."""
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            method = drf_request.method.lower() if drf_request.method else ""
            handler = getattr(self, method, None) if method in self.http_method_names else None
            response = await (handler or self._not_allowed)(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        if not self.response.has_header("x-request-id"):
            self.response["x-request-id"] = new_request_id()
        return self.response

    async def _not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return error_response(MethodNotAllowed(METHOD_NOT_ALLOWED.format(method=request.method)))

    async def key_of(self, request: Request) -> KeyContext:
        """The calling key; raises InvalidApiKey."""
        return await auth.authenticate(request.META.get("HTTP_AUTHORIZATION", ""))


def _body_of(request: HttpRequest) -> bytes:
    limit = settings.GATEWAY_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise RequestTooLarge(REQUEST_TOO_LARGE.format(limit=limit))
    try:
        body = request.body
    except (RequestDataTooBig, RawPostDataException):
        raise RequestTooLarge(REQUEST_TOO_LARGE.format(limit=limit)) from None
    if len(body) > limit:
        raise RequestTooLarge(REQUEST_TOO_LARGE.format(limit=limit))
    return body


def _models_to_try(chat: ChatRequest, key: KeyContext, served: set[str]) -> list[str]:
    """The primary model (which must be served and allowed), then the usable fallbacks."""
    if chat.model not in served:
        raise ModelNotFound(MODEL_NOT_FOUND.format(model=chat.model), param="model")
    if not key.allows(chat.model):
        raise ModelNotAllowed(MODEL_NOT_ALLOWED.format(model=chat.model), param="model")
    fallbacks = [name for name in chat.fallback_models if name in served and key.allows(name)]
    return [chat.model, *fallbacks]


class ChatCompletionsView(GatewayApiView):
    """`POST /v1/chat/completions`: OpenAI's API with OpenRouter's routing controls."""

    async def post(self, request: Request) -> HttpResponseBase:
        """Answer one chat completion, streamed or not; exactly one usage record either way."""
        request_id = new_request_id()
        started = time.monotonic()
        try:
            key = await self.key_of(request)
        except GatewayError as error:
            return error_response(error, request_id)
        draft = UsageDraft(
            id=request_id,
            created_at=timezone.now(),
            account_id=key.account_id,
            key_id=key.key_id,
            model="",
            key_prefix=key.prefix,
            limit_reset=key.limit_reset,
        )
        try:
            return await self._complete(request, key, draft, started)
        except GatewayError as error:
            draft.http_status, draft.error_code = error.http_status, error.error_code
            self._record(draft, started)
            return error_response(error, request_id)
        except asyncio.CancelledError:
            draft.status, draft.http_status, draft.error_code = (
                "cancelled",
                499,
                "client_disconnected",
            )
            self._record(draft, started)
            raise
        except Exception:
            logger.exception("chat completion %s failed", request_id)
            draft.http_status, draft.error_code = 500, InternalError.code
            self._record(draft, started)
            return error_response(InternalError(INTERNAL_ERROR), request_id)

    async def _complete(
        self, request: Request, key: KeyContext, draft: UsageDraft, started: float
    ) -> HttpResponseBase:
        raw = _body_of(request._request)
        try:
            chat = parse_chat_request(raw)
        except InvalidRequest:
            draft.model = _requested_model(raw)
            raise
        draft.model, draft.stream, draft.user = chat.model, chat.stream, chat.user
        snapshot = await catalog.current_catalog()
        models = _models_to_try(chat, key, set(snapshot.offers))
        prompt_tokens = estimate_prompt_tokens(chat.body)
        rate = await admission.admit_rate(key, chat, prompt_tokens)
        draft.tokens_charge = rate.tokens
        plan = route_plan(
            models=models,
            offers=snapshot.offers,
            preferences=chat.provider,
            health=await stats.channel_health(stream=chat.stream),
            rng=_rng,
            max_attempts=settings.GATEWAY_MAX_ATTEMPTS,
        )
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
            response = await self._stream(exchange, plan)
        else:
            body = await relay.complete(exchange, plan)
            draft.status, draft.http_status = "ok", 200
            self._record(draft, started)
            response = json_response(
                body, x_request_id=draft.id, x_switchyard_channel=draft.attempts[-1].channel
            )
        for name, value in rate.headers.items():
            response[name] = value
        return response

    async def _stream(self, exchange: relay.Exchange, plan: list[Offer]) -> HttpResponseBase:
        opened = await relay.open_stream(exchange, plan)
        draft = exchange.draft

        def on_end() -> None:
            self._record(draft, exchange.started)

        response = RelayStreamResponse(
            relay.relay_events(exchange, opened, on_end),
            on_close=lambda: (
                None if opened.settled else relay.abandon_stream(exchange, opened, on_end)
            ),
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        response["x-request-id"] = draft.id
        response["x-switchyard-channel"] = opened.offer.channel_name
        return response

    @staticmethod
    def _record(draft: UsageDraft, started: float) -> None:
        draft.latency_ms = round((time.monotonic() - started) * 1000)
        channel = draft.channel_name or None
        observe_request(draft, channel)
        log_request(draft, draft.key_prefix, channel)
        journal.end(draft)
        recorder.submit(draft)
        if draft.tokens_charge is not None:
            used = draft.usage.prompt_tokens + draft.usage.completion_tokens
            spawn(ratelimit.adjust(draft.tokens_charge, used), what="correcting a token limit")


async def _generation(record_id: str, key_id: int) -> dict[str, Any] | None:
    """The record, once this process has stored what it submitted; a request that ended in
    another process moments ago is waited for (its recorder stores within a second)."""
    record = await store.load_generation(record_id, key_id)
    if record is not None:
        return record
    await recorder.written()
    deadline = time.monotonic() + GENERATION_WAIT_SECONDS
    while (record := await store.load_generation(record_id, key_id)) is None:
        if not request_is_recent(record_id, GENERATION_WAIT_SECONDS + 60):
            return None
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.1)
    return record


def _requested_model(raw: bytes) -> str:
    """The `model` of a body that failed validation, when there is a readable one."""
    try:
        model = orjson.loads(raw).get("model")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return model[:200] if isinstance(model, str) else ""


def _model_entry(model: str, offers: Any) -> dict[str, Any]:
    cheapest = min(offers, key=lambda offer: offer.input_price + offer.output_price)
    return {
        "id": model,
        "object": "model",
        "created": 0,
        "owned_by": cheapest.provider,
        "providers": sorted({offer.provider for offer in offers}),
        "pricing": {
            "unit": "USD per 1M tokens",
            "input": format_money(cheapest.input_price),
            "output": format_money(cheapest.output_price),
            "cached_input": format_money(cheapest.cached_input_price)
            if cheapest.cached_input_price is not None
            else None,
        },
    }


class ModelsView(GatewayApiView):
    """`GET /v1/models`: the models this key may use, with the cheapest channel's prices."""

    async def get(self, request: Request, model: str | None = None) -> HttpResponse:
        """The list, or one model when the path names it."""
        try:
            key = await self.key_of(request)
            snapshot = await catalog.current_catalog()
            usable = [name for name in snapshot.models() if key.allows(name)]
            if model is None:
                entries = [_model_entry(name, snapshot.offers[name]) for name in usable]
                return json_response(orjson.dumps({"object": "list", "data": entries}))
            if model not in usable:
                raise ModelNotFound(MODEL_NOT_FOUND.format(model=model), param="model")
            return json_response(orjson.dumps(_model_entry(model, snapshot.offers[model])))
        except GatewayError as error:
            return error_response(error)


class KeyView(GatewayApiView):
    """`GET /v1/key`: the calling key's limits, spend this period and its account's balance."""

    async def get(self, request: Request) -> HttpResponse:
        """`{"data": {name, prefix, spend, spend_limit, limit_remaining, limit_reset,
        account_balance, rpm_limit, tpm_limit, expires_at}}`."""
        try:
            key = await self.key_of(request)
            await recorder.written()  # this key's last answer is counted
            summary = await store.load_key_summary(key.key_id)
            return json_response(orjson.dumps({"data": summary}))
        except GatewayError as error:
            return error_response(error)


class GenerationView(GatewayApiView):
    """`GET /v1/generation?id=`: one request's usage record, for the key that made it."""

    async def get(self, request: Request) -> HttpResponse:
        """`{"data": <usage record>}`, or 404 for an id this key did not make."""
        try:
            key = await self.key_of(request)
            record_id = request.query_params.get("id", "")
            if not record_id:
                raise InvalidRequest(MISSING_GENERATION_ID, param="id")
            record = await _generation(record_id, key.key_id)
            if record is None:
                raise GenerationNotFound(
                    GENERATION_NOT_FOUND.format(id=record_id[:100]), param="id"
                )
            return json_response(orjson.dumps({"data": record}, default=str))
        except GatewayError as error:
            return error_response(error)

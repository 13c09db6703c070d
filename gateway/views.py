"""The client API's views: HTTP in, HTTP out. A request to a front door goes through the
pipeline (gateway.pipeline); models, a key's summary and a generation are read directly."""

import asyncio
import time
from typing import Any

import orjson
from adrf.views import APIView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from django.views.defaults import page_not_found
from django.views.defaults import server_error as django_server_error
from rest_framework.request import Request

from core.money import format_money
from gateway import anthropic_models, auth, catalog, pipeline, token_count
from gateway.accounting import new_request_id, offer_prices, request_is_recent
from gateway.asgi import is_client_api
from gateway.bridge import store
from gateway.bridge.recorder import recorder
from gateway.clip import clip
from gateway.errors import (
    GatewayError,
    GenerationNotFound,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    NotFound,
    RequestTooLarge,
)
from gateway.front_doors.base import FrontDoor
from gateway.front_doors.chat import CHAT_COMPLETIONS
from gateway.front_doors.embeddings import EMBEDDINGS
from gateway.front_doors.messages import MESSAGES
from gateway.front_doors.responses import ResponsesDoor
from gateway.front_doors.responses_native import kept_events
from gateway.front_doors.responses_request import input_items
from gateway.pipeline import INTERNAL_ERROR, MODEL_NOT_FOUND, Answer, ClientCall
from gateway.responses import RelayStreamResponse, error_response, json_response
from gateway.responses_kept import Keeper, keeper
from gateway.schemas import KeyContext

REQUEST_TOO_LARGE = "The request body is larger than {limit} bytes."
GENERATION_NOT_FOUND = "No generation with id '{id}' was made with this API key."
MISSING_GENERATION_ID = "Pass the generation's id as '?id='."
METHOD_NOT_ALLOWED = "This endpoint does not answer {method}."
NO_SUCH_ENDPOINT = "There is no endpoint '{method} {path}' in this API."
MESSAGES_PATH = "messages"
"""The first path segment (after the version prefix) of the Messages endpoints."""
GENERATION_ID_LENGTH = 40
GENERATION_WAIT_SECONDS = 2.0


class GatewayApiView(APIView):
    """An async DRF view that authenticates by gateway key itself and renders its own errors."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    parser_classes: list[Any] = []
    # Every handler is async: said once, not worked out again (Django's classproperty) for every
    # request adrf dispatches.
    view_is_async = True

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
        method = clip(request.method or "", 20)
        return error_response(MethodNotAllowed(METHOD_NOT_ALLOWED.format(method=method)))

    async def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """204 with the methods this endpoint answers (CORS preflights are answered earlier,
        by gateway.edge.cors, for the origins GATEWAY_CORS_ORIGINS allows)."""
        response = HttpResponse(status=204)
        response["Allow"] = ", ".join(self.allowed_methods)
        return response

    async def key_of(self, request: Request) -> KeyContext:
        """The calling key; raises InvalidApiKey."""
        return await auth.authenticate(credentials_of(request))


def credentials_of(request: Request) -> str:
    """The request's `Authorization` header, or Anthropic's `x-api-key` said as a bearer token
    (what the anthropic SDK and Claude Code send with an API key)."""
    authorization: str = request.META.get("HTTP_AUTHORIZATION", "")
    api_key = request.META.get("HTTP_X_API_KEY", "")
    return authorization or (f"Bearer {api_key}" if api_key else "")


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


class ChatCompletionsView(GatewayApiView):
    """`POST /v1/chat/completions`: OpenAI's API with OpenRouter's routing controls."""

    door: FrontDoor = CHAT_COMPLETIONS

    async def post(self, request: Request) -> HttpResponseBase:
        """Answer one chat completion, streamed or not; exactly one usage record either way."""
        call = ClientCall(
            authorization=credentials_of(request),
            read_body=lambda: _body_of(request._request),
            headers=request.headers,
        )
        return answer_response(self.door, await pipeline.serve(self.door, call))


def anthropic_error_response(error: GatewayError, request_id: str | None = None) -> HttpResponse:
    """The error in Anthropic's envelope and status (see MessagesDoor.error_response)."""
    return MESSAGES.error_response(error, request_id or new_request_id())


class AnthropicErrorsMixin:
    """Errors outside the pipeline (a wrong method, a bad key) in Anthropic's envelope."""

    async def _not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        method = clip(request.method or "", 20)
        return anthropic_error_response(MethodNotAllowed(METHOD_NOT_ALLOWED.format(method=method)))


class MessagesView(AnthropicErrorsMixin, ChatCompletionsView):
    """`POST /v1/messages`: Anthropic's Messages API, translated through the pipeline."""

    door: FrontDoor = MESSAGES


class EmbeddingsView(ChatCompletionsView):
    """`POST /v1/embeddings`: OpenAI's embeddings, through the pipeline (never streamed)."""

    door: FrontDoor = EMBEDDINGS


class ResponsesView(GatewayApiView):
    """`POST /v1/responses`: OpenAI's Responses API, translated through the pipeline; unless
    the request says `store: false`, its answered response is stored for `previous_response_id`
    and `GET /v1/responses/{id}`."""

    async def post(self, request: Request) -> HttpResponseBase:
        """Answer one response, streamed or not; exactly one usage record either way."""
        door = ResponsesDoor()
        call = ClientCall(
            authorization=credentials_of(request),
            read_body=lambda: _body_of(request._request),
            headers=request.headers,
        )
        answer = await pipeline.serve(door, call)
        if answer.error is None and answer.key_id is not None and not answer.native:
            keep = _keeper(door, answer.key_id, answer.channel_id)
            # Rendered here, in the client's dialect, so that the response can be kept.
            if answer.events is not None:
                answer.events = door.events(answer.events, on_final=keep)
            else:
                response = door.response(answer.body or b"")
                if keep is not None:
                    await keep(response)
                answer.body = orjson.dumps(response)
            answer.native = True
        elif answer.error is None and answer.key_id is not None:  # a native channel's answer
            keep = _keeper(door, answer.key_id, answer.channel_id)
            if keep is not None and answer.events is not None:
                answer.events = kept_events(answer.events, keep)
            elif keep is not None:
                await keep(orjson.loads(answer.body or b"{}"))
        return answer_response(door, answer)


def _keeper(door: ResponsesDoor, key_id: int, channel_id: int | None) -> Keeper | None:
    """What stores the door's answered response (None when the request said `store: false`)."""
    if door.request.get("store") is False:
        return None
    previous = door.request.get("previous_response_id")
    return keeper(
        key_id=key_id,
        input_items=input_items(door.request),
        previous_response_id=previous if isinstance(previous, str) else None,
        channel_id=channel_id,
    )


class CountTokensView(AnthropicErrorsMixin, GatewayApiView):
    """`POST /v1/messages/count_tokens`: a Messages body's input tokens, counted by an
    `anthropic` channel serving the model or estimated by the gateway; free (no usage record)."""

    async def post(self, request: Request) -> HttpResponse:
        """`{"input_tokens": N}`; `x-switchyard-estimated: true` when the gateway estimated."""
        try:
            counted = await token_count.count_tokens(
                authorization=credentials_of(request),
                read_body=lambda: _body_of(request._request),
                headers=request.headers,
            )
        except GatewayError as error:
            return anthropic_error_response(error)
        response = json_response(counted.body)
        for name, value in counted.headers.items():
            response[name] = value
        return response


def answer_response(door: FrontDoor, answer: Answer) -> HttpResponseBase:
    """The HTTP response of the pipeline's answer, in the door's dialect."""
    response: HttpResponseBase
    if answer.error is not None:
        return door.error_response(answer.error, answer.request_id)
    if answer.events is not None:
        events = answer.events if answer.native else door.events(answer.events)
        response = RelayStreamResponse(events, on_close=answer.on_close)
    else:
        body = answer.body or b""
        response = json_response(body if answer.native else door.answer(body))
    for name, value in answer.headers.items():
        response[name] = value
    return response


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


def _could_be_request_id(text: str) -> bool:
    """Whether `text` may name a record: short enough, and printable (no NUL, which the
    database refuses in a query)."""
    return len(text) <= GENERATION_ID_LENGTH and text.isprintable()


def speaks_anthropic(request: HttpRequest) -> bool:
    """Whether a client API request is Anthropic's: under `/v1/messages`, or carrying
    `anthropic-version`."""
    segments = request.path.lower().strip("/").split("/")
    version = segments.index("v1") if "v1" in segments else -1
    under_messages = segments[version + 1 : version + 2] == [MESSAGES_PATH]
    return under_messages or anthropic_models.wants_anthropic_shape(request.headers)


def _client_api_error(request: HttpRequest, error: GatewayError) -> HttpResponseBase:
    if speaks_anthropic(request):
        return anthropic_error_response(error)
    return error_response(error, new_request_id())


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    """Django's 404 handler: the OpenAI envelope (Anthropic's for an Anthropic client), naming
    the path, on client API paths (in any letter case); Django's page elsewhere."""
    if not is_client_api(request.path.lower()):
        return page_not_found(request, exception or Http404())
    message = NO_SUCH_ENDPOINT.format(
        method=clip(request.method or "", 20), path=clip(request.path)
    )
    return _client_api_error(request, NotFound(message))


def server_error(request: HttpRequest) -> HttpResponseBase:
    """Django's 500 handler: the OpenAI (or Anthropic) envelope on client API paths, Django's
    page elsewhere."""
    if not is_client_api(request.path.lower()):
        return django_server_error(request)
    return _client_api_error(request, InternalError(INTERNAL_ERROR))


def _model_entry(model: str, offers: Any) -> dict[str, Any]:
    cheapest = min(offers, key=lambda offer: offer.input_price + offer.output_price)
    prices = offer_prices(cheapest)
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
            "cache_write": format_money(prices.cache_write_rate()),
            "cache_write_1h": format_money(prices.cache_write_1h_rate()),
        },
    }


class ModelsView(GatewayApiView):
    """`GET /v1/models`: the models this key may use, with the cheapest channel's prices; in
    Anthropic's shape (and envelope) for a client that sends `anthropic-version`."""

    async def get(self, request: Request, model: str | None = None) -> HttpResponse:
        """The list, or one model when the path names it."""
        anthropic = anthropic_models.wants_anthropic_shape(request.headers)
        try:
            key = await self.key_of(request)
            snapshot = await catalog.current_catalog(wanting=[model] if model else [])
            usable = [name for name in snapshot.models() if key.allows(name)]
            if model is not None and model not in usable:
                raise ModelNotFound(MODEL_NOT_FOUND.format(model=clip(model)), param="model")
            if anthropic:
                return json_response(orjson.dumps(_anthropic_models(request, usable, model)))
            if model is None:
                entries = [_model_entry(name, snapshot.offers[name]) for name in usable]
                return json_response(orjson.dumps({"object": "list", "data": entries}))
            return json_response(orjson.dumps(_model_entry(model, snapshot.offers[model])))
        except GatewayError as error:
            return anthropic_error_response(error) if anthropic else error_response(error)

    async def _not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        if not anthropic_models.wants_anthropic_shape(request.headers):
            return await super()._not_allowed(request, *args, **kwargs)
        method = clip(request.method or "", 20)
        return anthropic_error_response(MethodNotAllowed(METHOD_NOT_ALLOWED.format(method=method)))


def _anthropic_models(request: Request, usable: list[str], model: str | None) -> dict[str, Any]:
    if model is not None:
        return anthropic_models.model_info(model)
    page = anthropic_models.page_request(request.query_params)
    return anthropic_models.model_page(usable, page)


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
            record = (
                await _generation(record_id, key.key_id)
                if _could_be_request_id(record_id)
                else None
            )
            if record is None:
                raise GenerationNotFound(
                    GENERATION_NOT_FOUND.format(id=clip(record_id)), param="id"
                )
            return json_response(orjson.dumps({"data": record}, default=str))
        except GatewayError as error:
            return error_response(error)

"""The Responses API's retrieval endpoints: a stored response, its deletion and its input items,
each for the key that made it (the OpenAI envelope; 404 for another key's); and the gateway's
own compaction (`POST /v1/responses/compact`)."""

from typing import Any

import orjson
from django.http import HttpResponse, HttpResponseBase
from rest_framework.request import Request

from gateway import pipeline
from gateway.bridge import responses_store
from gateway.clip import clip
from gateway.errors import GatewayError, InvalidRequest, ResponseNotFound
from gateway.front_doors.responses_compact import CompactDoor
from gateway.pipeline import ClientCall
from gateway.responses import error_response, json_response
from gateway.stored_responses import RESPONSE_NOT_FOUND, Order
from gateway.views import GatewayApiView, _body_of, answer_response, credentials_of

DEFAULT_ITEMS = 20
MAX_ITEMS = 100
BAD_LIMIT = f"'limit' must be a whole number from 1 to {MAX_ITEMS}."
BAD_ORDER = "'order' must be 'asc' or 'desc'."
NO_STREAM_REPLAY = "This gateway does not replay a stored response as a stream; omit 'stream'."
ORDERS: dict[str, Order] = {"asc": "asc", "desc": "desc"}


class StoredResponseView(GatewayApiView):
    """`GET /v1/responses/{id}`: the stored Response object; `DELETE`: forget it."""

    async def get(self, request: Request, response_id: str) -> HttpResponse:
        """The Response object as it was answered."""
        try:
            key = await self.key_of(request)
            if request.query_params.get("stream", "").lower() == "true":
                raise InvalidRequest(NO_STREAM_REPLAY, param="stream")
            response = await responses_store.retrieve(key_id=key.key_id, response_id=response_id)
            return json_response(orjson.dumps(response))
        except GatewayError as error:
            return error_response(error)

    async def delete(self, request: Request, response_id: str) -> HttpResponse:
        """`{"id", "object": "response", "deleted": true}`; 404 when not the key's."""
        try:
            key = await self.key_of(request)
            if not await responses_store.delete(key_id=key.key_id, response_id=response_id):
                raise ResponseNotFound(RESPONSE_NOT_FOUND.format(id=clip(response_id)))
            body = {"id": response_id, "object": "response", "deleted": True}
            return json_response(orjson.dumps(body))
        except GatewayError as error:
            return error_response(error)


class CompactView(GatewayApiView):
    """`POST /v1/responses/compact`: the conversation summarised by the requested model through
    the pipeline (one `responses` usage record), as a `response.compaction` object."""

    async def post(self, request: Request) -> HttpResponseBase:
        """One sealed `compaction` item and the summarisation's usage."""
        door = CompactDoor()
        call = ClientCall(
            authorization=credentials_of(request),
            read_body=lambda: _body_of(request._request),
            headers=request.headers,
        )
        return answer_response(door, await pipeline.serve(door, call))


class InputItemsView(GatewayApiView):
    """`GET /v1/responses/{id}/input_items?after=&limit=&order=`: the request's own input items,
    newest first by default, 20 a page (at most 100); `include` is accepted."""

    async def get(self, request: Request, response_id: str) -> HttpResponse:
        """An OpenAI list object: `data`, `first_id`, `last_id`, `has_more`."""
        try:
            key = await self.key_of(request)
            page = await responses_store.input_items(
                key_id=key.key_id,
                response_id=response_id,
                after=request.query_params.get("after") or None,
                limit=_limit_of(request.query_params.get("limit")),
                order=_order_of(request.query_params.get("order")),
            )
            return json_response(orjson.dumps(page))
        except GatewayError as error:
            return error_response(error)


def _limit_of(text: Any) -> int:
    if text in (None, ""):
        return DEFAULT_ITEMS
    try:
        limit = int(text)
    except ValueError:
        raise InvalidRequest(BAD_LIMIT, param="limit") from None
    if not 1 <= limit <= MAX_ITEMS:
        raise InvalidRequest(BAD_LIMIT, param="limit")
    return limit


def _order_of(text: Any) -> Order:
    if text in (None, ""):
        return "desc"
    order = ORDERS.get(str(text))
    if order is None:
        raise InvalidRequest(BAD_ORDER, param="order")
    return order

"""`POST /v1/responses/compact` (Codex's remote compaction) as a front door: the conversation
goes as sent to a channel serving the Responses API natively (its own `response.compaction`
object comes back), or else as the gateway's summarisation request through the pipeline,
answered with one item the gateway sealed (gateway.front_doors.responses_compaction).
"""

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import orjson
from django.http import HttpResponse

from gateway.bridge.responses_store import turns
from gateway.errors import GatewayError
from gateway.front_doors.chat import body_model
from gateway.front_doors.responses import responses_usage
from gateway.front_doors.responses_compaction import (
    compaction_item,
    is_sealed_here,
    summarisation_body,
    summary_of,
    unsealed,
    unsealed_turn,
)
from gateway.front_doors.responses_native import native_only_input, native_request
from gateway.front_doors.responses_request import new_id
from gateway.parsing import parse_chat_request, parse_object
from gateway.responses import error_response
from gateway.schemas import RESPONSES_COMPACT_DIALECT, ChatRequest, KeyContext


class CompactDoor:
    """`POST /v1/responses/compact` (a door for one request), recorded as `responses`."""

    endpoint = "responses"

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}
        self.key_id = 0

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The summarisation request for the body's own input, checked (the conversation
        is read at `resolve`, once the key is known)."""
        self.request = parse_object(raw)
        given = self.request.get("input")
        if isinstance(given, list):  # sealed items are read once the key is known
            given = [item for item in given if not is_sealed_here(item)]
        checked = {**self.request, "input": given or "-"}
        return parse_chat_request(orjson.dumps(summarisation_body(checked)))

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """The whole conversation (stored turns, this key's sealed items read back): as sent
        for native channels, else as the summarisation request; a native-only input item
        keeps it to native channels."""
        self.key_id = key.key_id
        data = unsealed(self.request, key.key_id)
        history = []
        if (previous := data.get("previous_response_id")) is not None:
            stored = await turns(key_id=key.key_id, response_id=previous)
            history = [unsealed_turn(turn, key.key_id) for turn in stored]
        items = [item for turn in history for item in (*turn.input_items, *turn.output_items)]
        summarisation = parse_chat_request(orjson.dumps(summarisation_body(data, items)))
        native = native_request(
            data, history, dialect=RESPONSES_COMPACT_DIALECT, requires=native_only_input(data)
        )
        return replace(summarisation, native=native)

    def requested_model(self, raw: bytes) -> str:
        """The body's `model` (see `body_model`)."""
        return body_model(raw)

    def answer(self, body: bytes) -> bytes:
        """The `response.compaction` object: one sealed compaction item and the usage."""
        summary, usage = summary_of(body)
        compacted = {
            "id": new_id("resp_"),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [compaction_item(summary, self.key_id)],
            "usage": responses_usage(usage),
        }
        return orjson.dumps(compacted)

    def events(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Never called: a compact request is not streamed."""
        return events

    def error_response(self, error: GatewayError, request_id: str) -> HttpResponse:
        """OpenAI's envelope."""
        return error_response(error, request_id)

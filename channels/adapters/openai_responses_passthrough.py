"""OpenAI's Responses API passed through: a Responses client's own body to an OpenAI channel
whose upstream serves `/v1/responses` (`serves_responses`), and the answer and events back as
the upstream sent them.

On the way out the model becomes the channel's upstream name, the gateway's routing fields
(`provider`, `models`) and `previous_response_id` are removed (the gateway expanded the stored
conversation into `input`), and `store` is false (the gateway keeps the state). Reasoning items
the gateway took from its stored conversation go only to the channel that made them, and only
with their `encrypted_content`. On the way back `id` and `model` are the gateway's, `store` and
`previous_response_id` the client's, and `usage.cost` is added; usage is read from
`response.completed` / `response.incomplete`, which is held until the request is billed.
"""

import os
from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.anthropic_passthrough import GATEWAY_FIELDS
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamStreamError,
    UpstreamTarget,
)
from channels.adapters.openai_compat import OpenAICompatAdapter, _headers
from channels.adapters.synthesis import parse_json
from channels.adapters.wire import SSESplitter, token_count
from core.usage import Usage

DIALECT = "openai-responses"
"""What a Responses client's NativeRequest says it speaks (gateway.schemas.RESPONSES_DIALECT)."""
RESPONSES_PATH = "/responses"
FOREIGN_CONTENT_CODE = "invalid_encrypted_content"
"""OpenAI's error code for encrypted content another organization made."""
MADE_BY = "_switchyard_channel"
"""On a stored reasoning item the gateway puts in `input`: the channel that made it."""
# Events before the answer starts: a failure after them still falls back to another channel.
PREAMBLE_EVENTS = frozenset({"response.created", "response.in_progress", "response.queued"})
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete"})
TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
    }
)


def gateway_response_id() -> str:
    """A Response id of the gateway's own (the upstream's is not kept: it stores nothing)."""
    return "resp_" + os.urandom(24).hex()


def responses_usage(raw: Any) -> Usage | None:
    """Usage from a Responses `usage` object (cached and written tokens inside `input_tokens`,
    reasoning inside `output_tokens`); None when it reports none."""
    if not isinstance(raw, dict) or "output_tokens" not in raw:
        return None
    inputs = raw.get("input_tokens_details")
    outputs = raw.get("output_tokens_details")
    inputs = inputs if isinstance(inputs, dict) else {}
    outputs = outputs if isinstance(outputs, dict) else {}
    return Usage(
        prompt_tokens=token_count(raw.get("input_tokens")),
        completion_tokens=token_count(raw.get("output_tokens")),
        cached_tokens=token_count(inputs.get("cached_tokens")),
        reasoning_tokens=token_count(outputs.get("reasoning_tokens")),
        cache_write_tokens=token_count(inputs.get("cache_write_tokens")),
    )


def for_channel(items: Any, channel_id: int | None) -> Any:
    """`input` without the stored reasoning items another channel made (or that carry no
    `encrypted_content`: with nothing stored upstream they mean nothing), untagged."""
    if not isinstance(items, list):
        return items
    kept = []
    for item in items:
        if isinstance(item, dict) and MADE_BY in item:
            if item.get("type") == "reasoning" and (
                item[MADE_BY] != channel_id or not item.get("encrypted_content")
            ):
                continue
            item = {name: value for name, value in item.items() if name != MADE_BY}
        kept.append(item)
    return kept


def _stamped(
    response: Any, identity: ResponseIdentity, response_id: str, echoed: Mapping[str, Any]
) -> dict[str, Any]:
    if not isinstance(response, dict):
        raise BadUpstreamResponse("upstream response is not a JSON object")
    return {**response, **echoed, "id": response_id, "model": identity.model}


def priced(response: dict[str, Any], usage: Usage | None, metering: Metering) -> None:
    if usage is not None and isinstance(response.get("usage"), dict):
        response["usage"] = {**response["usage"], "cost": float(metering.cost(usage))}


def priced_answer(answer: dict[str, Any], metering: Metering) -> TranslatedResponse:
    """An answer with an `output` list as JSON, its usage priced (estimated from the output's
    text when it reports none)."""
    usage = responses_usage(answer.get("usage"))
    if usage is None:
        estimate = metering.estimate(output_chars(answer["output"]))
        return TranslatedResponse(orjson.dumps(answer), estimate, usage_estimated=True)
    priced(answer, usage, metering)
    return TranslatedResponse(orjson.dumps(answer), usage, usage_estimated=False)


def output_chars(output: Any) -> int:
    chars = 0
    for item in output if isinstance(output, list) else []:
        for part in (item.get("content") or []) if isinstance(item, dict) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                chars += len(part["text"])
        if isinstance(item, dict) and isinstance(item.get("arguments"), str):
            chars += len(item["arguments"])
    return chars


def _event(kind: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class ResponsesPassthroughStream(StreamTranslator):
    """A Responses stream relayed event by event, its responses stamped; the terminal event is
    held (and priced) until `finish`."""

    error_tail = b""  # Responses streams end with their terminal event, never `[DONE]`

    def __init__(
        self, *, identity: ResponseIdentity, metering: Metering, echoed: Mapping[str, Any]
    ) -> None:
        self.identity = identity
        self.metering = metering
        self.echoed = echoed
        self.response_id = gateway_response_id()
        self.content_started = False
        self.done = False
        self.usage = None
        self.failure = None
        self.completion_chars = 0
        self.sequence = 0
        self.snapshot: dict[str, Any] = {**echoed, "id": self.response_id, "model": identity.model}
        self._splitter = SSESplitter()
        self._terminal: tuple[str, dict[str, Any]] | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """The events `data` completes, as the upstream sent them (responses stamped)."""
        events: list[bytes] = []
        if self.done or self.failure is not None:
            return events
        try:
            for name, payload in self._splitter.feed(data):
                self._relay(name, payload, events)
                if self.done:
                    break
        except (BadUpstreamResponse, UpstreamStreamError) as failure:
            self.failure = failure
        return events

    def _relay(self, name: str, payload: bytes, events: list[bytes]) -> None:
        event = parse_json(payload, "stream event")
        kind = str(event.get("type") or name)
        if isinstance(event.get("sequence_number"), int):
            self.sequence = event["sequence_number"]
        if kind == "error":
            raise UpstreamStreamError(str(event.get("message") or ""), code=_code(event))
        if isinstance(event.get("response"), dict):
            response = _stamped(event["response"], self.identity, self.response_id, self.echoed)
            event = {**event, "response": response}
            self.snapshot = response
            payload = orjson.dumps(event)
        if kind == "response.failed":
            error = self.snapshot.get("error") or {}
            message = str(error.get("message") or "") if isinstance(error, dict) else ""
            raise UpstreamStreamError(message, code=_code(error))
        if kind in TERMINAL_EVENTS:
            self.done = True
            self.usage = responses_usage(self.snapshot.get("usage"))
            self._terminal = (kind, event)
            return  # held until the request is billed: see `finish`
        if kind not in PREAMBLE_EVENTS:
            self.content_started = True
        if kind in TEXT_DELTAS and isinstance(event.get("delta"), str):
            self.completion_chars += len(event["delta"])
        events.append(b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n")

    def finish(self) -> list[bytes]:
        """The upstream's terminal event, once the request is billed, its usage priced."""
        if self._terminal is None:
            return []
        kind, event = self._terminal
        response = dict(event["response"])
        priced(response, self.usage, self.metering)
        return [_event(kind, {**event, "response": response})]

    def error_event(self, *, message: str, code: str) -> bytes:
        """`response.failed` with the response so far and the error, as Responses clients
        expect a stream to end that failed."""
        self.sequence += 1
        response = {**self.snapshot, "status": "failed"}
        response["error"] = {"code": code, "message": message}
        data = {"type": "response.failed", "sequence_number": self.sequence, "response": response}
        return _event("response.failed", data)


def _code(error: Any) -> str | None:
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None


class OpenAIResponsesPassthrough(OpenAICompatAdapter):
    """The OpenAI adapter for a Responses client: its body goes to `<base_url>/responses`."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.client_headers = dict(headers)
        self.echoed: dict[str, Any] = {}
        """What the answer says of the client's request where the upstream's differs (set by
        `build_request`: one adapter serves one attempt)."""

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<base_url>/responses` with the client's body: model replaced, `store: false`,
        routing fields and `previous_response_id` removed, other channels' reasoning dropped."""
        dropped = (*GATEWAY_FIELDS, "previous_response_id")
        payload = {name: value for name, value in body.items() if name not in dropped}
        self.echoed = {
            "store": body.get("store", True),
            "previous_response_id": body.get("previous_response_id"),
        }
        payload["model"] = target.upstream_model
        payload["store"] = False
        if "input" in payload:
            payload["input"] = for_channel(payload["input"], target.channel_id)
        if stream:
            payload["stream"] = True
        elif "stream" in payload:
            payload["stream"] = False
        return UpstreamRequest(
            url=target.base_url.rstrip("/") + RESPONSES_PATH,
            headers=_headers(target),
            content=orjson.dumps(payload),
        )

    def refuses_foreign_content(self, *, status: int, payload: bytes) -> bool:
        """A 400 `invalid_encrypted_content`: encrypted reasoning the client sent back (with
        `store: false`) was made by another channel's account."""
        if status != 400:
            return False
        try:
            error = orjson.loads(payload).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            return False
        return isinstance(error, dict) and error.get("code") == FOREIGN_CONTENT_CODE

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """The upstream's Response as sent, `id` and `model` the gateway's, usage priced."""
        answer = parse_json(payload, "answer")
        response = _stamped(answer, identity, gateway_response_id(), self.echoed)
        if not isinstance(response.get("output"), list):
            raise BadUpstreamResponse("upstream answer has no output list")
        return priced_answer(response, metering)

    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """A fresh pass-through stream."""
        return ResponsesPassthroughStream(identity=identity, metering=metering, echoed=self.echoed)

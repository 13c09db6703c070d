"""OpenAI's Responses API (`POST /v1/responses`, what Codex CLI and the Agents SDK speak) as
a front door, translated through the pipeline's chat form for every channel.

The answer maps back from the chat completion: reasoning → a `reasoning` item with a summary,
content → a `message` item with one `output_text` part, tool calls → `function_call` items;
finish reason `length` / `content_filter` → status `incomplete` with its reason; usage →
Responses usage (cached tokens stay inside `input_tokens`), with the chat door's `cost` and
`provider`. Streams follow the Responses event grammar, numbered by `sequence_number`, and end
with exactly one of `response.completed` / `response.incomplete` / `response.failed` (an
in-band pipeline error) carrying the whole response. Errors use OpenAI's envelope.

A door serves one request (`ResponsesDoor()` per request): `parse` keeps the client's body so
that answers echo its parameters, and `resolve` prepends the stored conversation a
`previous_response_id` continues. The request also carries the client's body for OpenAI
channels serving the Responses API natively (gateway.front_doors.responses_native).
"""

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from django.http import HttpResponse

from gateway.bridge.responses_store import Turn, turns
from gateway.errors import GatewayError
from gateway.front_doors.chat import body_model, chat_chunks
from gateway.front_doors.messages import reasoning_text
from gateway.front_doors.responses_compaction import (
    compaction_events,
    compaction_item,
    is_sealed_here,
    summarisation_body,
    summary_message,
    summary_of,
    trigger_of,
    unsealed,
    unsealed_turn,
)
from gateway.front_doors.responses_native import (
    Keep,
    native_only_input,
    native_request,
    translatable,
    translatable_items,
)
from gateway.front_doors.responses_request import chat_body, new_id
from gateway.parsing import parse_chat_request, parse_object
from gateway.responses import error_response
from gateway.schemas import ChatRequest, KeyContext

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
TERMINAL_EVENTS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}
ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "reasoning": None,
    "safety_identifier": None,
    "service_tier": None,
    "store": True,
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}
"""Request parameters a Response object repeats, with OpenAI's defaults."""


def responses_usage(usage: Any) -> dict[str, Any]:
    """Responses usage for a chat usage object (cached and written tokens are part of
    `input_tokens`, reasoning tokens part of `output_tokens`), keeping OpenRouter's `cost`."""
    usage = usage if isinstance(usage, dict) else {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    mapped: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int(prompt_details.get("cached_tokens") or 0),
            "cache_write_tokens": int(prompt_details.get("cache_write_tokens") or 0),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": int(completion_details.get("reasoning_tokens") or 0)
        },
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }
    for name in ("cost", "cost_details", "is_byok"):
        if name in usage:
            mapped[name] = usage[name]
    return mapped


def _reasoning_item(text: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}]
    return {"id": new_id("rs_"), "type": "reasoning", "summary": summary}


def _message_item(text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part],
    }


def _call_item(
    call: Mapping[str, Any], status: str = "completed", arguments: str | None = None
) -> dict[str, Any]:
    """A `function_call` item for a chat tool call (`arguments` instead of the call's own)."""
    function = call.get("function") or {}
    return {
        "id": new_id("fc_"),
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or new_id("call_"),
        "name": function.get("name") or "",
        "arguments": function.get("arguments") or "" if arguments is None else arguments,
    }


class _Response:
    """The Response object being made: the request's echoed parameters, then the answer's."""

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.body: dict[str, Any] = {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "error": None,
            "incomplete_details": None,
            "model": request.get("model"),
            "output": [],
            "usage": None,
        }
        for name, default in ECHOED.items():
            self.body[name] = request.get(name, default)

    def answered(self, chat: Mapping[str, Any]) -> None:
        """Take the model and provider the pipeline stamped on its answer or chunks."""
        if chat.get("model"):
            self.body["model"] = chat["model"]
        if chat.get("provider"):
            self.body["provider"] = chat["provider"]

    def finish(self, finish_reason: str | None, usage: Any) -> dict[str, Any]:
        """The finished response: status from the finish reason, usage mapped."""
        reason = INCOMPLETE_REASONS.get(finish_reason or "")
        self.body["status"] = "incomplete" if reason else "completed"
        self.body["incomplete_details"] = {"reason": reason} if reason else None
        self.body["usage"] = responses_usage(usage)
        return self.body


def response_object(body: bytes, request: Mapping[str, Any]) -> dict[str, Any]:
    """The Response object for a chat completion body answering `request`."""
    chat = orjson.loads(body)
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    finish_reason = choice.get("finish_reason")
    response = _Response(request)
    response.answered(chat)
    status = "incomplete" if finish_reason in INCOMPLETE_REASONS else "completed"
    output = response.body["output"]
    if thinking := reasoning_text(message):
        output.append(_reasoning_item(thinking))
    if message.get("content"):
        output.append(_message_item(message["content"], status))
    output.extend(_call_item(call) for call in message.get("tool_calls") or [])
    return response.finish(finish_reason, chat.get("usage"))


class _StreamTranslator:
    """Chat completion chunks → Responses stream events, one chunk at a time.

    Reasoning and text are one item at a time (a new kind closes the last); a tool call's item
    opens with its first arguments (or at the end) and stays open until the end, so that
    reasoning or text arriving between its deltas never splits it."""

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.response = _Response(request)
        self.output: list[dict[str, Any]] = self.response.body["output"]
        self.sequence = 0
        self.started = False
        self.prose: dict[str, Any] | None = None  # the open reasoning or message item
        self.calls: dict[int, dict[str, Any]] = {}  # open function_call items by chat index
        self.announced: dict[int, dict[str, Any]] = {}  # calls without arguments yet
        self.open: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.done = False

    def _event(self, kind: str, **data: Any) -> bytes:
        self.sequence += 1
        payload = {"type": kind, "sequence_number": self.sequence, **data}
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _snapshot(self) -> Any:
        """The response as it is now (a copy: later events change it)."""
        return orjson.loads(orjson.dumps(self.response.body))

    def _start(self, chunk: Mapping[str, Any]) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        self.response.answered(chunk)
        snapshot = self._snapshot()
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def _where(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": self.output.index(item)}

    def _open(self, item: dict[str, Any]) -> list[bytes]:
        self.output.append(item)
        self.open.append(item)
        where = self._where(item)
        events = [
            self._event("response.output_item.added", output_index=where["output_index"], item=item)
        ]
        if item["type"] == "reasoning":
            part = {"type": "summary_text", "text": ""}
            events.append(
                self._event(
                    "response.reasoning_summary_part.added", **where, summary_index=0, part=part
                )
            )
        elif item["type"] == "message":
            text: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                self._event("response.content_part.added", **where, content_index=0, part=text)
            )
        return events

    def _close(self, item: dict[str, Any] | None) -> list[bytes]:
        if item is None or item not in self.open:
            return []
        self.open.remove(item)
        if item is self.prose:
            self.prose = None
        where = self._where(item)
        events = []
        if item["type"] == "reasoning":
            part = item["summary"][0]
            events.append(
                self._event(
                    "response.reasoning_summary_text.done",
                    **where,
                    summary_index=0,
                    text=part["text"],
                )
            )
            events.append(
                self._event(
                    "response.reasoning_summary_part.done", **where, summary_index=0, part=part
                )
            )
        elif item["type"] == "message":
            part = item["content"][0]
            item["status"] = self._message_status()
            events.append(
                self._event(
                    "response.output_text.done",
                    **where,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            )
            events.append(
                self._event("response.content_part.done", **where, content_index=0, part=part)
            )
        else:
            item["status"] = "completed"
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        done = self._event(
            "response.output_item.done", output_index=where["output_index"], item=item
        )
        return [*events, done]

    def _message_status(self) -> str:
        return "incomplete" if self.finish_reason in INCOMPLETE_REASONS else "completed"

    def _prose(self, kind: str, new: Callable[[], dict[str, Any]], events: list[bytes]) -> Any:
        """The open item of `kind` (reasoning or message), opening a `new` one if need be."""
        if self.prose is not None and self.prose["type"] == kind:
            return self.prose
        events += self._close(self.prose)
        self.prose = new()
        events += self._open(self.prose)
        return self.prose

    def _call(self, index: int, events: list[bytes]) -> dict[str, Any]:
        """The open item of tool call `index`, opening it from what was announced."""
        if index not in self.calls:
            events += self._close(self.prose)
            announced = self.announced.pop(index, {})
            self.calls[index] = _call_item(announced, "in_progress", "")
            events += self._open(self.calls[index])
        return self.calls[index]

    def _tool_delta(self, call: Mapping[str, Any], events: list[bytes]) -> None:
        index = int(call.get("index") or 0)
        function = call.get("function") or {}
        if index not in self.calls:
            announced = self.announced.setdefault(index, {"function": {}})
            announced["id"] = call.get("id") or announced.get("id")
            if function.get("name"):
                announced["function"]["name"] = function["name"]
        arguments = function.get("arguments")
        if not arguments:
            return
        item = self._call(index, events)
        item["arguments"] += arguments
        where = self._where(item)
        events.append(
            self._event("response.function_call_arguments.delta", **where, delta=arguments)
        )

    def chunk(self, chunk: Mapping[str, Any]) -> list[bytes]:
        """The events one chat chunk makes."""
        events = self._start(chunk)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in (chunk.get("choices") or [])[:1]:
            delta = choice.get("delta") or {}
            if thinking := reasoning_text(delta):
                item = self._prose("reasoning", lambda: _reasoning_item(""), events)
                item["summary"][0]["text"] += thinking
                events.append(
                    self._event(
                        "response.reasoning_summary_text.delta",
                        **self._where(item),
                        summary_index=0,
                        delta=thinking,
                    )
                )
            if delta.get("content"):
                item = self._prose("message", lambda: _message_item("", "in_progress"), events)
                item["content"][0]["text"] += delta["content"]
                events.append(
                    self._event(
                        "response.output_text.delta",
                        **self._where(item),
                        content_index=0,
                        delta=delta["content"],
                        logprobs=[],
                    )
                )
            for call in delta.get("tool_calls") or []:
                self._tool_delta(call, events)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def end(self) -> tuple[list[bytes], dict[str, Any] | None]:
        """The events that end the response, and the finished response (None if ended)."""
        if self.done:
            return [], None
        self.done = True
        events = self._start({})
        for index in sorted(self.announced):  # calls that never had arguments
            self._call(index, events)
        for item in list(self.open):
            events += self._close(item)
        response = self.response.finish(self.finish_reason, self.usage)
        terminal = TERMINAL_EVENTS[response["status"]]
        events.append(self._event(terminal, response=response))
        return events, response

    def error(self, error: Mapping[str, Any]) -> list[bytes]:
        """`response.failed` for the in-band error that ends a stream after its first event."""
        if self.done:
            return []
        self.done = True
        events = self._start({})
        self.response.finish(self.finish_reason, self.usage)
        body = self.response.body
        body["status"], body["incomplete_details"] = "failed", None
        code = str(error.get("code") or "server_error")
        body["error"] = {"code": code, "message": str(error.get("message", ""))}
        events.append(self._event("response.failed", response=body))
        return events


class ResponsesDoor:
    """`POST /v1/responses`, for one request.

    Compaction items this gateway sealed are read back as summary messages (on every path);
    a request ending with a `compaction_trigger` item goes as sent to native channels, and is
    elsewhere the gateway's summarisation of its conversation, answered with one sealed
    `compaction` item (gateway.front_doors.responses_compaction)."""

    endpoint = "responses"

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}
        self.sealed: dict[str, Any] | None = None  # the body, until its sealed items are read
        self.trigger: dict[str, Any] | None = None
        self.key_id = 0

    @property
    def compacting(self) -> bool:
        """Whether the request asks for a compaction (its input ended with the trigger)."""
        return self.trigger is not None

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The Responses body as the pipeline's chat request (kept for the answer);
        InvalidRequest naming the field. Sealed items and a trailing trigger wait for
        `resolve`."""
        data = parse_object(raw)
        self.trigger = trigger_of(data)
        if self.trigger is not None:
            data = {**data, "input": data["input"][:-1]}
        given = data.get("input")
        if isinstance(given, list) and any(is_sealed_here(item) for item in given):
            self.sealed = data
            placeholders = [summary_message("") if is_sealed_here(item) else item for item in given]
            data = {**data, "input": placeholders}
        self.request = data
        return self._chat(())

    def _chat(self, history: Sequence[Turn]) -> ChatRequest:
        """The chat request continuing `history`, carrying the body for native channels."""
        items = [item for turn in history for item in (*turn.input_items, *turn.output_items)]
        if self.trigger is None:
            body = chat_body(translatable(self.request), translatable_items(items))
            native = native_request(self.request, history)
        else:
            body = summarisation_body(self.request, items)
            if self.request.get("stream") is True:
                body.update(stream=True, stream_options={"include_usage": True})
            asked = {**self.request, "input": [*self.request["input"], self.trigger]}
            native = native_request(asked, history, requires=native_only_input(self.request))
        return replace(parse_chat_request(orjson.dumps(body)), native=native)

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """With `previous_response_id`: the request continuing that stored conversation (of
        this key; ResponseNotFound otherwise); this key's sealed items read back
        (InvalidRequest naming one that is not the key's)."""
        self.key_id = key.key_id
        if self.sealed is not None:
            self.request = unsealed(self.sealed, key.key_id)
        previous = self.request.get("previous_response_id")
        if previous is None and self.sealed is None:
            return chat
        history: list[Turn] = []
        if previous is not None:
            stored = await turns(key_id=key.key_id, response_id=previous)
            history = [unsealed_turn(turn, key.key_id) for turn in stored]
        return self._chat(history)

    def requested_model(self, raw: bytes) -> str:
        """The body's `model` (see `body_model`)."""
        return body_model(raw)

    def response(self, body: bytes) -> dict[str, Any]:
        """The Response object for the pipeline's answer; when compacting, its output is the
        one compaction item."""
        response = response_object(body, self.request)
        if self.compacting:
            summary, _ = summary_of(body)
            response["output"] = [compaction_item(summary, self.key_id)]
        return response

    def answer(self, body: bytes) -> bytes:
        """The Response object's JSON."""
        return orjson.dumps(self.response(body))

    async def events(
        self, events: AsyncIterator[bytes], on_final: Keep | None = None
    ) -> AsyncIterator[bytes]:
        """The Responses stream for the pipeline's chat chunks; `on_final` is given the
        response the stream completed (not a failed one) before its terminal event is sent."""
        if self.compacting:
            async for block in compaction_events(events, self.response, on_final):
                yield block
            return
        translator = _StreamTranslator(self.request)
        async for block in events:
            out: list[bytes] = []
            for chunk in chat_chunks(block):
                if chunk is None:
                    ending, response = translator.end()
                    out += ending
                    if response is not None and on_final is not None:
                        await on_final(response)
                elif isinstance(chunk.get("error"), dict):
                    out += translator.error(chunk["error"])
                else:
                    out += translator.chunk(chunk)
            if out:
                yield b"".join(out)
        ending, response = translator.end()
        if ending:
            if response is not None and on_final is not None:
                await on_final(response)
            yield b"".join(ending)

    def error_response(self, error: GatewayError, request_id: str) -> HttpResponse:
        """OpenAI's envelope."""
        return error_response(error, request_id)

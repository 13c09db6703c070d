"""Compaction made by the gateway, for every channel type: `POST /v1/responses/compact`, and
the `compaction` items it returns read back in later Responses requests.

The conversation (`instructions`, `input`, the stored turns of `previous_response_id`) is sent
through the pipeline as one summarisation request — a fixed instruction, then the conversation
as a transcript in one user message, so that any channel can answer it — and the model's text
is sealed into the item's `encrypted_content` with `django.core.signing` (salted, compressed,
bound to the key): readable by the user, but only this gateway, for the same key, can unseal
it. A sealed item then becomes a user message carrying the summary. Items not sealed here
(an upstream's own) are left to the channels that serve the Responses API natively.
"""

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from django.core import signing
from django.http import HttpResponse

from gateway.bridge.responses_store import Turn, turns
from gateway.errors import GatewayError, InvalidRequest
from gateway.front_doors.chat import body_model
from gateway.front_doors.responses import Final, ResponsesDoor, responses_usage
from gateway.front_doors.responses_native import translatable, translatable_items
from gateway.front_doors.responses_request import chat_body, new_id
from gateway.parsing import parse_chat_request, parse_object
from gateway.responses import error_response
from gateway.schemas import ChatRequest, KeyContext

TRIGGER = "compaction_trigger"
SALT = "switchyard.responses.compaction"
SEALED_PREFIX = "swy_cmp1."
"""What starts every `encrypted_content` this gateway sealed (others' are an upstream's)."""
SUMMARY_INSTRUCTION = (
    "Summarise the conversation so far for a continuation by another assistant: the user's "
    "goals and requests, decisions made, facts and results learned (tool calls and their "
    "outcomes included), and what remains to be done. Be complete but concise; write only the "
    "summary."
)
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
UNREADABLE = (
    "Invalid value for '{param}': this compaction item was not sealed by this gateway for this "
    "API key, or it was changed."
)
COMPACT_FIELDS = ("model", "instructions", "input", "previous_response_id", "prompt_cache_key")
"""What a compact request carries to the summarisation (others are accepted and ignored)."""


def seal(summary: str, key_id: int) -> str:
    """`encrypted_content` for `summary`, readable back only by `unseal` with the same key."""
    payload = {"summary": summary, "key_id": key_id}
    return SEALED_PREFIX + signing.dumps(payload, salt=SALT, compress=True)


def is_sealed_here(item: Any) -> bool:
    """Whether an input item is a compaction item this gateway claims to have sealed."""
    return (
        isinstance(item, dict)
        and item.get("type") == "compaction"
        and isinstance(item.get("encrypted_content"), str)
        and item["encrypted_content"].startswith(SEALED_PREFIX)
    )


def unseal(content: str, key_id: int, param: str) -> str:
    """The summary sealed in `content` for `key_id`; InvalidRequest naming `param` otherwise."""
    try:
        payload = signing.loads(content.removeprefix(SEALED_PREFIX), salt=SALT)
    except signing.BadSignature:
        raise InvalidRequest(UNREADABLE.format(param=param), param=param) from None
    if not isinstance(payload, dict) or payload.get("key_id") != key_id:
        raise InvalidRequest(UNREADABLE.format(param=param), param=param)
    summary = payload.get("summary")
    if not isinstance(summary, str):
        raise InvalidRequest(UNREADABLE.format(param=param), param=param)
    return summary


def summary_message(summary: str) -> dict[str, Any]:
    """The input item a read-back compaction becomes: a user message with the summary."""
    part = {"type": "input_text", "text": SUMMARY_PREFIX + summary}
    return {"type": "message", "role": "user", "content": [part]}


def unsealed(data: dict[str, Any], key_id: int) -> dict[str, Any]:
    """The Responses body with each compaction item sealed here (for `key_id`) replaced by its
    summary message; InvalidRequest naming `input[i].encrypted_content` for one that is not."""
    given = data.get("input")
    if not isinstance(given, list) or not any(is_sealed_here(item) for item in given):
        return data
    items = [
        summary_message(unseal(item["encrypted_content"], key_id, f"input[{i}].encrypted_content"))
        if is_sealed_here(item)
        else item
        for i, item in enumerate(given)
    ]
    return {**data, "input": items}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict) and part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif isinstance(part, dict):
            texts.append(f"[{part.get('type', 'attachment')}]")
    return "\n".join(texts)


def _transcript(messages: Sequence[Mapping[str, Any]]) -> str:
    """The chat messages as plain text, one turn a paragraph (any channel can take it)."""
    lines = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            lines.append(f"[tool result {message.get('tool_call_id')}]: {message.get('content')}")
            continue
        if text := _text_of(message.get("content")):
            lines.append(f"[{role}]: {text}")
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            lines.append(f"[{role} called {function.get('name')}]: {function.get('arguments')}")
    return "\n\n".join(lines)


def summarisation_body(data: dict[str, Any], history: Sequence[Any] = ()) -> dict[str, Any]:
    """The chat body asking the model to summarise the conversation of a Responses-shaped
    `data` continuing `history` items; InvalidRequest naming the field for a malformed one."""
    conversation = {name: data[name] for name in COMPACT_FIELDS if name in data}
    if conversation.get("input") is None:
        conversation["input"] = []  # the stored conversation alone
    body = chat_body(translatable(conversation), translatable_items(history))
    transcript = _transcript(body.pop("messages"))
    body["messages"] = [
        {"role": "system", "content": SUMMARY_INSTRUCTION},
        {"role": "user", "content": f"<conversation>\n{transcript}\n</conversation>"},
    ]
    return body


def compaction_item(summary: str, key_id: int) -> dict[str, Any]:
    """The `compaction` output item for `summary`, sealed for `key_id`."""
    return {"id": new_id("cmp_"), "type": "compaction", "encrypted_content": seal(summary, key_id)}


def summary_of(body: bytes) -> tuple[str, Any]:
    """The summary text and chat usage of the pipeline's answer to a summarisation request."""
    chat = orjson.loads(body)
    choice = (chat.get("choices") or [{}])[0]
    return str((choice.get("message") or {}).get("content") or ""), chat.get("usage")


class CompactDoor:
    """`POST /v1/responses/compact` (a door for one request): the summarisation request through
    the pipeline, recorded as `responses`, answered with a `response.compaction` object."""

    endpoint = "responses"

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}
        self.key_id = 0

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The summarisation request for the body's own input (unsealed at `resolve`)."""
        self.request = parse_object(raw)
        given = self.request.get("input")
        if isinstance(given, list):  # sealed items are read once the key is known
            given = [item for item in given if not is_sealed_here(item)]
        checked = {**self.request, "input": given or "-"}
        return parse_chat_request(orjson.dumps(summarisation_body(checked)))

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """The summarisation of the whole conversation: stored turns and unsealed items."""
        self.key_id = key.key_id
        data = unsealed(self.request, key.key_id)
        history: list[Any] = []
        if (previous := data.get("previous_response_id")) is not None:
            stored = await turns(key_id=key.key_id, response_id=previous)
            history = [item for turn in stored for item in (*turn.input_items, *turn.output_items)]
        return parse_chat_request(orjson.dumps(summarisation_body(data, history)))

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


def _unsealed_turn(turn: Turn, key_id: int) -> Turn:
    """A stored turn with the compaction items sealed here as their summary messages."""
    items = unsealed({"input": [*turn.input_items, *turn.output_items]}, key_id)["input"]
    count = len(turn.input_items)
    return replace(turn, input_items=items[:count], output_items=items[count:])


def _triggered(data: dict[str, Any]) -> bool:
    """Whether the body's input ends with a `compaction_trigger` item."""
    given = data.get("input")
    last = given[-1] if isinstance(given, list) and given else None
    return isinstance(last, dict) and last.get("type") == TRIGGER


class CompactingResponsesDoor(ResponsesDoor):
    """`POST /v1/responses` reading back the compaction items this gateway sealed (as summary
    messages, on every path), and answering a request ending with a `compaction_trigger` item
    with one `compaction` item: the summarisation of its conversation, as `/compact` makes it.

    Interim home of the hook: ResponsesDoor would call `unsealed` in `resolve` (and skip the
    sealed items in `parse`), and the trigger would pick `summarisation_body` there."""

    def __init__(self) -> None:
        super().__init__()
        self.sealed: dict[str, Any] = {}
        self.compacting = False
        self.key_id = 0

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """As ResponsesDoor, sealed items and a trailing trigger set aside until `resolve`."""
        data = parse_object(raw)
        self.compacting = _triggered(data)
        if self.compacting:
            data = {**data, "input": data["input"][:-1]}
        given = data.get("input")
        if isinstance(given, list) and any(is_sealed_here(item) for item in given):
            self.sealed = data
            placeholders = [summary_message("") if is_sealed_here(item) else item for item in given]
            data = {**data, "input": placeholders}
        self.request = data
        return self._summarisation(()) if self.compacting else self._chat(())

    def _summarisation(self, history: Sequence[Turn]) -> ChatRequest:
        items = [item for turn in history for item in (*turn.input_items, *turn.output_items)]
        body = summarisation_body(self.request, items)
        if self.request.get("stream") is True:
            body.update(stream=True, stream_options={"include_usage": True})
        return parse_chat_request(orjson.dumps(body))

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """As ResponsesDoor, with this key's sealed items (in the input and the stored
        conversation) read back; InvalidRequest naming a sealed item that is not the key's."""
        self.key_id = key.key_id
        if self.sealed:
            self.request = unsealed(self.sealed, key.key_id)
        previous = self.request.get("previous_response_id")
        history: list[Turn] = []
        if previous is not None:
            stored = await turns(key_id=key.key_id, response_id=previous)
            history = [_unsealed_turn(turn, key.key_id) for turn in stored]
        if self.compacting:
            return self._summarisation(history)
        if previous is None and not self.sealed:
            return chat
        return self._chat(history)

    def response(self, body: bytes) -> dict[str, Any]:
        """The Response object; when compacting, its output is the one compaction item."""
        response = super().response(body)
        if self.compacting:
            summary, _ = summary_of(body)
            response["output"] = [compaction_item(summary, self.key_id)]
        return response

    async def events(
        self, events: AsyncIterator[bytes], on_final: Final | None = None
    ) -> AsyncIterator[bytes]:
        """As ResponsesDoor; when compacting, the summary arrives whole at the end, as one
        compaction item (added, done), then `response.completed` (`response.failed` in band)."""
        if not self.compacting:
            async for block in super().events(events, on_final=on_final):
                yield block
            return
        summary, usage, error = await _read_chunks(events)
        chat = {"choices": [{"message": {"content": summary}}], "usage": usage}
        response = self.response(orjson.dumps(chat))
        started = {**response, "status": "in_progress", "output": [], "usage": None}
        frames: list[tuple[str, dict[str, Any]]] = [("response.created", {"response": started})]
        frames.append(("response.in_progress", {"response": started}))
        if error is not None:
            failed = {**started, "status": "failed", "error": error}
            frames.append(("response.failed", {"response": failed}))
        else:
            item = response["output"][0]
            frames.append(("response.output_item.added", {"output_index": 0, "item": item}))
            frames.append(("response.output_item.done", {"output_index": 0, "item": item}))
            if on_final is not None:
                await on_final(response)
            frames.append(("response.completed", {"response": response}))
        yield b"".join(_event(kind, number, data) for number, (kind, data) in enumerate(frames, 1))


def _event(kind: str, number: int, data: dict[str, Any]) -> bytes:
    payload = {"type": kind, "sequence_number": number, **data}
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


async def _read_chunks(events: AsyncIterator[bytes]) -> tuple[str, Any, dict[str, Any] | None]:
    """The text, usage and in-band error (OpenAI's code and message) of a chat stream."""
    texts: list[str] = []
    usage: Any = None
    async for block in events:
        for frame in block.split(b"\n\n"):
            data = frame.strip().removeprefix(b"data:").strip()
            if not data or data == b"[DONE]" or frame.lstrip().startswith(b":"):
                continue
            chunk = orjson.loads(data)
            if isinstance(chunk.get("error"), dict):
                code = str(chunk["error"].get("code") or "server_error")
                return "", usage, {"code": code, "message": str(chunk["error"].get("message", ""))}
            usage = chunk.get("usage") or usage
            for choice in (chunk.get("choices") or [])[:1]:
                texts.append(str((choice.get("delta") or {}).get("content") or ""))
    return "".join(texts), usage, None

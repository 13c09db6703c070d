"""Compaction made by the gateway, for channels that cannot compact themselves: the
`compaction` items it seals, read back in later Responses requests, and the summarisation
request that makes them (for `POST /v1/responses/compact` and a `compaction_trigger` item).

The conversation (`instructions`, `input`, the stored turns of `previous_response_id`) is sent
through the pipeline as one summarisation request — a fixed instruction, then the conversation
as a transcript in one user message, so that any channel can answer it — and the model's text
is sealed into the item's `encrypted_content` with `django.core.signing` (salted, compressed,
bound to the key): readable by the user, but only this gateway, for the same key, can unseal
it. A sealed item then becomes a user message carrying the summary, on every path. Items not
sealed here (an upstream's own) are left to the channels that serve the Responses API natively.
"""

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
from django.core import signing

from gateway.errors import InvalidRequest
from gateway.front_doors.chat import chat_chunks
from gateway.front_doors.responses_native import Keep, translatable, translatable_items
from gateway.front_doors.responses_request import chat_body, new_id
from gateway.stored_responses import Turn

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
COMPACT_FIELDS = (
    "model",
    "instructions",
    "input",
    "previous_response_id",
    "prompt_cache_key",
    "provider",
    "models",
)
"""What a compact request carries to the summarisation, OpenRouter's routing controls among
them (others are accepted and ignored)."""


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


def unsealed_turn(turn: Turn, key_id: int) -> Turn:
    """A stored turn with the compaction items sealed here as their summary messages."""
    items = unsealed({"input": [*turn.input_items, *turn.output_items]}, key_id)["input"]
    count = len(turn.input_items)
    return replace(turn, input_items=items[:count], output_items=items[count:])


def trigger_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """The `compaction_trigger` item the body's input ends with, if it does."""
    given = data.get("input")
    last = given[-1] if isinstance(given, list) and given else None
    return last if isinstance(last, dict) and last.get("type") == TRIGGER else None


Respond = Callable[[bytes], dict[str, Any]]
"""The Response object (output: one compaction item) for a summarisation's chat answer."""


async def compaction_events(
    events: AsyncIterator[bytes], respond: Respond, on_final: Keep | None = None
) -> AsyncIterator[bytes]:
    """The Responses stream of a summarisation's chat chunks: the summary arrives whole at the
    end, as one compaction item (added, done) in `respond`'s response, then
    `response.completed` (`response.failed` in band); `on_final` is given the response first."""
    summary, usage, error = await _read_chunks(events)
    chat = {"choices": [{"message": {"content": summary}}], "usage": usage}
    response = respond(orjson.dumps(chat))
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
        for chunk in chat_chunks(block):
            if chunk is None:
                continue
            if isinstance(chunk.get("error"), dict):
                code = str(chunk["error"].get("code") or "server_error")
                return "", usage, {"code": code, "message": str(chunk["error"].get("message", ""))}
            usage = chunk.get("usage") or usage
            for choice in (chunk.get("choices") or [])[:1]:
                texts.append(str((choice.get("delta") or {}).get("content") or ""))
    return "".join(texts), usage, None

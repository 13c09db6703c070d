"""The Responses door's native side: what only a channel serving the Responses API can
carry, the request without it for the translated path, and the client's body as it goes to
such a channel, the stored conversation of `previous_response_id` expanded into `input`.

Native-only: built-in tools (any tool but `function`), a `tool_choice` object other than
`{type: function}` (a built-in tool, `allowed_tools`), input items the chat form has no
counterpart for (`web_search_call`, `compaction`, …) and reasoning items with
`encrypted_content` (made by, and readable by, one upstream account). Stored
reasoning items are tagged with the channel that made them, so that they go back only there;
a native answer is stored as the upstream's Response (from its terminal event when streamed).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import orjson

from channels.adapters.openai_responses_passthrough import MADE_BY, TERMINAL_EVENTS
from gateway.schemas import RESPONSES_DIALECT, NativeRequest
from gateway.stored_responses import Turn

TRANSLATED_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})
"""Input items the chat form carries (reasoning is dropped there)."""


def _kind(item: Any) -> Any:
    return item.get("type", "message" if "role" in item else None)


def _native_item(item: Any) -> str:
    """The field of an input item only a native channel takes ("" for none)."""
    if not isinstance(item, dict):
        return ""
    kind = _kind(item)
    if kind not in TRANSLATED_ITEMS:
        return "type"
    if kind == "reasoning" and item.get("encrypted_content"):
        return "encrypted_content"
    return ""


def _builtin(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("type") != "function"


def native_only_input(data: dict[str, Any]) -> str:
    """The first input item field of a Responses body only a native channel can read, or ""."""
    given = data.get("input")
    for number, item in enumerate(given if isinstance(given, list) else []):
        if field := _native_item(item):
            return f"input[{number}].{field}"
    return ""


def native_only(data: dict[str, Any]) -> str:
    """The first field of a Responses body that only a native channel can carry, or ""."""
    tools = data.get("tools")
    for number, tool in enumerate(tools if isinstance(tools, list) else []):
        if _builtin(tool):
            return f"tools[{number}].type"
    if _builtin(data.get("tool_choice")):
        return "tool_choice.type"
    return native_only_input(data)


def translatable_items(items: Sequence[Any]) -> list[Any]:
    """Input items without those the chat form has no counterpart for."""
    return [item for item in items if not (isinstance(item, dict) and _native_item(item))]


def translatable(data: dict[str, Any]) -> dict[str, Any]:
    """The body without its native-only content, for the translated path."""
    body = dict(data)
    if isinstance(body.get("tools"), list):
        body["tools"] = [tool for tool in body["tools"] if not _builtin(tool)]
        if not body["tools"]:
            body.pop("tool_choice", None)
    if _builtin(body.get("tool_choice")):
        body.pop("tool_choice")
    if isinstance(body.get("input"), list):
        body["input"] = translatable_items(body["input"])
    return body


def _tagged(turn: Turn) -> list[dict[str, Any]]:
    return [
        {**item, MADE_BY: turn.channel_id} if _kind(item) == "reasoning" else item
        for item in (*turn.input_items, *turn.output_items)
    ]


def native_request(
    data: dict[str, Any],
    turns: Sequence[Turn] = (),
    *,
    dialect: str = RESPONSES_DIALECT,
    requires: str | None = None,
) -> NativeRequest:
    """The client's body for a channel serving the Responses API, `input` led by the stored
    conversation (its reasoning tagged with the channel that made it); `requires` is the
    body's first native-only field unless given."""
    body = dict(data)
    if turns:
        given = data.get("input")
        if isinstance(given, str):
            given = [{"role": "user", "content": given}]
        history = [item for turn in turns for item in _tagged(turn)]
        body["input"] = [*history, *(given if isinstance(given, list) else [])]
    needed = native_only(data) if requires is None else requires
    return NativeRequest(dialect, body, requires=needed)


Keep = Callable[[dict[str, Any]], Awaitable[None]]


def _terminal_response(block: bytes) -> dict[str, Any] | None:
    """The Response a block's `response.completed` / `response.incomplete` event carries."""
    for frame in block.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if not line.startswith(b"data:") or not any(
                kind.encode() in line for kind in TERMINAL_EVENTS
            ):
                continue
            try:
                event = orjson.loads(line.removeprefix(b"data:"))
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("type") in TERMINAL_EVENTS:
                response = event.get("response")
                return response if isinstance(response, dict) else None
    return None


async def kept_events(events: AsyncIterator[bytes], keep: Keep) -> AsyncIterator[bytes]:
    """A native stream as it is, its finished response given to `keep` before the client has
    the terminal event."""
    async for block in events:
        if (response := _terminal_response(block)) is not None:
            await keep(response)
        yield block

"""OpenAI chat request → Anthropic Messages request; pure."""

import re
from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.base import UnsupportedContent
from channels.adapters.reasoning import Reasoning, reasoning_of

DEFAULT_MAX_TOKENS = 4096
"""The answer budget when neither the client nor the channel's model sets one."""
MIN_THINKING_BUDGET = 1024
MAX_THINKING_BUDGET = 128_000
MAX_TEMPERATURE = 1.0
DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,(?P<data>.*)$", re.S)
UNSUPPORTED_PART = "Content parts of type '{kind}' cannot be sent to this model's provider."
TOOL_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
EMPTY_SCHEMA = {"type": "object", "properties": {}}
OPENING_TURN = "."
"""The user turn put first when a conversation opens with the assistant (or has none)."""

Block = dict[str, Any]
Turn = dict[str, Any]


def max_tokens_of(body: Mapping[str, Any], default: int | None) -> int:
    """The answer budget: the client's, else the channel model's, else DEFAULT_MAX_TOKENS."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return default or DEFAULT_MAX_TOKENS


def messages_payload(
    body: Mapping[str, Any], *, model: str, max_tokens: int, stream: bool
) -> dict[str, Any]:
    """The Messages API body for an OpenAI-format chat `body`."""
    system, turns = _conversation(body.get("messages") or [])
    payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        payload["system"] = system
    if stream:
        payload["stream"] = True
    _sampling(body, payload)
    _tools(body, payload)
    user = body.get("user")
    if isinstance(user, str) and user:
        payload["metadata"] = {"user_id": user}
    reasoning = reasoning_of(body)
    if reasoning is not None and reasoning.enabled and _thinking_allowed(turns):
        _think(reasoning, payload)
    return payload


def _sampling(body: Mapping[str, Any], payload: dict[str, Any]) -> None:
    stop = body.get("stop")
    if isinstance(stop, str):
        payload["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        payload["stop_sequences"] = stop
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        payload["temperature"] = min(float(temperature), MAX_TEMPERATURE)
    if body.get("top_p") is not None:
        payload["top_p"] = body["top_p"]
    top_k = body.get("top_k")
    if isinstance(top_k, int) and top_k > 0:  # vLLM's -1 ("off") is no value for Anthropic
        payload["top_k"] = top_k


def _tools(body: Mapping[str, Any], payload: dict[str, Any]) -> None:
    tools = [
        {
            "name": function["name"],
            **({"description": function["description"]} if function.get("description") else {}),
            "input_schema": function.get("parameters") or EMPTY_SCHEMA,
        }
        for tool in body.get("tools") or []
        if isinstance(function := tool.get("function"), dict)
    ]
    if tools:
        payload["tools"] = tools
    choice = body.get("tool_choice")
    mapped: dict[str, Any] | None = None
    if isinstance(choice, str):
        mapped = dict(TOOL_CHOICES.get(choice, TOOL_CHOICES["auto"]))
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    if body.get("parallel_tool_calls") is False and tools:
        mapped = mapped or {"type": "auto"}
        mapped["disable_parallel_tool_use"] = True
    if mapped is not None and (tools or mapped["type"] == "none"):
        payload["tool_choice"] = mapped


def _thinking_allowed(turns: list[Turn]) -> bool:
    """With thinking on, an assistant tool-use turn must start with its thinking block; when the
    client did not send the blocks back, the request goes without thinking."""
    for turn in turns:
        if turn["role"] != "assistant":
            continue
        kinds = [block["type"] for block in turn["content"]]
        if "tool_use" in kinds and kinds[0] not in ("thinking", "redacted_thinking"):
            return False
    return True


def _think(reasoning: Reasoning, payload: dict[str, Any]) -> None:
    """Thinking with a budget of at least 1024 tokens and below `max_tokens`, which is never
    raised (it is what the client asked for, and what the gateway reserved credit for): with
    less room than that the request goes without thinking. Anthropic then forbids sampling
    changes and forced tool use."""
    max_tokens = payload["max_tokens"]
    wanted = max(reasoning.budget(max_tokens), MIN_THINKING_BUDGET)
    budget = min(wanted, MAX_THINKING_BUDGET, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        return
    payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
    for name in ("temperature", "top_k", "top_p"):
        payload.pop(name, None)
    choice = payload.get("tool_choice")
    if choice is not None and choice["type"] in ("any", "tool"):
        payload["tool_choice"] = {
            "type": "auto",
            **{k: v for k, v in choice.items() if k == "disable_parallel_tool_use"},
        }


def _conversation(messages: list[Any]) -> tuple[list[Block], list[Turn]]:
    """The `system` blocks and the alternating user/assistant turns, same-role turns merged."""
    system: list[Block] = []
    turns: list[Turn] = []
    for position, message in enumerate(messages):
        role = message.get("role")
        param = f"messages[{position}]"
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content")))
            continue
        if role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message))
        elif role in ("tool", "function"):
            _append(turns, "user", [_tool_result(message)], results=True)
        else:
            _append(turns, "user", _user_blocks(message.get("content"), param))
    turns = [turn for turn in turns if turn["content"]]
    if not turns or turns[0]["role"] != "user":
        # Anthropic refuses a conversation that does not open with the user.
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": OPENING_TURN}]})
    return system, turns


def _append(turns: list[Turn], role: str, blocks: list[Block], *, results: bool = False) -> None:
    """Add blocks to the last turn when it has the same role; tool results go before text."""
    if turns and turns[-1]["role"] == role:
        content = turns[-1]["content"]
        if results:
            at = sum(1 for block in content if block["type"] == "tool_result")
            content[at:at] = blocks
        else:
            content.extend(blocks)
        return
    turns.append({"role": role, "content": list(blocks)})


def _text_blocks(content: object) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [
            {"type": "text", "text": part["text"]}
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and part.get("text")
        ]
    return []


def _user_blocks(content: object, param: str) -> list[Block]:
    if not isinstance(content, list):
        return _text_blocks(content)
    blocks: list[Block] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            blocks.extend(_text_blocks([part]))
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url")))
        elif kind == "file":
            blocks.append(_document(part.get("file")))
        else:
            raise UnsupportedContent(
                UNSUPPORTED_PART.format(kind=kind), param=f"{param}.content[{index}]"
            )
    return blocks


def _image(image: object) -> Block:
    url = image.get("url") if isinstance(image, dict) else image
    url = url if isinstance(url, str) else ""
    match = DATA_URL.match(url)
    if match:
        source = {
            "type": "base64",
            "media_type": match["mime"] or "image/png",
            "data": match["data"],
        }
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _document(file: object) -> Block:
    data = file.get("file_data") if isinstance(file, dict) else None
    match = DATA_URL.match(data) if isinstance(data, str) else None
    if match is None:
        raise UnsupportedContent(
            "File parts must carry their data as a base64 data URL.", param="file"
        )
    media_type = match["mime"] or "application/pdf"
    source = {"type": "base64", "media_type": media_type, "data": match["data"]}
    return {"type": "document", "source": source}


def _assistant_blocks(message: Mapping[str, Any]) -> list[Block]:
    """Thinking blocks sent back (`thinking_blocks`), the text, then the tool calls."""
    blocks: list[Block] = [
        dict(block)
        for block in message.get("thinking_blocks") or []
        if isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking")
    ]
    blocks.extend(_text_blocks(message.get("content")))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments_object(function.get("arguments")),
            }
        )
    return blocks


def arguments_object(arguments: object) -> dict[str, Any]:
    """Tool-call arguments as an object; text that is not a JSON object is wrapped."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _tool_result(message: Mapping[str, Any]) -> Block:
    content = message.get("content")
    result: Block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, str):
        result["content"] = content
    else:
        result["content"] = _text_blocks(content)
    if message.get("is_error") is True:
        result["is_error"] = True
    return result

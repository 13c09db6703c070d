"""Anthropic Messages request → the pipeline's chat request (pure): the Anthropic adapter's
request mapping run backwards.

System blocks become a system message, `tool_use` / `tool_result` blocks become tool calls and
tool messages, images become data URLs, `stop_sequences` become `stop`, a `thinking` budget
becomes `reasoning.max_tokens`. OpenRouter's `provider` and `models` are accepted as in chat.
"""

from typing import Any

import orjson

from gateway.errors import InvalidRequest

PASSED_AS_IS = ("model", "max_tokens", "temperature", "top_p", "stream", "provider", "models")
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}", param=param)


def _text_of(blocks: Any, param: str) -> str:
    """The text of a string or a list of text blocks (a system prompt, a tool result)."""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise _fail(param, "expected a string or a list of blocks.")
    texts = []
    for number, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _fail(f"{param}[{number}]", "expected a text block.")
        texts.append(str(block.get("text", "")))
    return "\n".join(texts)


def _image_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _fail(f"{param}.source", "expected an object.")
    if source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url")}}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    raise _fail(f"{param}.source.type", "expected 'base64' or 'url'.")


def _user_messages(content: Any, param: str) -> list[dict[str, Any]]:
    """A user turn: tool results first (as tool messages), then the user's own parts."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise _fail(param, "expected a string or a list of blocks.")
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for number, block in enumerate(content):
        where = f"{param}[{number}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, where))
        elif kind == "tool_result":
            result = block.get("content", "")
            tools.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": _text_of(result, f"{where}.content") if result else "",
                }
            )
        else:
            raise _fail(f"{where}.type", "expected 'text', 'image' or 'tool_result'.")
    return tools + ([{"role": "user", "content": parts}] if parts else [])


def _assistant_message(content: Any, param: str) -> dict[str, Any]:
    """An assistant turn: its text and its tool calls (thinking blocks are not translated)."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise _fail(param, "expected a string or a list of blocks.")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for number, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind not in ("thinking", "redacted_thinking"):
            raise _fail(f"{param}[{number}].type", "expected 'text', 'tool_use' or 'thinking'.")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _fail("tools", "expected a list.")
    functions = []
    for number, tool in enumerate(tools):
        if not isinstance(tool, dict) or "input_schema" not in tool:
            raise _fail(f"tools[{number}]", "only custom tools with an input_schema translate.")
        function = {"name": tool.get("name"), "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(choice: Any) -> Any:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in TOOL_CHOICES:
        return TOOL_CHOICES[kind]
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise _fail("tool_choice.type", "expected 'auto', 'any', 'tool' or 'none'.")


def chat_body(data: dict[str, Any]) -> dict[str, Any]:
    """The chat completion body of a Messages body; InvalidRequest naming the field."""
    if not isinstance(data.get("max_tokens"), int) or isinstance(data.get("max_tokens"), bool):
        raise _fail("max_tokens", "an integer is required.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("messages", "expected a non-empty list.")
    body: dict[str, Any] = {name: data[name] for name in PASSED_AS_IS if name in data}
    chat: list[dict[str, Any]] = []
    if data.get("system"):
        chat.append({"role": "system", "content": _text_of(data["system"], "system")})
    for number, message in enumerate(messages):
        param = f"messages[{number}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            chat.extend(_user_messages(message.get("content"), f"{param}.content"))
        elif role == "assistant":
            chat.append(_assistant_message(message.get("content"), f"{param}.content"))
        else:
            raise _fail(f"{param}.role", "expected 'user' or 'assistant'.")
    body["messages"] = chat
    if "stop_sequences" in data:
        body["stop"] = data["stop_sequences"]
    if "tools" in data:
        body["tools"] = _tools(data["tools"])
    if "tool_choice" in data:
        body["tool_choice"] = _tool_choice(data["tool_choice"])
    thinking = data.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        body["reasoning"] = {"max_tokens": thinking.get("budget_tokens")}
    user = (
        (data.get("metadata") or {}).get("user_id")
        if isinstance(data.get("metadata"), dict)
        else None
    )
    if user:
        body["user"] = user
    if body.get("stream") is True:
        body["stream_options"] = {"include_usage": True}  # the door reports usage at the end
    return body

"""Anthropic Messages request → the pipeline's chat request (pure): the Anthropic adapter's
request mapping run backwards.

System blocks become a system message, `tool_use` / `tool_result` blocks become tool calls and
tool messages, images become data URLs, PDFs file parts, `stop_sequences` become `stop`, a
`thinking` budget becomes `reasoning.max_tokens`. OpenRouter's `provider` and `models` are
accepted as in chat. Thinking blocks, `cache_control` and fields chat has no counterpart for
(`top_k`, `service_tier`, betas) are left out of the translation.

What only Anthropic's own API can carry — server tools, citations, block types and fields with
no chat counterpart that change the answer — is not refused: the translation names the first
such field (`requires`), so the request is routed only to channels that take the client's body
as sent. Its chat body then stands in for it only in estimates (such a block becomes a text
part of its JSON, so that the reservation bound still counts it).
"""

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.errors import InvalidRequest

PASSED_AS_IS = ("model", "max_tokens", "temperature", "top_p", "stream", "provider", "models")
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
NATIVE_ONLY_FIELDS = ("mcp_servers", "container")
"""Top-level fields that change what the model can do: only Anthropic channels honour them."""
DROPPED_BLOCKS = ("thinking", "redacted_thinking")


@dataclass(slots=True)
class Translation:
    """A Messages body in chat form, and the first field only Anthropic's API carries ("" if
    none)."""

    body: dict[str, Any] = field(default_factory=dict)
    requires: str = ""

    def native_only(self, param: str, block: object) -> dict[str, Any]:
        """Note that `param` needs the client's own API; the text part standing in for it."""
        self.requires = self.requires or param
        return {"type": "text", "text": orjson.dumps(block).decode()}


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}", param=param)


def _text_of(blocks: Any, param: str, translation: Translation) -> str:
    """The text of a string or a list of text blocks (a system prompt, a tool result); other
    blocks (a tool result's image) are native-only."""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise _fail(param, "expected a string or a list of blocks.")
    texts = []
    for number, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise _fail(f"{param}[{number}]", "expected a block.")
        if block.get("type") == "text" and "citations" not in block:
            texts.append(str(block.get("text", "")))
        else:
            texts.append(translation.native_only(f"{param}[{number}]", block)["text"])
    return "\n".join(texts)


def _document_part(block: dict[str, Any], param: str, translation: Translation) -> dict[str, Any]:
    """A PDF or plain-text document as a file or text part; with citations, or from a source
    chat cannot name (a URL, content blocks, a file id), native-only."""
    source = block.get("source")
    citations = block.get("citations")
    if isinstance(source, dict) and not (isinstance(citations, dict) and citations.get("enabled")):
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            data = f"data:application/pdf;base64,{source.get('data')}"
            name = str(block.get("title") or "document.pdf")
            return {"type": "file", "file": {"filename": name, "file_data": data}}
        if source.get("type") == "text":
            return {"type": "text", "text": str(source.get("data", ""))}
    return translation.native_only(param, block)


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


def _user_messages(content: Any, param: str, translation: Translation) -> list[dict[str, Any]]:
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
        elif kind == "document":
            parts.append(_document_part(block, where, translation))
        elif kind == "tool_result":
            result = block.get("content", "")
            text = _text_of(result, f"{where}.content", translation) if result else ""
            tools.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
        elif isinstance(kind, str):
            parts.append(translation.native_only(f"{where}.type", block))
        else:
            raise _fail(f"{where}.type", "expected a block type.")
    return tools + ([{"role": "user", "content": parts}] if parts else [])


def _assistant_message(content: Any, param: str, translation: Translation) -> dict[str, Any]:
    """An assistant turn: its text and its tool calls (thinking blocks are not translated;
    server tools' blocks are native-only)."""
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
        elif isinstance(kind, str) and kind not in DROPPED_BLOCKS:
            texts.append(translation.native_only(f"{param}[{number}].type", block)["text"])
        elif kind not in DROPPED_BLOCKS:
            raise _fail(f"{param}[{number}].type", "expected a block type.")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: Any, translation: Translation) -> list[dict[str, Any]]:
    """Custom tools as functions; server tools (no `input_schema`) are native-only."""
    if not isinstance(tools, list):
        raise _fail("tools", "expected a list.")
    functions = []
    for number, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _fail(f"tools[{number}]", "expected an object.")
        if "input_schema" not in tool:
            translation.native_only(f"tools[{number}]", tool)
            continue
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
    return translate(data).body


def translate(data: dict[str, Any]) -> Translation:
    """The Messages body in chat form; InvalidRequest naming the field for a malformed one."""
    translation = Translation()
    if not isinstance(data.get("max_tokens"), int) or isinstance(data.get("max_tokens"), bool):
        raise _fail("max_tokens", "an integer is required.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("messages", "expected a non-empty list.")
    body = translation.body
    body.update({name: data[name] for name in PASSED_AS_IS if name in data})
    chat: list[dict[str, Any]] = []
    if data.get("system"):
        system = _text_of(data["system"], "system", translation)
        chat.append({"role": "system", "content": system})
    for number, message in enumerate(messages):
        param = f"messages[{number}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            chat.extend(_user_messages(message.get("content"), f"{param}.content", translation))
        elif role == "assistant":
            content = message.get("content")
            chat.append(_assistant_message(content, f"{param}.content", translation))
        else:
            raise _fail(f"{param}.role", "expected 'user' or 'assistant'.")
    body["messages"] = chat
    if "stop_sequences" in data:
        body["stop"] = data["stop_sequences"]
    functions = _tools(data["tools"], translation) if "tools" in data else []
    choice = _tool_choice(data["tool_choice"]) if "tool_choice" in data else None
    if functions:
        body["tools"] = functions
        if choice is not None:
            body["tool_choice"] = choice
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
    for name in NATIVE_ONLY_FIELDS:
        if name in data:
            translation.native_only(name, data[name])
    return translation

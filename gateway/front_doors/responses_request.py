"""OpenAI Responses request → the pipeline's chat body (pure): protocol.md §13 on the
translated path.

`instructions` become a leading system message; `input` (a string, or items) becomes chat
messages: `message` items keep their role (parts `input_text` → text, `input_image` →
`image_url`, `input_file` → `file`, an assistant's `output_text` → its text), consecutive
`function_call` items become one assistant message's `tool_calls`, `function_call_output`
items tool messages, and `reasoning` items are dropped. Function tools become chat tools;
built-in tools (`web_search`, `file_search`, …) have no chat counterpart and no channel can
serve them yet, so they are refused naming `tools[i].type`. `max_output_tokens` →
`max_completion_tokens`, `reasoning.effort` → OpenRouter's `reasoning`, `text.format` →
`response_format`, `safety_identifier`/`user` → `user`. `store`, `include`, `truncation` and
`previous_response_id` say nothing to the chat form (the door keeps the state).
"""

import os
from collections.abc import Sequence
from typing import Any

from gateway.errors import InvalidRequest

PASSED_AS_IS = (
    "model",
    "temperature",
    "top_p",
    "stream",
    "metadata",
    "prompt_cache_key",
    "service_tier",
    "provider",
    "models",
)
"""Fields the chat form spells the same (OpenRouter's routing controls among them)."""
ROLES = frozenset({"user", "assistant", "system", "developer"})
TOOL_CHOICES = frozenset({"auto", "none", "required"})
FORMATS = frozenset({"text", "json_object", "json_schema"})
DROPPED_ITEMS = frozenset({"reasoning"})
UNTRANSLATED_ITEM = (
    "expected message, function_call, function_call_output or reasoning (other items need a "
    "channel serving the Responses API natively)."
)
ITEM_ID_PREFIXES = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}


def _fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid value for '{param}': {message}", param=param)


def new_id(prefix: str) -> str:
    """An OpenAI-looking id (`msg_…`, `fc_…`) for an item the gateway names."""
    return prefix + os.urandom(16).hex()


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _fail(param, "expected a string.")
    return value


def _part(part: Any, param: str) -> dict[str, Any]:
    """One content part in chat form."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": _text(part.get("text"), f"{param}.text")}
    if kind == "refusal":
        return {"type": "text", "text": _text(part.get("refusal"), f"{param}.refusal")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise _fail(f"{param}.image_url", "expected an image URL or data URL.")
        image = {"url": url}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        names = ("file_data", "file_id", "filename")
        file = {name: part[name] for name in names if isinstance(part.get(name), str)}
        if "file_data" not in file and "file_id" not in file:
            raise _fail(f"{param}.file_data", "expected the file's data URL (or a file_id).")
        return {"type": "file", "file": file}
    raise _fail(f"{param}.type", "expected input_text, input_image, input_file or output_text.")


def _joined_text(content: Any, param: str) -> str:
    """A string, or the text of a list of text parts (for roles chat keeps as a string)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _fail(param, "expected a string or a list of content parts.")
    texts = []
    for number, part in enumerate(content):
        chat_part = _part(part, f"{param}[{number}]")
        if chat_part["type"] != "text":
            raise _fail(f"{param}[{number}].type", "only text parts are allowed here.")
        texts.append(chat_part["text"])
    return "".join(texts)


def _message(item: dict[str, Any], param: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ROLES:
        raise _fail(f"{param}.role", "expected user, assistant, system or developer.")
    content = item.get("content")
    if role != "user":
        return {"role": role, "content": _joined_text(content, f"{param}.content")}
    if isinstance(content, str):
        return {"role": "user", "content": content}
    if not isinstance(content, list):
        raise _fail(f"{param}.content", "expected a string or a list of content parts.")
    parts = [_part(part, f"{param}.content[{number}]") for number, part in enumerate(content)]
    return {"role": "user", "content": parts}


def _tool_call(item: dict[str, Any], param: str) -> dict[str, Any]:
    function = {
        "name": _text(item.get("name"), f"{param}.name"),
        "arguments": _text(item.get("arguments", ""), f"{param}.arguments"),
    }
    call_id = _text(item.get("call_id"), f"{param}.call_id")
    return {"id": call_id, "type": "function", "function": function}


def _tool_output(item: dict[str, Any], param: str) -> dict[str, Any]:
    output = item.get("output")
    text = _joined_text(output, f"{param}.output") if not isinstance(output, str) else output
    call_id = _text(item.get("call_id"), f"{param}.call_id")
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _messages(items: Sequence[Any], param: str) -> list[dict[str, Any]]:
    """Chat messages for Responses input items."""
    chat: list[dict[str, Any]] = []
    for number, item in enumerate(items):
        where = f"{param}[{number}]"
        if not isinstance(item, dict):
            raise _fail(where, "expected an input item object.")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            chat.append(_message(item, where))
        elif kind == "function_call":
            call = _tool_call(item, where)
            last = chat[-1] if chat else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                chat.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            chat.append(_tool_output(item, where))
        elif kind not in DROPPED_ITEMS:
            raise _fail(f"{where}.type", UNTRANSLATED_ITEM)
    return chat


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _fail("tools", "expected a list of tools.")
    functions = []
    for number, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            raise _fail(
                f"tools[{number}].type",
                f"the built-in tool {str(kind)[:40]!r} is not served by any channel of this "
                "gateway; only 'function' tools are.",
            )
        function: dict[str, Any] = {"name": _text(tool.get("name"), f"tools[{number}].name")}
        for name in ("description", "parameters", "strict"):
            if tool.get(name) is not None:
                function[name] = tool[name]
        functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice in TOOL_CHOICES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = _text(choice.get("name"), "tool_choice.name")
        return {"type": "function", "function": {"name": name}}
    raise _fail("tool_choice", "expected auto, none, required or {type: function, name}.")


def _response_format(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, dict):
        raise _fail("text", "expected an object.")
    form = text.get("format")
    if form is None:
        return None
    kind = form.get("type") if isinstance(form, dict) else None
    if kind not in FORMATS:
        raise _fail("text.format.type", "expected text, json_object or json_schema.")
    if kind != "json_schema":
        return {"type": kind}
    if not isinstance(form.get("schema"), dict):
        raise _fail("text.format.schema", "expected a JSON schema object.")
    names = ("name", "schema", "strict", "description")
    schema = {name: form[name] for name in names if form.get(name) is not None}
    schema["name"] = _text(schema.get("name"), "text.format.name")
    return {"type": "json_schema", "json_schema": schema}


def _max_output_tokens(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _fail("max_output_tokens", "expected an integer of at least 1.")
    return value


def input_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's own input as items, as OpenAI lists them: a string is one user message
    with an `input_text` part; each item gets an id when it has none."""
    given = data.get("input")
    if isinstance(given, str):
        given = [{"role": "user", "content": [{"type": "input_text", "text": given}]}]
    items = []
    for item in given if isinstance(given, list) else []:
        item = dict(item)
        kind = item.setdefault("type", "message")
        if kind == "message" and isinstance(item.get("content"), str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": part, "text": item["content"]}]
        if not item.get("id") and kind in ITEM_ID_PREFIXES:
            item["id"] = new_id(ITEM_ID_PREFIXES[kind])
        items.append(item)
    return items


def chat_body(data: dict[str, Any], history: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The chat completion body of a Responses body continuing `history` (the stored items of
    `previous_response_id`); InvalidRequest naming the field for a malformed one."""
    if not isinstance(data.get("model"), str) or not data["model"]:
        raise _fail("model", "a model id is required.")
    given = data.get("input")
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    if not isinstance(given, list) or not (given or history):
        raise _fail("input", "expected a string or a non-empty list of input items.")
    body = {name: data[name] for name in PASSED_AS_IS if name in data}
    messages = _messages(history, "previous_response_id") + _messages(given, "input")
    if data.get("instructions") is not None:
        instructions = _text(data["instructions"], "instructions")
        messages.insert(0, {"role": "system", "content": instructions})
    if not messages:
        raise _fail("input", "the input has no message to answer.")
    body["messages"] = messages
    if data.get("tools"):
        body["tools"] = _tools(data["tools"])
        if data.get("tool_choice") is not None:
            body["tool_choice"] = _tool_choice(data["tool_choice"])
        if data.get("parallel_tool_calls") is not None:
            body["parallel_tool_calls"] = data["parallel_tool_calls"]
    if data.get("max_output_tokens") is not None:
        body["max_completion_tokens"] = _max_output_tokens(data["max_output_tokens"])
    reasoning = data.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise _fail("reasoning", "expected an object.")
    if reasoning and reasoning.get("effort") is not None:
        body["reasoning"] = {"effort": reasoning["effort"]}
    if data.get("text") is not None:
        response_format = _response_format(data["text"])
        if response_format is not None:
            body["response_format"] = response_format
        if data["text"].get("verbosity") is not None:
            body["verbosity"] = data["text"]["verbosity"]
    user = data.get("safety_identifier") or data.get("user")
    if user is not None:
        body["user"] = user
    if body.get("stream") is True:
        body["stream_options"] = {"include_usage": True}  # the door reports usage at the end
    return body

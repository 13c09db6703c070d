"""OpenAI chat request → Gemini `generateContent` request; pure."""

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.anthropic_request import (
    DATA_URL,
    DEFAULT_MAX_TOKENS,
    OPENING_TURN,
    arguments_object,
    max_tokens_of,
)
from channels.adapters.base import UnsupportedContent
from channels.adapters.reasoning import reasoning_of

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for the signature of a function call Gemini did not make."""
TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
AUDIO_TYPES = {"mp3": "audio/mp3", "wav": "audio/wav"}
GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "seed": "seed",
}
UNSUPPORTED_PART = "Content parts of type '{kind}' cannot be sent to this model's provider."

Part = dict[str, Any]
Turn = dict[str, Any]


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """The signature Gemini attached to a tool call, as Google's OpenAI layer carries it
    (`tool_calls[].extra_content.google.thought_signature`)."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def generate_content_payload(
    body: Mapping[str, Any], *, max_output_tokens: int | None
) -> dict[str, Any]:
    """The `generateContent` body for an OpenAI-format chat `body`."""
    system, contents = _conversation(body.get("messages") or [])
    payload: dict[str, Any] = {"contents": contents}
    if system:
        payload["systemInstruction"] = {"parts": system}
    config = _generation_config(body, max_output_tokens)
    if config:
        payload["generationConfig"] = config
    tools = [
        {
            "name": function["name"],
            **({"description": function["description"]} if function.get("description") else {}),
            **({"parameters": function["parameters"]} if function.get("parameters") else {}),
        }
        for tool in body.get("tools") or []
        if isinstance(function := tool.get("function"), dict)
    ]
    if tools:
        payload["tools"] = [{"functionDeclarations": tools}]
        mode = _tool_config(body.get("tool_choice"))
        if mode is not None:
            payload["toolConfig"] = {"functionCallingConfig": mode}
    return payload


def _tool_config(choice: object) -> dict[str, Any] | None:
    if isinstance(choice, str):
        return {"mode": TOOL_MODES.get(choice, "AUTO")}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"mode": "ANY", "allowedFunctionNames": [choice["function"].get("name")]}
    return None


def _generation_config(body: Mapping[str, Any], default_max: int | None) -> dict[str, Any]:
    config = {
        name: body[field]
        for field, name in GENERATION_FIELDS.items()
        if body.get(field) is not None
    }
    if config.get("topK", 1) < 1:  # vLLM's -1 ("off") is no value for Gemini
        del config["topK"]
    explicit = body.get("max_completion_tokens") or body.get("max_tokens")
    if explicit or default_max:
        config["maxOutputTokens"] = explicit or default_max
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    if isinstance(body.get("n"), int) and body["n"] > 1:
        config["candidateCount"] = body["n"]
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        config["responseMimeType"] = "application/json"
        schema = response_format.get("json_schema")
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            config["responseJsonSchema"] = schema["schema"]
    reasoning = reasoning_of(body)
    if reasoning is not None:
        if reasoning.enabled:
            budget = reasoning.budget(max_tokens_of(body, default_max or DEFAULT_MAX_TOKENS))
            config["thinkingConfig"] = {
                "thinkingBudget": budget,
                "includeThoughts": not reasoning.exclude,
            }
        else:
            config["thinkingConfig"] = {"thinkingBudget": 0}
    return config


def _conversation(messages: list[Any]) -> tuple[list[Part], list[Turn]]:
    """The system instruction's parts and the user/model turns, same-role turns merged."""
    system: list[Part] = []
    contents: list[Turn] = []
    names: dict[str, str] = {}  # tool_call_id → function name, for functionResponse
    for position, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_parts(message.get("content")))
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names))
        elif role in ("tool", "function"):
            _append(contents, "user", [_function_response(message, names)])
        else:
            param = f"messages[{position}]"
            _append(contents, "user", _user_parts(message.get("content"), param))
    contents = [turn for turn in contents if turn["parts"]]
    if not contents:  # only system messages: Gemini needs some content
        contents.append({"role": "user", "parts": [{"text": OPENING_TURN}]})
    return system, contents


def _append(contents: list[Turn], role: str, parts: list[Part]) -> None:
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": list(parts)})


def _text_parts(content: object) -> list[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        return [
            {"text": part["text"]}
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and part.get("text")
        ]
    return []


def _user_parts(content: object, param: str) -> list[Part]:
    if not isinstance(content, list):
        return _text_parts(content)
    parts: list[Part] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            parts.extend(_text_parts([part]))
        elif kind in ("image_url", "video_url"):
            media = part.get(kind)
            url = media.get("url") if isinstance(media, dict) else media
            parts.append(_media(url if isinstance(url, str) else "", kind[:5]))
        elif kind == "input_audio" and isinstance(audio := part.get("input_audio"), dict):
            mime = AUDIO_TYPES.get(str(audio.get("format")), f"audio/{audio.get('format')}")
            parts.append({"inlineData": {"mimeType": mime, "data": audio.get("data")}})
        elif kind == "file" and isinstance(file := part.get("file"), dict):
            parts.append(_media(str(file.get("file_data") or file.get("file_id") or ""), ""))
        else:
            raise UnsupportedContent(
                UNSUPPORTED_PART.format(kind=kind), param=f"{param}.content[{index}]"
            )
    return parts


def _media(url: str, kind: str) -> Part:
    """Inline data for a data URL, else a file reference with the MIME type its name suggests."""
    match = DATA_URL.match(url)
    if match:
        mime = match["mime"] or f"{kind or 'application'}/octet-stream"
        return {"inlineData": {"mimeType": mime, "data": match["data"]}}
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    fallback = {"image": "image/jpeg", "video": "video/mp4"}.get(kind, "application/pdf")
    return {"fileData": {"mimeType": guessed or fallback, "fileUri": url}}


def _model_parts(message: Mapping[str, Any], names: dict[str, str]) -> list[Part]:
    parts = _text_parts(message.get("content"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        if isinstance(call.get("id"), str):
            names[call["id"]] = name
        parts.append(
            {
                "functionCall": {"name": name, "args": arguments_object(function.get("arguments"))},
                "thoughtSignature": thought_signature(call) or SKIP_SIGNATURE,
            }
        )
    return parts


def _function_response(message: Mapping[str, Any], names: dict[str, str]) -> Part:
    """The tool's result for the call it answers; text that is not a JSON object is wrapped."""
    content = message.get("content")
    text = (
        content
        if isinstance(content, str)
        else " ".join(part["text"] for part in _text_parts(content))
    )
    try:
        parsed = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"content": text}
    call_id = message.get("tool_call_id")
    name = names.get(call_id, "") if isinstance(call_id, str) else ""
    name = name or str(message.get("name") or "")
    return {"functionResponse": {"name": name, "response": response}}

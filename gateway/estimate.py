"""Prompt tokens without a tokenizer: an estimate, and an upper bound.

The estimate (about four characters a token) bills a request whose upstream never reported usage
(a cut stream; such records say `usage_source = estimated`) and charges tpm limits. The bound is
what admission reserves for: no upstream bills more prompt tokens than it (see
`prompt_tokens_bound`), whatever the prompt's language, encoding or attachments.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from django.conf import settings

from channels.adapters.wire import tool_calls_chars
from core.usage import Usage
from gateway.errors import InvalidRequest

NESTED_TOO_DEEPLY = "Invalid value for 'tools': nested too deeply."

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
"""Role markers and separators the chat template wraps around every message."""


def _ceil_tokens(chars: int) -> int:
    return -(-max(chars, 0) // CHARS_PER_TOKEN)


def _content_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return 0
    chars = 0
    for part in content:
        if isinstance(part, Mapping):
            text = part.get("text")
            if isinstance(text, str):
                chars += len(text)
    return chars


def _input_tokens(value: object) -> int:
    """An embeddings `input`'s tokens: a text's characters ÷ 4 rounded up, a token array's
    length, a list of them the sum."""
    if isinstance(value, str):
        return _ceil_tokens(len(value))
    if not isinstance(value, list):
        return 0
    if all(isinstance(item, int) for item in value):
        return len(value)
    return sum(_input_tokens(item) for item in value)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of an OpenAI chat body: message text (string content, text parts,
    earlier tool calls) and tool definitions' JSON, ÷ 4 rounded up, + 4 per message; of an
    embeddings body (`input`, no `messages`), its input's tokens; ≥ 1 unless the body is
    empty."""
    if "input" in body and "messages" not in body:
        return max(_input_tokens(body["input"]), 1)
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    chars = 0
    for message in messages:
        if isinstance(message, Mapping):
            chars += _content_chars(message.get("content"))
            chars += tool_calls_chars(message.get("tool_calls"))
    tools = body.get("tools")
    if tools:
        try:
            chars += len(orjson.dumps(tools).decode())
        except orjson.JSONEncodeError:
            raise InvalidRequest(NESTED_TOO_DEEPLY, param="tools") from None
    tokens = _ceil_tokens(chars) + TOKENS_PER_MESSAGE * len(messages)
    return max(tokens, 1) if body else 0


REQUEST_OVERHEAD_TOKENS = 64
"""Once per request: the reply's opening markers, a start-of-text token and the preamble some
chat templates add (Llama 3.1's knowledge-date header is about 25 tokens)."""
MESSAGE_OVERHEAD_TOKENS = 16
"""Per message: role and turn markers (OpenAI 3 or 4 tokens, Llama 3 and Gemma 5) and the wrappers
some providers put around tool results."""
PART_OVERHEAD_TOKENS = 4
"""Per content part: separators, and the word-start marker a SentencePiece tokenizer may put
before each text segment (the one way it yields more tokens than a text has bytes)."""
TOOL_CALL_OVERHEAD_TOKENS = 16
"""Per tool call of an earlier assistant turn: its markers and id."""
TOOLS_OVERHEAD_TOKENS = 600
"""With tools: the tool-use instructions a provider adds; Anthropic publishes 346 tokens for its
current models and at most 530 (Claude 3 Opus)."""
JSON_FACTOR = 2
"""Structured JSON (tool definitions, `tool_choice`, `response_format`, tool-call names and
arguments) counts twice its compact bytes: chat templates render it again, indented (Llama 3.1's
`tojson(indent=4)` puts every value on its own line: up to two more tokens a value, and a value
takes at least two bytes compact), with spaces after separators, ASCII-escaped, or as XML-like
parameters."""
STRUCTURED_FIELDS = frozenset(
    {"tools", "functions", "tool_choice", "function_call", "response_format"}
)
"""Top-level fields counted at JSON_FACTOR times their compact bytes."""
AUDIO_BASE64_CHARS_PER_TOKEN = 16
"""Audio is billed by duration: at most 32 tokens a second (Gemini's published rate, the highest;
OpenAI's is about 10). 16 base64 characters are 12 bytes, so this bounds every recording of at
least 32 * 12 = 384 bytes a second — every MP3 (8 kbit/s = 1,000 bytes a second at the lowest)
and every PCM WAV (8-bit mono at 384 Hz or more), the two formats `input_audio` takes."""


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _json_bytes(value: object, body_bytes: int) -> int:
    """Bytes of `value` as compact JSON; the whole body's size for a value nested deeper than
    orjson serialises (a part of the body is never larger than the body)."""
    if isinstance(value, str):
        return _utf8_bytes(value) + 2
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return body_bytes


def _data_chars(value: object) -> int:
    """Characters of inline data (base64, or a data URL); 0 for a URL, an id or nothing."""
    if isinstance(value, Mapping):
        value = value.get("url")
    if isinstance(value, str) and value.startswith("data:"):
        return len(value)
    return 0


def _part_bound(part: object, body_bytes: int) -> int:
    """The most tokens one content part can be billed, from the providers' published costs:

    - text: its UTF-8 bytes.
    - image: GATEWAY_IMAGE_PART_TOKENS, whatever its bytes (providers bill pixels): OpenAI's
      tiles cost at most 85 + 8 * 170 = 1,445 (gpt-4o) and 2,833 + 8 * 5,667 = 48,169
      (gpt-4o-mini), its patches 1,536 * 2.46 = 3,779 at most; Anthropic about 1,600 (1.15
      megapixels / 750); Gemini 258 a 768-pixel tile, 1,120 at Gemini 3's high resolution.
    - audio: its base64 characters / AUDIO_BASE64_CHARS_PER_TOKEN.
    - file: its inline data's characters (a text file has no more tokens than bytes), at least
      GATEWAY_FILE_PART_TOKENS: a PDF page costs 258 to 560 tokens at Gemini, 1,500 to 3,000 of
      text plus its image at Anthropic, in a few kilobytes; a file sent by id has no size here.
    - video: its inline data's characters, at least GATEWAY_VIDEO_PART_TOKENS: Gemini bills about
      300 tokens a second (258 a frame at one frame a second, 32 of sound); a URL has no length.
    - any other part: its compact JSON bytes."""
    if not isinstance(part, Mapping):
        return _json_bytes(part, body_bytes)
    kind = part.get("type")
    if kind in ("text", "refusal"):
        text = part.get(kind)
        return _utf8_bytes(text) if isinstance(text, str) else _json_bytes(part, body_bytes)
    if kind == "image_url":
        return int(settings.GATEWAY_IMAGE_PART_TOKENS)
    if kind == "input_audio":
        audio = part.get("input_audio")
        data = audio.get("data") if isinstance(audio, Mapping) else None
        chars = len(data) if isinstance(data, str) else 0
        return -(-chars // AUDIO_BASE64_CHARS_PER_TOKEN)
    if kind == "file":
        file = part.get("file")
        file = file if isinstance(file, Mapping) else {}
        data, name = file.get("file_data"), file.get("filename")
        inline = len(data) if isinstance(data, str) else 0
        named = _utf8_bytes(name) if isinstance(name, str) else 0
        return max(int(settings.GATEWAY_FILE_PART_TOKENS), inline) + named
    if kind == "video_url":
        return max(int(settings.GATEWAY_VIDEO_PART_TOKENS), _data_chars(part.get("video_url")))
    return _json_bytes(part, body_bytes)


def _content_bound(content: object, body_bytes: int) -> int:
    if isinstance(content, str):
        return _utf8_bytes(content)
    if not isinstance(content, list):
        return _json_bytes(content, body_bytes)
    return sum(PART_OVERHEAD_TOKENS + _part_bound(part, body_bytes) for part in content)


def _tool_calls_bound(calls: object, body_bytes: int) -> int:
    if not isinstance(calls, list):
        return _json_bytes(calls, body_bytes)
    tokens = TOOL_CALL_OVERHEAD_TOKENS * len(calls)
    for call in calls:
        if not isinstance(call, Mapping):
            tokens += _json_bytes(call, body_bytes)
            continue
        for key, value in call.items():
            if key == "function":
                tokens += JSON_FACTOR * _json_bytes(value, body_bytes)
            elif key != "type":
                tokens += _json_bytes(value, body_bytes)  # the id, a thought signature
    return tokens


def _messages_bound(messages: object, body_bytes: int) -> int:
    if not isinstance(messages, list):
        return _json_bytes(messages, body_bytes)
    tokens = MESSAGE_OVERHEAD_TOKENS * len(messages)
    for message in messages:
        if not isinstance(message, Mapping):
            tokens += _json_bytes(message, body_bytes)
            continue
        for key, value in message.items():
            if key == "content":
                tokens += _content_bound(value, body_bytes)
            elif key == "tool_calls":
                tokens += _tool_calls_bound(value, body_bytes)
            elif key == "function_call":
                tokens += TOOL_CALL_OVERHEAD_TOKENS + JSON_FACTOR * _json_bytes(value, body_bytes)
            elif key != "role":  # the name, tool_call_id, refusal, thinking blocks, …
                tokens += _json_bytes(value, body_bytes)
    return tokens


def prompt_tokens_bound(body: Mapping[str, Any], *, body_bytes: int) -> int:
    """The most prompt tokens any upstream can bill for an OpenAI chat body, `body_bytes` long
    raw: what admission reserves for, so that no prompt can spend more than was held.

    No tokenizer (byte-level BPE, or SentencePiece with byte fallback) makes more tokens of a text
    than it has UTF-8 bytes, so text — message content and text parts, names, earlier tool
    calls, tool results — counts its bytes; structured JSON (`tools`, `tool_choice`,
    `response_format`, tool-call names and arguments) twice its compact bytes (JSON_FACTOR);
    images, audio, files and videos as `_part_bound` says (GATEWAY_IMAGE_PART_TOKENS,
    GATEWAY_FILE_PART_TOKENS, GATEWAY_VIDEO_PART_TOKENS); and every other field its compact JSON
    bytes, since an OpenAI-compatible server may render a field it knows into the prompt (vLLM's
    `documents`). Then the template's markers: REQUEST_OVERHEAD_TOKENS, MESSAGE_OVERHEAD_TOKENS
    a message, PART_OVERHEAD_TOKENS a part, TOOL_CALL_OVERHEAD_TOKENS a call and, with tools,
    TOOLS_OVERHEAD_TOKENS. One pass over the messages; ASCII strings are measured, not copied."""
    tokens = REQUEST_OVERHEAD_TOKENS
    for name, value in body.items():
        if name == "messages":
            tokens += _messages_bound(value, body_bytes)
        elif name in STRUCTURED_FIELDS:
            tokens += JSON_FACTOR * _json_bytes(value, body_bytes)
        else:
            tokens += _json_bytes(value, body_bytes)
    if body.get("tools") or body.get("functions"):
        tokens += TOOLS_OVERHEAD_TOKENS
    return tokens


def estimate_usage(*, prompt_tokens: int, completion_chars: int) -> Usage:
    """The usage to bill when the upstream reported none: the prompt estimate plus the generated
    characters ÷ 4 rounded up."""
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=_ceil_tokens(completion_chars))

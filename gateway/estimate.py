"""Token estimates when no tokenizer or upstream count is at hand: about four characters a token.

Used to reserve a request's worst-case cost before it runs, and to bill a request whose upstream
never reported usage (a cut stream); such records say `usage_source = estimated`.
"""

from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.base import Usage
from channels.adapters.wire import tool_calls_chars

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


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of an OpenAI chat body: message text (string content, text parts,
    earlier tool calls) and tool definitions' JSON, ÷ 4 rounded up, + 4 per message; ≥ 1 unless
    the body is empty."""
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    chars = 0
    for message in messages:
        if isinstance(message, Mapping):
            chars += _content_chars(message.get("content"))
            chars += tool_calls_chars(message.get("tool_calls"))
    tools = body.get("tools")
    if tools:
        chars += len(orjson.dumps(tools).decode())
    tokens = _ceil_tokens(chars) + TOKENS_PER_MESSAGE * len(messages)
    return max(tokens, 1) if body else 0


def estimate_usage(*, prompt_tokens: int, completion_chars: int) -> Usage:
    """The usage to bill when the upstream reported none: the prompt estimate plus the generated
    characters ÷ 4 rounded up."""
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=_ceil_tokens(completion_chars))

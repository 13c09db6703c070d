"""Which conversation a request belongs to, and how long its provider cache lives (pure).

A conversation is named by the first of: the body's `prompt_cache_key`, the
`X-Claude-Code-Session-Id` header, Anthropic's `metadata.user_id`, the Responses API's
`safety_identifier`, the chat `user` (the Responses and Messages doors translate theirs into it),
else a hash of the conversation's stable prefix: the leading system/developer messages, the
first message after them, and the tools, as the chat form the pipeline routes (so one
conversation hashes alike on every turn, whichever door it came through). The name is scoped by
the API key and the public model, and hashed: no identifier reaches a store in the clear.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.schemas import ChatRequest

SESSION_HEADER = "X-Claude-Code-Session-Id"
SHORT_LIFE = 300
"""Seconds a provider prompt cache lives by default (Anthropic's and OpenAI's 5 minutes)."""
LIVES = {"5m": SHORT_LIFE, "30m": 1800, "1h": 3600, "24h": 3600}
"""Cache lives a request can ask for: Anthropic `cache_control.ttl` ("5m", "1h"), OpenAI
`prompt_cache_options.ttl` ("30m") and `prompt_cache_retention` ("24h", kept for an hour: the
extended cache is not promised to stay longer than that on a quiet account)."""
LEADING_ROLES = frozenset({"system", "developer"})
DIGEST_CHARS = 32


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation of one key and model: its store key, what named it and its cache life."""

    key: str
    source: str
    """`prompt_cache_key`, `session_header`, `metadata_user_id`, `user` or `prefix_hash`."""
    life: int
    """Seconds the conversation's upstream cache lives after its last use."""


def conversation_of(
    chat: ChatRequest, headers: Mapping[str, str], *, key_id: int
) -> Conversation | None:
    """The request's conversation, or None when it has none (embeddings, no messages)."""
    if chat.operation != "chat":
        return None
    native = chat.native.body if chat.native is not None else {}
    source, value = _named(chat.body, native, headers)
    if not source:
        source, value = "prefix_hash", _prefix(chat.body)
        if not value:
            return None
    scoped = "\x00".join((str(key_id), chat.model, source, value))
    digest = hashlib.sha256(scoped.encode()).hexdigest()[:DIGEST_CHARS]
    return Conversation(key=digest, source=source, life=_life(chat.body, native))


def _named(
    body: Mapping[str, Any], native: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[str, str]:
    """The first identifier the client gave, as (source, value); ("", "") when none."""
    metadata = native.get("metadata")
    candidates = (
        ("prompt_cache_key", body.get("prompt_cache_key") or native.get("prompt_cache_key")),
        ("session_header", headers.get(SESSION_HEADER) or headers.get(SESSION_HEADER.lower())),
        ("metadata_user_id", metadata.get("user_id") if isinstance(metadata, dict) else None),
        ("user", native.get("safety_identifier") or native.get("user") or body.get("user")),
    )
    for source, value in candidates:
        if isinstance(value, str) and value:
            return source, value
    return "", ""


def _prefix(body: Mapping[str, Any]) -> str:
    """The conversation's stable prefix as canonical JSON; "" without messages."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ""
    leading = 0
    while leading < len(messages) and _role(messages[leading]) in LEADING_ROLES:
        leading += 1
    stable = {"messages": messages[: leading + 1], "tools": body.get("tools")}
    return json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _life(body: Mapping[str, Any], native: Mapping[str, Any]) -> int:
    """The longest cache life the request asks for, else the default 5 minutes."""
    asked = [body.get("prompt_cache_retention"), native.get("prompt_cache_retention")]
    for options in (body.get("prompt_cache_options"), native.get("prompt_cache_options")):
        if isinstance(options, dict):
            asked.append(options.get("ttl"))
    asked.extend(_cache_control_ttls(native or body))
    return max(
        (LIVES[ttl] for ttl in asked if isinstance(ttl, str) and ttl in LIVES), default=SHORT_LIFE
    )


def _cache_control_ttls(body: Mapping[str, Any]) -> Iterator[Any]:
    """The `cache_control.ttl` of every breakpoint where Anthropic (and OpenRouter's chat form)
    put them: system blocks, tools, messages and their content blocks — not deeper, so the cost
    is one look per block, however large the tool schemas or arguments."""
    blocks: list[Any] = []
    for name in ("system", "tools"):
        if isinstance(body.get(name), list):
            blocks.extend(body[name])
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        blocks.append(message)
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            blocks.extend(content)
    for block in blocks:
        control = block.get("cache_control") if isinstance(block, dict) else None
        if isinstance(control, dict):
            yield control.get("ttl")

"""OpenAI chat-completions wire format for the fake upstream: request planning, bodies, SSE events.

Everything here is pure and deterministic apart from the generated ids and ``created``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from bench.fake_upstream.faults import Fault

REPLY_WORDS = ("Hello", "from", "the", "fake", "upstream,", "this", "is", "deterministic.")
TOKENS_PER_MESSAGE = 3
TOOL_CALL_COMPLETION_TOKENS = 10
MAX_CHOICES = 128
SYSTEM_FINGERPRINT = "fp_fake_upstream"
MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "fake-model")
MODEL_CREATED = 1_700_000_000

THINKING_TEXT = "The user wants a short friendly answer, so I will greet them."
"""The reasoning every dialect returns when asked to think."""

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class RequestError(Exception):
    """A request the fake upstream rejects with a 400 OpenAI error envelope."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One generated function call; ``arguments`` is compact JSON text."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """Everything needed to render one completion, as a JSON body or as SSE events."""

    id: str
    created: int
    model: str
    pieces: tuple[tuple[str, ...], ...]
    tool_call: ToolCall | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    include_usage: bool
    send_usage: bool
    reasoning: str | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens written to the (5-minute) cache; part of ``prompt_tokens``."""
    cache_write_1h_tokens: int = 0
    """Prompt tokens written to the 1-hour cache; part of ``prompt_tokens``."""

    @property
    def reasoning_tokens(self) -> int:
        """Tokens of the reasoning text (one per word)."""
        return len(self.reasoning.split()) if self.reasoning else 0

    @property
    def cache_writes(self) -> int:
        """Every prompt token written to a cache (both lifetimes)."""
        return self.cache_write_tokens + self.cache_write_1h_tokens

    def usage(self) -> dict[str, Any]:
        """Return the OpenAI ``usage`` object for this completion; cache writes are reported as
        OpenRouter does (``prompt_tokens_details.cache_write_tokens``, inside ``prompt_tokens``)."""
        prompt_details: dict[str, Any] = {"cached_tokens": self.cached_tokens, "audio_tokens": 0}
        if self.cache_writes:
            prompt_details["cache_write_tokens"] = self.cache_writes
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens + self.reasoning_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens + self.reasoning_tokens,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def message_text(content: object) -> str:
    """Return the text of a message ``content`` (string, or the ``text`` parts joined by " ")."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def count_prompt_tokens(messages: list[Any], *, unit: str = "words") -> int:
    """Return ``3 * len(messages)`` plus the whitespace-separated words of all text content, or
    with ``unit="bytes"`` its UTF-8 bytes."""
    total = TOKENS_PER_MESSAGE * len(messages)
    for message in messages:
        if isinstance(message, dict):
            text = message_text(message.get("content"))
            total += (
                len(text.encode("utf-8", "surrogatepass")) if unit == "bytes" else len(text.split())
            )
    return total


def reply_words(words: int, choice: int = 0) -> list[str]:
    """Return the deterministic reply words: ``REPLY_WORDS`` cycled, rotated by the choice index."""
    size = len(REPLY_WORDS)
    return [REPLY_WORDS[(i + choice) % size] for i in range(words)]


def reply_text(words: int = 8, choice: int = 0) -> str:
    """Return the content the fake upstream sends for ``words`` words in choice ``choice``."""
    return " ".join(reply_words(words, choice))


def _sample_value(schema: object) -> object:
    if not isinstance(schema, dict):
        return "test"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    samples: dict[str, object] = {"integer": 1, "number": 1, "boolean": True, "array": []}
    return samples.get(str(schema.get("type")), {} if schema.get("type") == "object" else "test")


def tool_arguments(parameters: object) -> str:
    """Return compact JSON arguments: each ``required`` property with a sample ("test", 1, ...)."""
    if not isinstance(parameters, dict):
        return "{}"
    properties = parameters.get("properties")
    props = properties if isinstance(properties, dict) else {}
    required = parameters.get("required")
    names = (
        [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    )
    return str(dumps({name: _sample_value(props.get(name)) for name in names}))


def _function_tools(tools: object) -> dict[str, dict[str, Any]]:
    if not isinstance(tools, list):
        raise RequestError("'tools' must be an array", param="tools")
    functions: dict[str, dict[str, Any]] = {}
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            functions.setdefault(function["name"], function)
    return functions


def _chosen_name(choice: object, functions: dict[str, dict[str, Any]]) -> str | None:
    if not isinstance(choice, dict):
        return next(iter(functions), None)
    if choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if name not in functions:
            raise RequestError(f"tool_choice names unknown function {name!r}", param="tool_choice")
        return str(name)
    allowed = choice.get("allowed_tools")
    entries = allowed.get("tools") if isinstance(allowed, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        function = entry.get("function") if isinstance(entry, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if name in functions:
            return str(name)
    return None


def pick_tool_call(body: dict[str, Any]) -> ToolCall | None:
    """Return the call to make: first function tool, or the one ``tool_choice`` names; or None."""
    if not body.get("tools"):
        return None
    choice = body.get("tool_choice", "auto")
    if choice == "none":
        return None
    functions = _function_tools(body["tools"])
    name = _chosen_name(choice, functions)
    if name is None:
        return None
    return ToolCall(name=name, arguments=tool_arguments(functions[name].get("parameters")))


def _int_field(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(f"'{key}' must be an integer in {low}..{high}", param=key)
    return int(value)


def _word_limit(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            return _int_field(body, key, 0, 0, 10**9)
    return None


def _content_words(messages: list[Any], fault: Fault) -> list[str] | None:
    if not fault.echo:
        return None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return message_text(users[-1].get("content")).split() if users else []


def asks_reasoning(body: dict[str, Any]) -> bool:
    """Whether an OpenAI-style request asks for reasoning (`reasoning_effort`, or OpenRouter's
    `reasoning` object not switched off)."""
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        return effort != "none"
    asked = body.get("reasoning")
    if not isinstance(asked, dict) or not asked:
        return False
    return asked.get("enabled") is not False and asked.get("effort") != "none"


def ends_with_tool_result(messages: list[Any]) -> bool:
    """Whether the conversation's last message is an OpenAI tool result (``role: tool``)."""
    last = messages[-1] if messages else None
    return isinstance(last, dict) and last.get("role") == "tool"


def plan_chat(
    body: dict[str, Any], model: str, fault: Fault, *, after_tool_result: bool | None = None
) -> ChatPlan:
    """Validate a chat request and decide the full answer; raise RequestError on bad input.

    A conversation whose last message is a tool result (``after_tool_result``, read from the
    OpenAI messages when None) is answered with text, so that agent loops end; so is every
    request under the ``no_tools`` directive."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty array", param="messages")
    if after_tool_result is None:
        after_tool_result = ends_with_tool_result(messages)
    n = _int_field(body, "n", 1, 1, MAX_CHOICES)
    options = body.get("stream_options")
    include_usage = (
        body.get("stream") is True
        and isinstance(options, dict)
        and options.get("include_usage") is True
    )
    tool_call = pick_tool_call(body)
    if fault.no_tools or after_tool_result:
        tool_call = None
    prompt_tokens = count_prompt_tokens(messages, unit=fault.prompt_tokens)
    pieces: tuple[tuple[str, ...], ...]
    if tool_call is not None:
        middle = len(tool_call.arguments) // 2
        split = (tool_call.arguments[:middle], tool_call.arguments[middle:])
        pieces = (split,) * n
        finish_reason = "tool_calls"
        completion_tokens = TOOL_CALL_COMPLETION_TOKENS * n
    else:
        echo = _content_words(messages, fault)
        limit = _word_limit(body)
        count = len(echo) if echo is not None else fault.words
        finish_reason = "length" if limit is not None and limit < count else "stop"
        count = count if limit is None else min(count, limit)
        per_choice = [echo[:count] if echo is not None else reply_words(count, c) for c in range(n)]
        pieces = tuple(
            tuple(word if i == 0 else f" {word}" for i, word in enumerate(words))
            for words in per_choice
        )
        completion_tokens = count * n
    cached_tokens = min(fault.cached_tokens, prompt_tokens)
    writes_5m = min(fault.cache_write_tokens, prompt_tokens - cached_tokens)
    return ChatPlan(
        id=f"chatcmpl-{os.urandom(12).hex()}",
        created=int(time.time()),
        model=model,
        pieces=pieces,
        tool_call=tool_call,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        include_usage=include_usage,
        send_usage=not fault.no_usage,
        cached_tokens=cached_tokens,
        cache_write_tokens=writes_5m,
        cache_write_1h_tokens=min(
            fault.cache_write_1h_tokens, prompt_tokens - cached_tokens - writes_5m
        ),
        reasoning=THINKING_TEXT if asks_reasoning(body) else None,
    )


def call_id(plan: ChatPlan, choice: int) -> str:
    """Return the deterministic tool-call id of ``choice`` within this completion."""
    return f"call_{plan.id[9:33]}_{choice}"


def completion_body(plan: ChatPlan) -> bytes:
    """Render the non-streaming ``chat.completion`` object (``usage`` omitted if suppressed)."""
    choices = []
    for index, pieces in enumerate(plan.pieces):
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if plan.reasoning:
            message["reasoning"] = plan.reasoning  # vLLM's spelling
        if plan.tool_call is None:
            message["content"] = "".join(pieces)
        else:
            function = {"name": plan.tool_call.name, "arguments": plan.tool_call.arguments}
            call = {"id": call_id(plan, index), "type": "function", "function": function}
            message["tool_calls"] = [call]
        choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": plan.finish_reason,
            }
        )
    body: dict[str, Any] = {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
    }
    if plan.send_usage:
        body["usage"] = plan.usage()
    return dumps(body).encode()

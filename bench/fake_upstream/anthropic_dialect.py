"""Anthropic's Messages API for the fake upstream: `POST /v1/messages`.

The request is checked the way Anthropic checks it (version header, `max_tokens`, alternating
roles starting with `user`, every `tool_use` answered, the thinking budget), then planned like
an OpenAI request and rendered as a message or as the named SSE events, `ping` included.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from aiohttp import web

from bench.fake_upstream.dialects import Dialect, Target
from bench.fake_upstream.faults import Fault
from bench.fake_upstream.openai_dialect import (
    THINKING_TEXT,
    ChatPlan,
    RequestError,
    count_prompt_tokens,
    dumps,
    plan_chat,
)
from bench.fake_upstream.sse import STREAM_ERROR_MESSAGE, Event

VERSION_HEADER = "anthropic-version"
MIN_THINKING_BUDGET = 1024
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
STREAM_ERROR_EVENT = (
    "event: error\ndata: "
    + dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": STREAM_ERROR_MESSAGE}}
    )
    + "\n\n"
).encode()
MALFORMED_EVENT = b"event: content_block_delta\ndata: {not json\n\n"
SIGNATURE = "EqQBCkgIARABGAIiQFakeSignature"
MISSING_THINKING = (
    "messages.{position}.content.0.type: Expected `thinking` or `redacted_thinking`, but found"
    " `{found}`. When `thinking` is enabled, a final `assistant` message must start with a"
    " thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."
)
INVALID_SIGNATURE = "messages.{position}.content.{index}: Invalid `signature` in `thinking` block"
MODEL_IDS = ("claude-sonnet-4-5", "claude-haiku-4-5")


def _target(request: web.Request, body: dict[str, Any]) -> Target:
    if not request.headers.get(VERSION_HEADER):
        raise RequestError(f"{VERSION_HEADER}: header is required")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required", param="model")
    return Target(model, body.get("stream") is True)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    words = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "text":
            words.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") == "tool_result":
            words.append(_text_of(block.get("content")))
    return " ".join(words)


def _check_turns(messages: object) -> list[dict[str, Any]]:
    """Anthropic's conversation rules; RequestError naming the first broken one."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required", param="messages")
    pending: set[str] = set()
    for position, message in enumerate(messages):
        expected = "user" if position % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != expected:
            raise RequestError(
                f"messages.{position}: roles must alternate between user and assistant,"
                " starting with user",
                param="messages",
            )
        blocks = message.get("content")
        blocks = blocks if isinstance(blocks, list) else []
        answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if pending - answered:
            raise RequestError(
                f"messages.{position}: tool_use ids were found without tool_result blocks"
                f" immediately after: {', '.join(sorted(pending - answered))}",
                param="messages",
            )
        pending = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    return messages


def _ends_with_tool_result(messages: list[dict[str, Any]]) -> bool:
    content = messages[-1].get("content")
    blocks = content if isinstance(content, list) else []
    return any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _check_thinking(messages: list[dict[str, Any]]) -> None:
    """As Anthropic does with thinking on: every thinking block carries the text and signature
    it was issued with, and an assistant turn whose tool use is being continued starts with one."""
    for position, message in enumerate(messages):
        blocks = message.get("content")
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            if block.get("signature") != SIGNATURE or block.get("thinking") != THINKING_TEXT:
                raise RequestError(INVALID_SIGNATURE.format(position=position, index=index))
    if len(messages) < 2 or not _ends_with_tool_result(messages):
        return
    position = len(messages) - 2
    blocks = messages[position].get("content")
    first = blocks[0] if isinstance(blocks, list) and blocks else {"type": "text"}
    kind = first.get("type") if isinstance(first, dict) else "text"
    if kind not in ("thinking", "redacted_thinking"):
        raise RequestError(MISSING_THINKING.format(position=position, found=kind))


def _openai_view(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the OpenAI planner reads it."""
    system = body.get("system")
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for message in _check_turns(body.get("messages")):
        messages.append({"role": message["role"], "content": _text_of(message.get("content"))})
    view: dict[str, Any] = {"messages": messages, "max_tokens": body.get("max_tokens")}
    # Server tools (web search, code execution: no `input_schema`) run upstream: never called.
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "input_schema" in t]
    if tools:
        view["tools"] = [
            {"type": "function", "function": {"name": t["name"], "parameters": t["input_schema"]}}
            for t in tools
        ]
        choice = body.get("tool_choice") or {"type": "auto"}
        kind = choice.get("type")
        view["tool_choice"] = (
            {"type": "function", "function": {"name": choice.get("name")}}
            if kind == "tool"
            else "none"
            if kind == "none"
            else "auto"
        )
    return view


def _plan(body: dict[str, Any], model: str, fault: Fault, stream: bool) -> ChatPlan:
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError("max_tokens: Field required", param="max_tokens")
    thinking = body.get("thinking")
    reasoning = None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or not MIN_THINKING_BUDGET <= budget < max_tokens:
            raise RequestError(
                "thinking.budget_tokens: must be at least 1024 and less than max_tokens",
                param="thinking",
            )
        if "temperature" in body and body["temperature"] != 1:
            raise RequestError("temperature may only be set to 1 when thinking is enabled")
        reasoning = THINKING_TEXT
    elif isinstance(thinking, dict) and thinking.get("type") == "adaptive":
        reasoning = THINKING_TEXT
    view = _openai_view(body)
    if _thinking_on(body):
        _check_thinking(body["messages"])
    after_tool_result = _ends_with_tool_result(body["messages"])
    plan = plan_chat(view, model, fault, after_tool_result=after_tool_result)
    return replace(plan, reasoning=reasoning, id=f"msg_{os.urandom(12).hex()}")


def count_tokens(body: dict[str, Any], fault: Fault) -> int:
    """`POST /v1/messages/count_tokens`: the input tokens `/v1/messages` would report for the
    body (reads and writes included), counted as the dialect counts prompts."""
    view = _openai_view(body)
    return count_prompt_tokens(view["messages"], unit=fault.prompt_tokens)


def _usage(plan: ChatPlan, *, output_tokens: int) -> dict[str, Any]:
    """Anthropic usage: `input_tokens` excludes the cache reads and writes."""
    usage: dict[str, Any] = {
        "input_tokens": plan.prompt_tokens - plan.cached_tokens - plan.cache_writes,
        "cache_creation_input_tokens": plan.cache_writes,
        "cache_read_input_tokens": plan.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": plan.cache_write_tokens,
            "ephemeral_1h_input_tokens": plan.cache_write_1h_tokens,
        },
        "output_tokens": output_tokens,
    }
    if plan.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": plan.reasoning_tokens}
    return usage


def _output_tokens(plan: ChatPlan) -> int:
    return plan.completion_tokens + plan.reasoning_tokens


def _tool_id(plan: ChatPlan) -> str:
    return f"toolu_{plan.id[4:28]}"


def _message_body(plan: ChatPlan) -> bytes:
    content: list[dict[str, Any]] = []
    if plan.reasoning:
        content.append({"type": "thinking", "thinking": plan.reasoning, "signature": SIGNATURE})
    if plan.tool_call is not None:
        content.append(
            {
                "type": "tool_use",
                "id": _tool_id(plan),
                "name": plan.tool_call.name,
                "input": json.loads(plan.tool_call.arguments),
            }
        )
    else:
        content.append({"type": "text", "text": "".join(plan.pieces[0])})
    body: dict[str, Any] = {
        "id": plan.id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": STOP_REASONS[plan.finish_reason],
        "stop_sequence": None,
    }
    if plan.send_usage:
        body["usage"] = _usage(plan, output_tokens=_output_tokens(plan))
    return dumps(body).encode()


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {dumps({'type': kind, **data})}\n\n".encode()


def _events(plan: ChatPlan) -> list[Event]:
    """message_start, ping, [thinking], the text or tool_use block, message_delta, message_stop."""
    start: dict[str, Any] = {
        "id": plan.id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if plan.send_usage:
        start["usage"] = _usage(plan, output_tokens=1)
    events: list[Event] = [
        (False, _event("message_start", {"message": start})),
        (False, _event("ping", {})),
    ]
    index = 0
    if plan.reasoning:
        events += [
            (
                False,
                _event(
                    "content_block_start",
                    {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
                ),
            ),
            (
                False,
                _event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "thinking_delta", "thinking": plan.reasoning}},
                ),
            ),
            (
                False,
                _event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
                ),
            ),
            (False, _event("content_block_stop", {"index": 0})),
        ]
        index = 1
    if plan.tool_call is not None:
        block = {"type": "tool_use", "id": _tool_id(plan), "name": plan.tool_call.name, "input": {}}
        kind, field = "input_json_delta", "partial_json"
    else:
        block, kind, field = {"type": "text", "text": ""}, "text_delta", "text"
    events.append((False, _event("content_block_start", {"index": index, "content_block": block})))
    for step, piece in enumerate(plan.pieces[0]):
        delta = {"index": index, "delta": {"type": kind, field: piece}}
        events.append((step > 0, _event("content_block_delta", delta)))
    events.append((False, _event("content_block_stop", {"index": index})))
    delta = {"stop_reason": STOP_REASONS[plan.finish_reason], "stop_sequence": None}
    final: dict[str, Any] = {"delta": delta}
    if plan.send_usage:
        # Cumulative, as Anthropic sends it: the input figures again with the final output.
        final["usage"] = _usage(plan, output_tokens=_output_tokens(plan))
    events.append((False, _event("message_delta", final)))
    events.append((False, _event("message_stop", {})))
    return events


def _error(status: int, message: str, param: str | None, code: str | None) -> bytes:
    kind = ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return dumps({**body, "request_id": f"req_{os.urandom(8).hex()}"}).encode()


ANTHROPIC = Dialect(
    name="anthropic",
    key_of=lambda request: request.headers.get("x-api-key", ""),
    target=_target,
    plan=_plan,
    body=_message_body,
    events=_events,
    error=_error,
    done_event=b"",
    error_event=STREAM_ERROR_EVENT,
    malformed_event=MALFORMED_EVENT,
    model_list=dumps(
        {
            "data": [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
                for m in MODEL_IDS
            ],
            "has_more": False,
            "first_id": MODEL_IDS[0],
            "last_id": MODEL_IDS[-1],
        }
    ).encode(),
)

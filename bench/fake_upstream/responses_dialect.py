"""OpenAI's Responses API for the fake upstream: `POST /v1/responses` and
`POST /v1/responses/compact` (protocol.md §13).

The input items are read into the chat planner's view, so the same directives drive both: text,
function calls for function tools, reasoning, echo, word counts, cached tokens. On top of that:
built-in `web_search` tools answer a `web_search_call` item first; reasoning and compaction items
carry sealed `encrypted_content` that only the API key that got it can send back (else a 400, as
OpenAI answers content made for another organization); a `compaction_trigger` input item, or the
compact route, is answered with a `compaction` item.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from aiohttp import web

from bench.fake_upstream.dialects import OPENAI, Dialect, Target
from bench.fake_upstream.faults import Fault
from bench.fake_upstream.openai_dialect import ChatPlan, RequestError, message_text, plan_chat
from bench.fake_upstream.responses_events import (
    MALFORMED_EVENT,
    STREAM_ERROR_EVENT,
    ResponsesPlan,
    compaction_body,
    numbered_error,
    response_body,
    response_events,
)
from bench.fake_upstream.sealed import SealError, seal, unseal

ENCRYPTED_REASONING = "reasoning.encrypted_content"
UNVERIFIED = "The encrypted content for item {id} could not be verified."
UNVERIFIED_CODE = "invalid_encrypted_content"
SUMMARY_WORDS = 64
_TOOL_RESULTS = ("function_call_output", "custom_tool_call_output")
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


@dataclass(slots=True)
class _Conversation:
    """The input read for the planner: chat messages, and what the items ask besides."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    remembered: list[str] = field(default_factory=list)
    """User texts and read-back compactions, in order: what a compaction summarises."""
    ends_with_tool_result: bool = False
    compaction_trigger: bool = False


def _verified(kind: str, key: str, item: dict[str, Any]) -> str:
    try:
        return unseal(kind, key, item.get("encrypted_content"))
    except (SealError, ValueError):
        message = UNVERIFIED.format(id=item.get("id") or kind)
        raise RequestError(message, param="input", code=UNVERIFIED_CODE) from None


def _read_item(conversation: _Conversation, item: object, key: str) -> None:
    if not isinstance(item, dict):
        raise RequestError("Each 'input' item must be an object", param="input")
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise RequestError(f"Invalid input message role {item.get('role')!r}", param="input")
        text = message_text(item.get("content"))
        conversation.messages.append({"role": role, "content": text})
        if role == "user":
            conversation.remembered.append(text)
    elif kind == "function_call":
        conversation.messages.append({"role": "assistant", "content": ""})
    elif kind in _TOOL_RESULTS:
        output = item.get("output")
        text = output if isinstance(output, str) else message_text(output)
        conversation.messages.append({"role": "tool", "content": text})
    elif kind == "reasoning":
        if item.get("encrypted_content") is not None:
            _verified("reasoning", key, item)
    elif kind == "compaction":
        summary = _verified("compaction", key, item)
        conversation.messages.append({"role": "system", "content": summary})
        conversation.remembered.append(summary)
    elif kind == "compaction_trigger":
        conversation.compaction_trigger = True
        return
    conversation.ends_with_tool_result = kind in _TOOL_RESULTS


def _conversation(body: dict[str, Any], key: str) -> _Conversation:
    conversation = _Conversation()
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        conversation.messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise RequestError("'input' must be a non-empty string or array of items", param="input")
    for item in items:
        _read_item(conversation, item, key)
    if not conversation.messages:
        raise RequestError("'input' holds no message to answer", param="input")
    return conversation


def _function_tools(tools: object) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise RequestError("'tools' must be an array", param="tools")
    return [
        {"type": "function", "function": {"name": t["name"], "parameters": t.get("parameters")}}
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    ]


def _web_search(tools: object) -> bool:
    return isinstance(tools, list) and any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools
    )


def _chat_tool_choice(choice: object) -> object:
    """The Responses `tool_choice` in chat's spelling."""
    if not isinstance(choice, dict):
        return "auto" if choice is None else choice
    if choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("type") == "allowed_tools":
        tools = choice.get("tools")
        allowed = tools if isinstance(tools, list) else []
        names = [{"function": {"name": t.get("name")}} for t in allowed if isinstance(t, dict)]
        return {"allowed_tools": {"tools": names}}
    return "none"  # a built-in tool forced: no function call


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(
            "'max_output_tokens' must be a positive integer", param="max_output_tokens"
        )
    return int(value)


def _summary(conversation: _Conversation) -> str:
    words = " ".join(conversation.remembered).split()[:SUMMARY_WORDS]
    return "Earlier in this conversation: " + " ".join(words)


def _plan(
    body: dict[str, Any], model: str, fault: Fault, stream: bool, *, key: str, compact: bool
) -> ChatPlan:
    conversation = _conversation(body, key)
    tools = body.get("tools")
    view: dict[str, Any] = {
        "messages": conversation.messages,
        "tools": _function_tools(tools),
        "tool_choice": _chat_tool_choice(body.get("tool_choice")),
        "max_tokens": _max_output_tokens(body),
        "reasoning": body.get("reasoning"),
    }
    after_tool_result = conversation.ends_with_tool_result
    chat = plan_chat(view, model, fault, after_tool_result=after_tool_result)
    chat = replace(chat, id=f"resp_{chat.id[9:]}")
    reasoning = body.get("reasoning")
    include = body.get("include")
    if compact or conversation.compaction_trigger:
        summary = _summary(conversation)
        chat = replace(
            chat,
            pieces=((),),
            tool_call=None,
            finish_reason="stop",
            reasoning=None,
            completion_tokens=len(summary.split()),
        )
        return ResponsesPlan(
            **_fields(chat), request=body, compaction=seal("compaction", key, summary)
        )
    searches = (
        _web_search(tools)
        and not fault.no_tools
        and not after_tool_result
        and body.get("tool_choice") != "none"
    )
    users = [m["content"] for m in conversation.messages if m["role"] == "user"]
    return ResponsesPlan(
        **_fields(chat),
        request=body,
        summarize=chat.reasoning is not None
        and isinstance(reasoning, dict)
        and reasoning.get("summary") is not None,
        encrypted_reasoning=(
            seal("reasoning", key, chat.reasoning)
            if chat.reasoning and isinstance(include, list) and ENCRYPTED_REASONING in include
            else None
        ),
        web_search_query=(users[-1] if users else "") if searches else None,
    )


def _fields(plan: ChatPlan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in ChatPlan.__dataclass_fields__}


def _compact_target(request: web.Request, body: dict[str, Any]) -> Target:
    return Target(OPENAI.target(request, body).model, stream=False)


RESPONSES = replace(
    OPENAI,
    name="openai-responses",
    body=response_body,
    events=response_events,
    done_event=b"",
    error_event=STREAM_ERROR_EVENT,
    malformed_event=MALFORMED_EVENT,
    numbered_error=numbered_error,
)


def responses_dialect(request: web.Request, *, compact: bool = False) -> Dialect:
    """The Responses dialect for one request: its sealed content is bound to the request's key."""
    plan = partial(_plan, key=OPENAI.key_of(request), compact=compact)
    if compact:
        return replace(RESPONSES, plan=plan, target=_compact_target, body=compaction_body)
    return replace(RESPONSES, plan=plan)

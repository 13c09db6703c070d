"""Google Gemini for the fake upstream: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`.

Like Gemini 3, it rejects model turns whose `functionCall` parts lack a `thoughtSignature`, and
its stream has no terminator: the last event carries `finishReason` and the full usage.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from bench.fake_upstream.dialects import Dialect, Target
from bench.fake_upstream.faults import Fault
from bench.fake_upstream.openai_dialect import (
    THINKING_TEXT,
    ChatPlan,
    RequestError,
    ToolCall,
    dumps,
    plan_chat,
)
from bench.fake_upstream.sse import STREAM_ERROR_MESSAGE, Event

GENERATE = "generateContent"
STREAM = "streamGenerateContent"
SIGNATURE = "CiQBFakeThoughtSignature"
MODEL_IDS = ("gemini-2.5-flash", "gemini-2.5-pro")
MISSING_SIGNATURE = (
    "Function call is missing a thought_signature in functionCall parts. This is required for"
    " tools to work correctly."
)
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
_END = "\r\n\r\n"
STREAM_ERROR_EVENT = (
    "data: "
    + dumps({"error": {"code": 500, "message": STREAM_ERROR_MESSAGE, "status": "INTERNAL"}})
    + _END
).encode()
MALFORMED_EVENT = f"data: {{not json{_END}".encode()


def _key(request: web.Request) -> str:
    return request.headers.get("x-goog-api-key") or request.query.get("key", "")


def _target(request: web.Request, body: dict[str, Any]) -> Target:
    model, _, method = request.match_info["model_method"].rpartition(":")
    if method not in (GENERATE, STREAM) or not model:
        raise RequestError(f"Unknown method {method!r}: use {GENERATE} or {STREAM}")
    stream = method == STREAM
    if stream and request.query.get("alt") != "sse":
        raise RequestError("this fake upstream streams only with alt=sse")
    return Target(model, stream)


def _text_of(parts: object) -> str:
    words = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            words.append(part["text"])
        elif isinstance(part, dict) and isinstance(part.get("functionResponse"), dict):
            words.append(dumps(part["functionResponse"].get("response")))
    return " ".join(words)


def _check_parts(content: dict[str, Any], position: int) -> None:
    for part in content.get("parts") or []:
        if "functionCall" in part and not part.get("thoughtSignature"):
            raise RequestError(MISSING_SIGNATURE, param=f"contents[{position}].parts")


def _openai_view(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the OpenAI planner reads it."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("contents is not specified", param="contents")
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        messages.append({"role": "system", "content": _text_of(system.get("parts"))})
    for position, content in enumerate(contents):
        role = content.get("role") if isinstance(content, dict) else None
        if role not in ("user", "model"):
            raise RequestError(
                f"Please use a valid role: user, model (contents[{position}])", param="contents"
            )
        _check_parts(content, position)
        messages.append(
            {
                "role": "assistant" if role == "model" else "user",
                "content": _text_of(content.get("parts")),
            }
        )
    config = body.get("generationConfig") or {}
    view: dict[str, Any] = {
        "messages": messages,
        "max_tokens": config.get("maxOutputTokens"),
        "n": config.get("candidateCount"),
    }
    declarations = [
        declaration
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    ]
    if declarations:
        view["tools"] = [
            {"type": "function", "function": {"name": d["name"], "parameters": d.get("parameters")}}
            for d in declarations
        ]
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        allowed = calling.get("allowedFunctionNames") or []
        view["tool_choice"] = (
            "none"
            if calling.get("mode") == "NONE"
            else {"type": "function", "function": {"name": allowed[0]}}
            if allowed
            else "auto"
        )
    return view


def _plan(body: dict[str, Any], model: str, fault: Fault, stream: bool) -> ChatPlan:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    shows_thoughts = thinking.get("includeThoughts") is True and thinking.get("thinkingBudget") != 0
    view = _openai_view(body)
    plan = plan_chat(view, model, fault, after_tool_result=_ends_with_function_response(body))
    return replace(plan, reasoning=THINKING_TEXT if shows_thoughts else None)


def _ends_with_function_response(body: dict[str, Any]) -> bool:
    last = body["contents"][-1]
    parts = last.get("parts") if isinstance(last, dict) else None
    return any(isinstance(p, dict) and "functionResponse" in p for p in parts or [])


def _usage(plan: ChatPlan) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": plan.prompt_tokens,
        "candidatesTokenCount": plan.completion_tokens,
        "totalTokenCount": plan.prompt_tokens + plan.completion_tokens + plan.reasoning_tokens,
    }
    if plan.reasoning_tokens:
        usage["thoughtsTokenCount"] = plan.reasoning_tokens
    if plan.cached_tokens:
        usage["cachedContentTokenCount"] = plan.cached_tokens
    return usage


def _call_part(call_plan: ToolCall) -> dict[str, Any]:
    call = {"name": call_plan.name, "args": json.loads(call_plan.arguments)}
    return {"functionCall": call, "thoughtSignature": SIGNATURE}


def _response(plan: ChatPlan, candidates: list[dict[str, Any]], *, final: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": candidates,
        "modelVersion": plan.model,
        "responseId": plan.id,
    }
    if plan.send_usage:
        body["usageMetadata"] = _usage(plan) if final else {"promptTokenCount": plan.prompt_tokens}
    return body


def _candidate(index: int, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish is not None:
        candidate["finishReason"] = finish
    return candidate


def _generate_body(plan: ChatPlan) -> bytes:
    candidates = []
    for index, pieces in enumerate(plan.pieces):
        parts: list[dict[str, Any]] = []
        if plan.reasoning:
            parts.append({"text": plan.reasoning, "thought": True})
        if plan.tool_call is not None:
            parts.append(_call_part(plan.tool_call))
        else:
            parts.append({"text": "".join(pieces)})
        candidates.append(_candidate(index, parts, FINISH_REASONS[plan.finish_reason]))
    return dumps(_response(plan, candidates, final=True)).encode()


def _data(body: dict[str, Any]) -> bytes:
    return f"data: {dumps(body)}{_END}".encode()


def _events(plan: ChatPlan) -> list[Event]:
    """A thought event, then one event per content step (the whole call for a tool call), each
    with every candidate's part; the last carries `finishReason` and the full usage."""
    count = len(plan.pieces)
    steps: list[list[list[dict[str, Any]]]] = []  # step → candidate → parts
    if plan.reasoning:
        steps.append([[{"text": plan.reasoning, "thought": True}]] * count)
    if plan.tool_call is not None:
        steps.append([[_call_part(plan.tool_call)]] * count)
    else:
        longest = max(len(pieces) for pieces in plan.pieces)
        steps.extend(
            [[{"text": pieces[step]}] if step < len(pieces) else [] for pieces in plan.pieces]
            for step in range(longest)
        )
    events: list[Event] = []
    for step, parts in enumerate(steps):
        final = step == len(steps) - 1
        finish = FINISH_REASONS[plan.finish_reason] if final else None
        candidates = [_candidate(i, parts[i], finish) for i in range(count)]
        events.append((step > 0, _data(_response(plan, candidates, final=final))))
    return events


def _error(status: int, message: str, param: str | None, code: str | None) -> bytes:
    name = STATUSES.get(status, "INVALID_ARGUMENT" if status < 500 else "UNKNOWN")
    return dumps({"error": {"code": status, "message": message, "status": name}}).encode()


GEMINI = Dialect(
    name="gemini",
    key_of=_key,
    target=_target,
    plan=_plan,
    body=_generate_body,
    events=_events,
    error=_error,
    done_event=b"",
    error_event=STREAM_ERROR_EVENT,
    malformed_event=MALFORMED_EVENT,
    model_list=dumps(
        {
            "models": [
                {
                    "name": f"models/{m}",
                    "displayName": m,
                    "supportedGenerationMethods": [GENERATE, STREAM],
                }
                for m in MODEL_IDS
            ]
        }
    ).encode(),
)

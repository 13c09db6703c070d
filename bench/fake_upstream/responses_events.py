"""A planned Responses answer rendered: the `response` object, the compaction object, and the
numbered SSE events of a stream (protocol.md §13)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.fake_upstream.openai_dialect import ChatPlan, dumps
from bench.fake_upstream.sse import STREAM_ERROR_MESSAGE, Event

MALFORMED_EVENT = b"event: response.output_text.delta\ndata: {not json\n\n"
_ERROR = {"type": "error", "code": "server_error", "message": STREAM_ERROR_MESSAGE, "param": None}


@dataclass(frozen=True, slots=True)
class ResponsesPlan(ChatPlan):
    """A chat plan with what only the Responses API answers."""

    request: dict[str, Any] = field(default_factory=dict)
    """The request body, whose settings the response object repeats."""
    summarize: bool = False
    """Whether the reasoning item carries its summary (`reasoning.summary` was asked)."""
    encrypted_reasoning: str | None = None
    web_search_query: str | None = None
    """The query of the `web_search_call` the answer starts with, if any."""
    compaction: str | None = None
    """The sealed content of the `compaction` item that is the whole answer, if any."""


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {dumps(data)}\n\n".encode()


def numbered_error(position: int) -> bytes:
    """The mid-stream `error` event, numbered as the `position`-th event."""
    return _event({**_ERROR, "sequence_number": position})


STREAM_ERROR_EVENT = numbered_error(0)


def _suffix(plan: ChatPlan) -> str:
    return plan.id.removeprefix("resp_")


def _usage(plan: ChatPlan) -> dict[str, Any]:
    output = plan.completion_tokens + plan.reasoning_tokens
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": plan.cached_tokens,
            "cache_write_tokens": plan.cache_writes,
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.prompt_tokens + output,
    }


def _items(plan: ResponsesPlan) -> list[dict[str, Any]]:
    """The output items, complete."""
    suffix = _suffix(plan)
    if plan.compaction is not None:
        return [{"type": "compaction", "id": f"cmp_{suffix}", "encrypted_content": plan.compaction}]
    items: list[dict[str, Any]] = []
    if plan.reasoning:
        summary = [{"type": "summary_text", "text": plan.reasoning}] if plan.summarize else []
        reasoning = {"type": "reasoning", "id": f"rs_{suffix}", "summary": summary}
        if plan.encrypted_reasoning is not None:
            reasoning["encrypted_content"] = plan.encrypted_reasoning
        items.append(reasoning)
    if plan.web_search_query is not None:
        action = {"type": "search", "query": plan.web_search_query, "sources": []}
        items.append(
            {
                "type": "web_search_call",
                "id": f"ws_{suffix}",
                "status": "completed",
                "action": action,
            }
        )
    status = "incomplete" if plan.finish_reason == "length" else "completed"
    if plan.tool_call is not None:
        call = plan.tool_call
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{suffix}",
                "call_id": f"call_{suffix}",
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
        )
    else:
        text = {"type": "output_text", "text": "".join(plan.pieces[0]), "annotations": []}
        items.append(
            {
                "type": "message",
                "id": f"msg_{suffix}",
                "role": "assistant",
                "status": status,
                "content": [{**text, "logprobs": []}],
            }
        )
    return items


def _response(plan: ResponsesPlan, *, done: bool) -> dict[str, Any]:
    """The response object: in progress and empty, or done with its output and usage."""
    body = plan.request
    incomplete = done and plan.finish_reason == "length"
    status = "incomplete" if incomplete else "completed" if done else "in_progress"
    asked = body.get("reasoning")
    reasoning = asked if isinstance(asked, dict) else {}
    return {
        "id": plan.id,
        "object": "response",
        "created_at": plan.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": plan.model,
        "output": _items(plan) if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": _usage(plan) if done and plan.send_usage else None,
        "user": body.get("user"),
    }


def _responses_plan(plan: ChatPlan) -> ResponsesPlan:
    if not isinstance(plan, ResponsesPlan):
        raise TypeError("the Responses dialect renders ResponsesPlan only")
    return plan


def response_body(plan: ChatPlan) -> bytes:
    """Render the non-streaming `response` object."""
    return dumps(_response(_responses_plan(plan), done=True)).encode()


def compaction_body(plan: ChatPlan) -> bytes:
    """Render the `response.compaction` object of `POST /v1/responses/compact`."""
    compaction = _responses_plan(plan)
    body = {
        "id": compaction.id,
        "object": "response.compaction",
        "created_at": compaction.created,
        "output": _items(compaction),
        "usage": _usage(compaction),
    }
    return dumps(body).encode()


class _Numbered:
    """Collects events, numbering each with `sequence_number`."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: str, paced: bool = False, **data: Any) -> None:
        self.events.append(
            (paced, _event({"type": kind, "sequence_number": len(self.events), **data}))
        )


def _item_events(out: _Numbered, plan: ResponsesPlan, index: int, item: dict[str, Any]) -> None:
    kind, where = item["type"], {"item_id": item["id"], "output_index": index}
    if kind == "message":
        added = {**item, "status": "in_progress", "content": []}
    elif kind == "reasoning":
        added = {**item, "summary": []}
    elif kind in ("function_call", "web_search_call"):
        added = {**item, "status": "in_progress"}
        if kind == "function_call":
            added["arguments"] = ""
    else:
        added = item
    out.add("response.output_item.added", output_index=index, item=added)
    if kind == "message":
        part = item["content"][0]
        out.add("response.content_part.added", **where, content_index=0, part={**part, "text": ""})
        for step, piece in enumerate(plan.pieces[0]):
            out.add(
                "response.output_text.delta",
                step > 0,
                **where,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        out.add(
            "response.output_text.done", **where, content_index=0, text=part["text"], logprobs=[]
        )
        out.add("response.content_part.done", **where, content_index=0, part=part)
    elif kind == "function_call":
        for step, piece in enumerate(plan.pieces[0]):
            out.add("response.function_call_arguments.delta", step > 0, **where, delta=piece)
        out.add("response.function_call_arguments.done", **where, arguments=item["arguments"])
    elif kind == "reasoning":
        for summary_index, part in enumerate(item["summary"]):
            at = {**where, "summary_index": summary_index}
            out.add("response.reasoning_summary_part.added", **at, part={**part, "text": ""})
            out.add("response.reasoning_summary_text.delta", **at, delta=part["text"])
            out.add("response.reasoning_summary_text.done", **at, text=part["text"])
            out.add("response.reasoning_summary_part.done", **at, part=part)
    elif kind == "web_search_call":
        for stage in ("in_progress", "searching", "completed"):
            out.add(f"response.web_search_call.{stage}", **where)
    out.add("response.output_item.done", output_index=index, item=item)


def response_events(plan: ChatPlan) -> list[Event]:
    """Render the stream: created, in_progress, each item's events, then completed/incomplete."""
    responses_plan = _responses_plan(plan)
    out = _Numbered()
    out.add("response.created", response=_response(responses_plan, done=False))
    out.add("response.in_progress", response=_response(responses_plan, done=False))
    for index, item in enumerate(_items(responses_plan)):
        _item_events(out, responses_plan, index, item)
    final = _response(responses_plan, done=True)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    out.add(kind, response=final)
    return out.events

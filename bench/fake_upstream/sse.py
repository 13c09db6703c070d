"""Server-sent events for the fake upstream: a ChatPlan rendered as OpenAI stream chunks (§3)."""

from __future__ import annotations

from functools import lru_cache

from bench.fake_upstream.openai_dialect import SYSTEM_FINGERPRINT, ChatPlan, call_id, dumps

DONE_EVENT = b"data: [DONE]\n\n"
MALFORMED_EVENT = b"data: {not json\n\n"
STREAM_ERROR_MESSAGE = "Fake upstream injected mid-stream error"
STREAM_ERROR_EVENT = (
    'data: {"error":{"message":"'
    + STREAM_ERROR_MESSAGE
    + '","type":"server_error","param":null,"code":"fake_stream_error"}}\n\n'
).encode()

# (paced, bytes): ``paced`` marks the first event of every content step but the first,
# i.e. where ``chunk_delay_ms`` is waited before writing.
Event = tuple[bool, bytes]


@lru_cache(maxsize=4096)
def _content_delta(piece: str) -> str:
    return f'{{"content":{dumps(piece)}}}'


def _arguments_delta(piece: str) -> str:
    return f'{{"tool_calls":[{{"index":0,"function":{{"arguments":{dumps(piece)}}}}}]}}'


def _role_delta(plan: ChatPlan, choice: int) -> str:
    if plan.tool_call is None:
        return '{"role":"assistant","content":""}'
    call = {
        "index": 0,
        "id": call_id(plan, choice),
        "type": "function",
        "function": {"name": plan.tool_call.name, "arguments": ""},
    }
    return f'{{"role":"assistant","content":null,"tool_calls":[{dumps(call)}]}}'


def stream_events(plan: ChatPlan) -> list[Event]:
    """Render the SSE data events of §3 in order (role, content steps, finish, usage), no [DONE]."""
    head = (
        f'data: {{"id":"{plan.id}","object":"chat.completion.chunk","created":{plan.created},'
        f'"model":{dumps(plan.model)},"system_fingerprint":"{SYSTEM_FINGERPRINT}","choices":['
    )
    tail = '],"usage":null}\n\n' if plan.include_usage else "]}\n\n"

    def event(index: int, delta: str, finish: str = "null") -> bytes:
        choice = f'{{"index":{index},"delta":{delta},"logprobs":null,"finish_reason":{finish}}}'
        return f"{head}{choice}{tail}".encode()

    events: list[Event] = [(False, event(i, _role_delta(plan, i))) for i in range(len(plan.pieces))]
    if plan.reasoning:
        reasoning = f'{{"reasoning":{dumps(plan.reasoning)}}}'  # vLLM's spelling
        events.extend((False, event(i, reasoning)) for i in range(len(plan.pieces)))
    render = _content_delta if plan.tool_call is None else _arguments_delta
    steps = max((len(pieces) for pieces in plan.pieces), default=0)
    for step in range(steps):
        paced = step > 0
        for index, pieces in enumerate(plan.pieces):
            if step < len(pieces):
                events.append((paced, event(index, render(pieces[step]))))
                paced = False
    finish = f'"{plan.finish_reason}"'
    events.extend((False, event(i, "{}", finish)) for i in range(len(plan.pieces)))
    if plan.include_usage and plan.send_usage:
        usage = f'{head}],"usage":{dumps(plan.usage())}}}\n\n'
        events.append((False, usage.encode()))
    return events

"""The fake upstream's Responses API (`/v1/responses`, `/v1/responses/compact`) through the real
`openai` SDK: text, streams with every event numbered, function calls, reasoning whose encrypted
content only the key that got it can send back, compaction, web search, faults, the record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai
import pytest
from openai.types.responses import ResponseInputParam, ToolParam

from bench.fake_upstream import FakeUpstream, fault_model, reply_text, running_fake_upstream
from bench.fake_upstream.openai_dialect import THINKING_TEXT

KEY = "sk-fake-responses-a"
OTHER_KEY = "sk-fake-responses-b"
# 3 tokens per message + words: instructions (2 words), then the user's 4 words.
INSTRUCTIONS = "Be brief."
QUESTION = "What is the weather"
PROMPT_TOKENS = 3 + 2 + 3 + 4
WEATHER = cast(
    "ToolParam",
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "strict": False,
    },
)
REASONING: Any = {"effort": "low", "summary": "auto"}
ENCRYPTED = cast("Any", ["reasoning.encrypted_content"])


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    # Any key is accepted, so that two keys (two accounts) can talk to the same upstream.
    with running_fake_upstream() as up:
        yield up


def sdk(upstream: FakeUpstream, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=upstream.base_url, max_retries=0)


@pytest.fixture
def client(upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    with sdk(upstream) as api:
        yield api


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def items(*entries: Any) -> ResponseInputParam:
    return cast("ResponseInputParam", list(entries))


def test_text_answer_with_usage_and_the_request_recorded(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    response = client.responses.create(
        model="gpt-4o-mini", instructions=INSTRUCTIONS, input=QUESTION
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == reply_text()
    message = response.output[0]
    assert message.type == "message"
    assert message.id.startswith("msg_")
    assert response.usage is not None
    assert response.usage.input_tokens == PROMPT_TOKENS
    assert response.usage.output_tokens == 8
    assert response.usage.total_tokens == PROMPT_TOKENS + 8
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    record = upstream.requests[-1]
    assert (record["method"], record["path"], record["outcome"]) == ("POST", "/v1/responses", "ok")
    assert record["body"]["input"] == QUESTION
    assert record["headers"]["authorization"] == f"Bearer {KEY}"


def test_stream_numbers_every_event_and_the_final_response_matches(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4o-mini", input=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [event.sequence_number for event in events] == list(range(len(events)))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) == 8
    assert "".join(deltas) == final.output_text == reply_text()
    assert final.usage is not None
    assert final.usage.output_tokens == 8


def test_function_tool_is_called_and_its_result_is_answered_with_text(
    client: openai.OpenAI,
) -> None:
    with client.responses.stream(model="gpt-4o-mini", input=QUESTION, tools=[WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "test"})
    assert call.id is not None
    assert call.id.startswith("fc_")
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds

    answer = client.responses.create(
        model="gpt-4o-mini",
        tools=[WEATHER],
        input=items(
            user(QUESTION),
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ),
    )
    assert answer.output_text == reply_text()


def test_reasoning_summary_streams_and_encrypted_content_goes_back_to_its_key_only(
    upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    with client.responses.stream(
        model="o4-mini", input=QUESTION, reasoning=REASONING, include=ENCRYPTED
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    for kind in (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ):
        assert kind in kinds
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == [THINKING_TEXT]
    assert reasoning.encrypted_content
    assert KEY not in reasoning.encrypted_content
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens == len(THINKING_TEXT.split())
    assert final.output_text == reply_text()

    history = items(user(QUESTION), reasoning.model_dump(exclude_none=True), user("And tomorrow"))
    again = client.responses.create(model="o4-mini", input=history, include=ENCRYPTED)
    assert again.output_text == reply_text()

    with sdk(upstream, OTHER_KEY) as other, pytest.raises(openai.BadRequestError) as refused:
        other.responses.create(model="o4-mini", input=history, include=ENCRYPTED)
    assert refused.value.code == "invalid_encrypted_content"
    assert f"The encrypted content for item {reasoning.id} could not be verified" in str(
        refused.value
    )


def test_no_encrypted_content_unless_included(client: openai.OpenAI) -> None:
    response = client.responses.create(model="o4-mini", input=QUESTION, reasoning=REASONING)
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content is None


def test_max_output_tokens_makes_the_response_incomplete(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model=fault_model("gpt-4o-mini", words=40), input=QUESTION, max_output_tokens=16
    ) as stream:
        events = list(stream)
    # The SDK's get_final_response() waits for response.completed only: read the last event.
    last = events[-1]
    assert last.type == "response.incomplete"
    final = last.response
    assert final.status == "incomplete"
    assert final.incomplete_details is not None
    assert final.incomplete_details.reason == "max_output_tokens"
    assert len(final.output_text.split()) == 16


def test_cached_tokens_directive(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=fault_model("gpt-4o-mini", cached_tokens=4), input=QUESTION
    )
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 4


def test_echo_directive_answers_the_last_user_text(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=fault_model("gpt-4o-mini", echo=True), input=items(user("first"), user("say hi"))
    )
    assert response.output_text == "say hi"


def test_compact_route_and_its_compaction_item_read_back_by_its_key_only(
    upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    compacted = client.responses.compact(
        model="gpt-4o-mini", input=items(user("Remember the number forty two"))
    )
    assert compacted.object == "response.compaction"
    (item,) = compacted.output
    assert item.type == "compaction"
    assert item.encrypted_content
    assert compacted.usage.input_tokens == 3 + 5
    assert upstream.requests[-1]["path"] == "/v1/responses/compact"

    later = items(item.model_dump(exclude_none=True), user("And now"))
    answer = client.responses.create(model="gpt-4o-mini", input=later)
    assert answer.output_text == reply_text()
    assert answer.usage is not None
    # The summary is read back: its words count as input (more than the two words asked now).
    assert answer.usage.input_tokens > 3 + 3 + 2
    with sdk(upstream, OTHER_KEY) as other, pytest.raises(openai.BadRequestError) as refused:
        other.responses.create(model="gpt-4o-mini", input=later)
    assert refused.value.code == "invalid_encrypted_content"


def test_compaction_trigger_item_is_answered_with_a_compaction_item(
    client: openai.OpenAI,
) -> None:
    with client.responses.stream(
        model="gpt-4o-mini", input=items(user(QUESTION), {"type": "compaction_trigger"})
    ) as stream:
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["compaction"]


def test_web_search_tool_answers_a_search_call_then_the_text(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o-mini", input=QUESTION, tools=[{"type": "web_search"}]
    )
    search, message = response.output
    assert search.type == "web_search_call"
    assert search.status == "completed"
    assert search.action.type == "search"
    assert search.action.query == QUESTION
    assert message.type == "message"
    assert response.output_text == reply_text()


def test_status_fault_is_an_openai_error(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=fault_model("gpt-4o-mini", status=429), input=QUESTION)
    assert upstream.requests[-1]["outcome"] == "error"


def test_error_after_ends_the_stream_with_a_numbered_error_event(upstream: FakeUpstream) -> None:
    body = {"model": fault_model("gpt-4o-mini", error_after=3), "input": QUESTION, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    response = httpx.post(f"{upstream.base_url}/responses", json=body, headers=headers)
    blocks = [block.splitlines() for block in response.text.strip().split("\n\n")]
    events = [(lines[0].removeprefix("event: "), json.loads(lines[1][6:])) for lines in blocks]
    assert [data["sequence_number"] for _, data in events] == [0, 1, 2, 3]
    kind, error = events[-1]
    assert kind == error["type"] == "error"
    assert upstream.requests[-1]["outcome"] == "stream_error"


def test_input_is_required(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4o-mini", input=[])
    assert refused.value.param == "input"

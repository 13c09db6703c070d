"""What a request asks of reasoning, the OpenAI-compatible extras (reasoning in both spellings,
`reasoning` → `reasoning_effort`), and the shared SSE splitter."""

import dataclasses
from typing import Any

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import BadUpstreamResponse, UpstreamTarget
from channels.adapters.reasoning import Reasoning, reasoning_of
from channels.adapters.wire import SSESplitter
from tests.channels.adapters.openai_compat_helpers import IDENTITY, METERING

OPENAI = adapter_for("openai")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, None),
        ({"reasoning": {}}, None),
        ({"reasoning": {"effort": "high"}}, Reasoning(effort="high")),
        (
            {"reasoning": {"max_tokens": 900, "exclude": True}},
            Reasoning(max_tokens=900, exclude=True),
        ),
        ({"reasoning": {"enabled": True}}, Reasoning()),
        ({"reasoning": {"enabled": False}}, Reasoning(enabled=False)),
        ({"reasoning": {"effort": "none"}}, Reasoning(enabled=False)),
        ({"reasoning": {"enabled": False, "effort": "low"}}, Reasoning(effort="low")),
        ({"reasoning_effort": "minimal"}, Reasoning(effort="minimal")),
        ({"reasoning_effort": "none"}, Reasoning(enabled=False)),
        ({"enable_thinking": False}, Reasoning(enabled=False)),
        ({"include_reasoning": True}, Reasoning()),
        ({"include_reasoning": False}, None),
    ],
)
def test_reasoning_of(body, expected):
    assert reasoning_of(body) == expected


@pytest.mark.parametrize(
    ("reasoning", "budget"),
    [
        (Reasoning(max_tokens=777), 777),
        (Reasoning(effort="max"), 950),
        (Reasoning(effort="high"), 800),
        (Reasoning(), 500),
        (Reasoning(effort="low"), 200),
        (Reasoning(effort="minimal"), 100),
    ],
)
def test_budget_is_the_efforts_share_of_the_answer_budget(reasoning, budget):
    assert reasoning.budget(1000) == budget


def openai_payload(**body: Any) -> dict[str, Any]:
    request = OPENAI.build_request(
        body={"messages": [], **body}, target=UpstreamTarget("http://x/v1", "", "m"), stream=False
    )
    payload: dict[str, Any] = orjson.loads(request.content)
    return payload


@pytest.mark.parametrize(
    ("body", "effort"),
    [
        ({"reasoning": {"effort": "high"}}, "high"),
        ({"reasoning": {"effort": "max"}}, "xhigh"),
        ({"reasoning": {"enabled": True}}, "medium"),
        ({"reasoning": {"enabled": False}}, "none"),
        ({"reasoning": {"max_tokens": 500}}, None),
        ({"reasoning": {"effort": "high"}, "reasoning_effort": "low"}, "low"),
        ({}, None),
    ],
)
def test_openai_compatible_upstreams_get_reasoning_effort(body, effort):
    payload = openai_payload(**body)
    assert payload.get("reasoning_effort") == effort
    assert payload.get("reasoning") == body.get("reasoning"), "the object goes upstream as is"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_compatible_reasoning_comes_back_in_both_spellings(field):
    answer = {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4", field: "2+2"}}],
    }
    result = OPENAI.translate_response(
        payload=orjson.dumps(answer), identity=IDENTITY, metering=METERING
    )
    message = orjson.loads(result.body)["choices"][0]["message"]
    assert (message["reasoning_content"], message["reasoning"]) == ("2+2", "2+2")

    translator = OPENAI.stream_translator(identity=IDENTITY, include_usage=False, metering=METERING)
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {field: "th"}, "finish_reason": None}]}
    [event] = translator.feed(b"data: " + orjson.dumps(chunk) + b"\n\n")
    delta = orjson.loads(event[6:])["choices"][0]["delta"]
    assert (delta["reasoning_content"], delta["reasoning"]) == ("th", "th")


def test_openai_compatible_reasoning_is_left_out_when_excluded():
    hidden = dataclasses.replace(IDENTITY, exclude_reasoning=True)
    answer = {
        "id": "chatcmpl-1",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "4", "reasoning": "2+2"}}
        ],
    }
    result = OPENAI.translate_response(
        payload=orjson.dumps(answer), identity=hidden, metering=METERING
    )
    assert orjson.loads(result.body)["choices"][0]["message"] == {
        "role": "assistant",
        "content": "4",
    }

    translator = OPENAI.stream_translator(identity=hidden, include_usage=False, metering=METERING)
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"reasoning": "th"}}]}
    [event] = translator.feed(b"data: " + orjson.dumps(chunk) + b"\n\n")
    assert orjson.loads(event[6:])["choices"][0]["delta"] == {}
    assert translator.completion_chars == 2, "still counted for an estimate"


def test_sse_splitter_handles_names_comments_multiline_data_and_any_line_ending():
    splitter = SSESplitter()
    stream = (
        b": keep-alive\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\n"
        b"data: x\rdata: y\r\r\nevent: only\n\ndata: tail"
    )
    events = [e for i in range(len(stream)) for e in splitter.feed(stream[i : i + 1])]
    assert events == [("a", b"1\n2"), ("", b"x\ny")]
    assert splitter.rest() == [("", b"tail")]
    assert splitter.rest() == []


def test_sse_splitter_refuses_an_endless_event(monkeypatch):
    monkeypatch.setattr("channels.adapters.wire.MAX_EVENT_BYTES", 10)
    with pytest.raises(BadUpstreamResponse):
        SSESplitter().feed(b"data: " + b"x" * 20)

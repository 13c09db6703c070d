"""The OpenAI-compatible adapter: error events, the OpenAI SDK on relayed streams, a live stream."""

import importlib
import importlib.util
from typing import Any

import httpx
import openai
import orjson
import pytest

from bench.fake_upstream import fault_model, reply_text, running_fake_upstream
from channels.adapters.base import (
    UpstreamTarget,
)
from core.usage import Usage
from tests.channels.adapters.openai_compat_helpers import (
    ADAPTER,
    STREAMS,
    emitted,
    fixture,
    generated_text,
    relay,
    translator,
)

# --- error_event and the OpenAI SDK ---------------------------------------------------------


# openai-python 3.x runs on the httpx2 fork; older versions on httpx.
SDK_HTTPX = importlib.import_module("httpx2" if importlib.util.find_spec("httpx2") else "httpx")


def sdk_stream(body: bytes):
    """The OpenAI SDK streaming `body` as if the gateway had answered it."""

    def answer(request: Any) -> Any:
        return SDK_HTTPX.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        http_client=SDK_HTTPX.Client(transport=SDK_HTTPX.MockTransport(answer)),
        max_retries=0,
    )
    return client.chat.completions.create(model="acme/chat-large", messages=[], stream=True)


def test_error_event_shape_and_the_sdk_raises_on_it():
    stream = translator()
    events = stream.feed(fixture("cut.sse"))
    first = emitted(events)[0]

    event = stream.error_event(message="upstream disconnected", code="upstream_stream_error")

    assert event.startswith(b"data: ")
    assert event.endswith(b"\n\n")
    assert event.count(b"\n") == 2
    assert orjson.loads(event[len(b"data: ") :]) == {
        "id": first["id"],
        "object": "chat.completion.chunk",
        "created": first["created"],
        "model": "acme/chat-large",
        "provider": "acme",
        "error": {
            "message": "upstream disconnected",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_stream_error",
        },
        "choices": [{"index": 0, "delta": {}, "finish_reason": None}],
    }
    with pytest.raises(openai.APIError, match="upstream disconnected") as raised:
        list(sdk_stream(b"".join(events) + event + b"data: [DONE]\n\n"))
    assert raised.value.code == "upstream_stream_error"


def test_error_event_before_any_chunk_has_an_id():
    chunk = orjson.loads(translator().error_event(message="m", code="c")[6:])

    assert chunk["id"].startswith("chatcmpl-")
    assert isinstance(chunk["created"], int)


@pytest.mark.parametrize("name", ["plain_usage.sse", "tool_call.sse", "n2.sse"])
def test_the_openai_sdk_reads_the_relayed_stream(name):
    events, _, _ = relay([fixture(name)])

    chunks = list(sdk_stream(b"".join(events)))

    assert {(c.model, c.model_extra["provider"]) for c in chunks} == {("acme/chat-large", "acme")}
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    text = [
        "".join(
            (c.choices[0].delta.content or "")
            + "".join(t.function.arguments or "" for t in c.choices[0].delta.tool_calls or [])
            for c in chunks
            if c.choices and c.choices[0].index == index
        )
        for index in range(len(STREAMS[name]["texts"]))
    ]
    assert text == [t.removeprefix("get_weather") for t in STREAMS[name]["texts"]]


# --- live: the fake upstream through a real socket ------------------------------------------


def test_live_stream_from_the_fake_upstream():
    target_body = {"messages": [{"role": "user", "content": "Say hello"}]}
    with running_fake_upstream(api_key="sk-fake-upstream") as upstream:
        target = UpstreamTarget(
            base_url=upstream.base_url,
            api_key="sk-fake-upstream",
            upstream_model=fault_model("gpt-4o-mini", words=12),
        )
        request = ADAPTER.build_request(body=target_body, target=target, stream=True)
        stream = translator(include_usage=False)
        events: list[bytes] = []
        with (
            httpx.Client() as client,
            client.stream(
                "POST", request.url, headers=request.headers, content=request.content
            ) as r,
        ):
            for piece in r.iter_raw():
                events += stream.feed(piece)

    assert stream.done
    assert stream.usage == Usage(prompt_tokens=5, completion_tokens=12)
    assert generated_text(emitted(events)) == [reply_text(12)]

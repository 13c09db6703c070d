"""The OpenAI-compatible adapter: re-framing the recorded streams in `tests/fixtures/*.sse`.

Re-record the fixtures from the fake upstream with
`python -m tests.channels.adapters.test_openai_compat_stream_fixtures`.
"""

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bench.fake_upstream import fault_model, reply_text, running_fake_upstream
from channels.adapters.base import (
    UpstreamStreamError,
)
from gateway.estimate import estimate_usage
from tests.channels.adapters.openai_compat_helpers import (
    FIXTURES,
    PROMPT_ESTIMATE,
    STREAMS,
    WEATHER_TOOL,
    byte_by_byte,
    cost,
    emitted,
    fixture,
    generated_text,
    random_splits,
    read_sse,
    relay,
    translator,
)

# --- streams: reading recorded fixtures -----------------------------------------------------


ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.sse"))
SPLITTERS = {
    "byte-by-byte": byte_by_byte,
    **{f"random-{seed}": (lambda data, seed=seed: random_splits(data, seed)) for seed in range(5)},
    "at-every-event": lambda data: [e + b"\n\n" for e in data.split(b"\n\n")],
}


def test_every_fixture_is_covered():
    assert set(ALL_FIXTURES) == set(STREAMS)


@pytest.mark.parametrize("name", ALL_FIXTURES)
@pytest.mark.parametrize("splitter", list(SPLITTERS))
@pytest.mark.parametrize("include_usage", [True, False])
def test_awkward_splits_produce_the_same_events_as_one_feed(name, splitter, include_usage):
    data = fixture(name)
    whole_events, whole_error, whole = relay([data], include_usage)

    events, error, split = relay(SPLITTERS[splitter](data), include_usage)

    assert type(error) is type(whole_error)
    assert (split.done, split.usage, split.completion_chars) == (
        whole.done,
        whole.usage,
        whole.completion_chars,
    )
    assert events == whole_events
    assert split.content_started == whole.content_started


def test_a_failing_read_delivers_the_events_before_the_failure_and_ends_the_stream():
    stream = translator()

    events = stream.feed(fixture("error.sse"))

    assert isinstance(stream.failure, UpstreamStreamError)
    assert events
    assert stream.content_started == any(has_content(chunk) for chunk in emitted(events))
    assert stream.feed(fixture("plain_usage.sse")) == []


def has_content(chunk: dict[str, Any]) -> bool:
    return any(
        c["finish_reason"] is not None
        or any(c["delta"].get(key) for key in ("content", "reasoning_content", "tool_calls"))
        for c in chunk["choices"]
    )


@pytest.mark.parametrize("name", ALL_FIXTURES)
@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_output_is_clean_openai_sse(name, include_usage):
    expected = STREAMS[name]
    events, error, stream = relay(SPLITTERS["at-every-event"](fixture(name)), include_usage)

    payloads = read_sse(b"".join(events))
    if expected["end"] == "done":
        assert error is None
        assert stream.done
        assert payloads.count("[DONE]") == 1
        assert payloads[-1] == "[DONE]"
        payloads.pop()
    elif expected["end"] == "cut":
        assert error is None
        assert not stream.done
        assert "[DONE]" not in payloads
    else:
        assert isinstance(error, expected["end"])
        assert "[DONE]" not in payloads
    chunks = [orjson.loads(payload) for payload in payloads]
    assert {(c["id"], c["created"], c["model"], c["provider"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "acme/chat-large", "acme")
    }
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert not any(c.get("error") for c in chunks)
    usage_chunks = [c for c in chunks if not c["choices"]]
    if include_usage and expected["end"] == "done":
        assert usage_chunks == [chunks[-1]]
        assert chunks[-1]["usage"]["cost"] > 0
    else:
        assert usage_chunks == []
    content_chunks = [c for c in chunks if c["choices"]]
    if include_usage:
        assert all("usage" in c and c["usage"] is None for c in content_chunks)
    else:
        assert not any("usage" in c for c in content_chunks)
    assert generated_text(chunks) == expected["texts"]


@pytest.mark.parametrize("name", [name for name, s in STREAMS.items() if s["end"] == "done"])
def test_usage_chunk_is_the_upstreams_priced_or_an_estimate(name):
    expected = STREAMS[name]["usage"]
    events, _, stream = relay([fixture(name)])

    reported = orjson.loads(events[-2][len(b"data: ") :])["usage"]
    assert stream.usage == expected
    if expected is None:
        estimate = estimate_usage(
            prompt_tokens=PROMPT_ESTIMATE, completion_chars=stream.completion_chars
        )
        assert stream.completion_chars == len(reply_text(20))
        assert reported == {
            "prompt_tokens": PROMPT_ESTIMATE,
            "completion_tokens": estimate.completion_tokens,
            "total_tokens": PROMPT_ESTIMATE + estimate.completion_tokens,
            "cost": cost(estimate),
        }
    else:
        assert reported["cost"] == cost(expected)
        assert reported["prompt_tokens"] == expected.prompt_tokens
        assert reported["completion_tokens"] == expected.completion_tokens
        assert "prompt_tokens_details" in reported  # every upstream field is kept


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_usage_is_tracked_even_when_the_client_did_not_ask(name):
    _, _, stream = relay([fixture(name)], include_usage=False)

    assert stream.usage == STREAMS[name]["usage"]


@pytest.mark.parametrize(
    ("name", "first_content_event"),
    [
        ("plain_usage.sse", 1),  # event 0 is the role chunk with content ""
        ("n2.sse", 2),  # one role chunk per choice
        ("tool_call.sse", 0),  # the role chunk already names the function
        ("vllm_usage_in_last_chunk.sse", 1),  # reasoning counts as content
        ("crlf_keepalive.sse", 1),
    ],
)
def test_commit_point_is_the_first_content_not_the_role_chunk(name, first_content_event):
    stream = translator()
    started = []
    for event in fixture(name).replace(b"\r\n", b"\n").split(b"\n\n"):
        if stream.feed(event + b"\n\n"):
            started.append(stream.content_started)

    assert started.index(True) == first_content_event
    assert all(started[first_content_event:])


# --- re-recording the fixtures --------------------------------------------------------------

RECORDINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain_usage.sse": ({"words": 20}, {"stream_options": {"include_usage": True}}),
    "plain_no_usage.sse": ({"words": 20}, {}),
    "tool_call.sse": ({}, {"tools": [WEATHER_TOOL], "stream_options": {"include_usage": True}}),
    "n2.sse": ({"words": 5}, {"n": 2, "stream_options": {"include_usage": True}}),
    "cut.sse": ({"words": 20, "cut_after": 6}, {"stream_options": {"include_usage": True}}),
    "malformed.sse": ({"malformed_after": 4}, {"stream_options": {"include_usage": True}}),
    "error.sse": ({"error_after": 4}, {"stream_options": {"include_usage": True}}),
}


def record_fixtures(directory: Path = FIXTURES) -> None:
    """Record the fake upstream's raw stream bytes for every entry of RECORDINGS."""
    with running_fake_upstream() as upstream, httpx.Client(timeout=10) as client:
        for name, (fault, extra) in RECORDINGS.items():
            body = {
                "model": fault_model("gpt-4o-mini", **fault),
                "stream": True,
                "messages": [{"role": "user", "content": "Say hello"}],
                **extra,
            }
            data = b""
            url = f"{upstream.base_url}/chat/completions"
            with client.stream("POST", url, json=body) as response:
                try:
                    for piece in response.iter_raw():
                        data += piece
                except httpx.RemoteProtocolError:
                    pass  # the cut stream
            (directory / name).write_bytes(data)


if __name__ == "__main__":
    record_fixtures()

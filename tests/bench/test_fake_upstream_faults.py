"""The fake upstream over real HTTP: every fault directive and invalid requests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bench.fake_upstream import (
    FAULT_HEADER,
    FakeUpstream,
    fault_model,
)
from tests.bench.fake_upstream_helpers import (
    MESSAGES,
    chat,
    sse_data,
    stream_body,
    timed_events,
    wait_for_outcome,
)

# The shared fixtures, defined once in the helper module.

# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_request"),
        (401, "invalid_api_key"),
        (403, "permission_denied"),
        (404, "model_not_found"),
        (408, "request_timeout"),
        (409, "conflict"),
        (413, "request_too_large"),
        (422, "unprocessable_entity"),
        (429, "rate_limit_exceeded"),
        (500, "internal_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
        (529, "overloaded"),
    ],
)
def test_status_fault_answers_an_error_envelope(
    client: httpx.Client, status: int, code: str
) -> None:
    response = client.post("/chat/completions", json=stream_body(fault_model("m", status=status)))

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error.keys() == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert "retry-after" not in response.headers


def test_retry_after_header_and_header_directive(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat(), headers={FAULT_HEADER: "status=429;retry_after=2"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("stream", [False, True])
def test_latency_delays_the_response_headers(client: httpx.Client, stream: bool) -> None:
    start = time.monotonic()
    with client.stream("POST", "/chat/completions", json=chat("m@latency_ms=200", stream=stream)):
        assert time.monotonic() - start >= 0.18


def test_ttft_delays_the_first_chunk(client: httpx.Client) -> None:
    events = timed_events(client, stream_body("m@ttft_ms=200"))
    assert events[0][0] >= 0.18
    assert events[-1][1] == "[DONE]"


def test_stall_pauses_after_k_chunks(client: httpx.Client) -> None:
    events = timed_events(client, stream_body("m@stall_after=2;stall_ms=200"))
    assert events[2][0] - events[1][0] >= 0.18
    assert events[-1][1] == "[DONE]"


def test_endless_stall_holds_until_the_client_leaves(upstream: FakeUpstream) -> None:
    with (
        httpx.Client(base_url=upstream.base_url, timeout=httpx.Timeout(5, read=0.3)) as http,
        http.stream("POST", "/chat/completions", json=stream_body("m@stall_after=1")) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        with pytest.raises(httpx.ReadTimeout):
            list(lines)
    wait_for_outcome(upstream, "client_disconnected")


def test_cut_closes_the_connection_without_done(
    client: httpx.Client, upstream: FakeUpstream
) -> None:
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=stream_body("m@cut_after=2")) as response,
    ):
        received.extend(line for line in response.iter_lines() if line.startswith("data: "))
    assert len(received) == 2
    assert upstream.requests[-1]["outcome"] == "cut"


@pytest.mark.parametrize("stream", [False, True])
def test_drop_closes_the_connection_before_any_response(
    client: httpx.Client, upstream: FakeUpstream, stream: bool
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat("m@drop=1", stream=stream))
    assert upstream.requests[-1]["outcome"] == "dropped"


def test_malformed_chunk_then_the_stream_goes_on(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=stream_body("m@malformed_after=1;words=2"))
    data = sse_data(response.text)
    assert data[1] == "{not json"
    assert json.loads(data[2])["choices"][0]["delta"]["content"] == "Hello"
    assert data[-1] == "[DONE]"


def test_error_after_sends_an_in_band_error_and_ends(client: httpx.Client) -> None:
    data = sse_data(client.post("/chat/completions", json=stream_body("m@error_after=2")).text)
    assert len(data) == 3
    assert json.loads(data[2])["error"]["code"] == "fake_stream_error"


@pytest.mark.parametrize(
    ("model", "headers"),
    [("m@statsu=500", {}), ("m@latency_ms=fast", {}), ("m", {FAULT_HEADER: "cut=1"})],
)
def test_bad_directives_are_400(client: httpx.Client, model: str, headers: dict[str, str]) -> None:
    response = client.post("/chat/completions", json=chat(model), headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_fault_directive"
    assert error["message"].startswith("Invalid fault directive: ")


@pytest.mark.parametrize(
    ("body", "param"),
    [({"model": "m"}, "messages"), ({"messages": MESSAGES}, "model"), (chat(n=0), "n")],
)
def test_invalid_requests_are_400(client: httpx.Client, body: dict[str, Any], param: str) -> None:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param

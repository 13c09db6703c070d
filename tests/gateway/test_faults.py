"""Upstream faults end to end: fallback before the commit point, in-band errors after it.

Every test checks three things: what the client saw, which upstream channels were called (each
channel has its own upstream model name), and the one usage record the request left.
"""

import json
import socket
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import openai
import pytest

from bench.fake_upstream import fault_model
from billing.models import UsageRecord
from channels.services import ModelOffer, channel_create
from gateway import catalog
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX, Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
REPLY = "Hello from the fake upstream, this is deterministic."
PROMPT_TOKENS = 3 + 5  # the fake upstream: 3 per message + the words
COMPLETION_TOKENS = 8
GOOD = "good-model"


# --- helpers -------------------------------------------------------------------------------


def ask(
    gateway: Gateway, *, stream: bool, include_usage: bool = True, **extra: Any
) -> dict[str, Any]:
    """One request through the SDK; the answer's text, headers, chunks or completion."""
    options: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, **extra}
    if stream and include_usage:
        options["stream_options"] = {"include_usage": True}
    client: Any = gateway.client()
    raw = client.chat.completions.with_raw_response.create(stream=stream, **options)
    if not stream:
        completion = raw.parse()
        return {
            "text": completion.choices[0].message.content,
            "headers": raw.headers,
            "completion": completion,
            "usage": completion.usage,
        }
    chunks = list(raw.parse())
    usage = [c.usage for c in chunks if c.usage is not None]
    return {
        "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
        "headers": raw.headers,
        "chunks": chunks,
        "usage": usage[-1] if usage else None,
    }


def fail(gateway: Gateway, *, stream: bool, **extra: Any) -> openai.APIStatusError:
    """One request that must end in an HTTP error; the SDK's exception."""
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, stream=stream, **extra)
    return caught.value


def stream_until_error(gateway: Gateway) -> tuple[str, list[Any], openai.APIError, Any]:
    """A stream that fails in-band: the text before the error, the chunks, the error."""
    client: Any = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks: list[Any] = []
    stream = raw.parse()
    with pytest.raises(openai.APIError) as caught:
        chunks.extend(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks, caught.value, raw.headers


def calls(gateway: Gateway) -> Counter[str]:
    """How often each upstream model name (one per channel) was called."""
    return Counter(request["body"]["model"] for request in gateway.received())


def attempts(record: UsageRecord) -> list[tuple[str, str, int | None]]:
    return [(a["channel"], a["outcome"], a["http_status"]) for a in record.attempts]


def cost_of(record: UsageRecord) -> Decimal:
    """What the record's tokens cost at its prices (no cached tokens in these tests)."""
    assert record.input_price is not None
    assert record.output_price is not None
    return (
        record.prompt_tokens * record.input_price + record.completion_tokens * record.output_price
    ) / Decimal(10**6)


def bad_and_good(gateway: Gateway, bad_upstream: str, **bad_fields: Any) -> tuple[Any, Any]:
    """A failing channel tried first (higher priority) and a healthy one after it."""
    bad = gateway.channel("bad", models={MODEL: bad_upstream}, priority=1, **bad_fields)
    good = gateway.channel("good", models={MODEL: GOOD}, priority=0)
    return bad, good


def assert_served_by_good(
    gateway: Gateway, answer: dict[str, Any], good: Any, stream: bool
) -> None:
    """The client got the full normal answer from `good`, with provider usage billed."""
    assert answer["text"] == REPLY
    assert answer["headers"]["x-switchyard-channel"] == "good"
    assert answer["usage"].prompt_tokens == PROMPT_TOKENS
    assert answer["usage"].completion_tokens == COMPLETION_TOKENS
    record = gateway.record()
    assert record.id == answer["headers"]["x-request-id"]
    assert (record.status, record.http_status, record.error_code) == ("ok", 200, "")
    assert record.stream is stream
    assert record.channel_id == good.pk
    assert (record.served_model, record.provider) == (MODEL, "openai")
    assert record.usage_source == "provider"
    assert (record.prompt_tokens, record.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    expected = (PROMPT_TOKENS * Decimal(1) + COMPLETION_TOKENS * Decimal(2)) / Decimal(10**6)
    assert record.cost == expected
    assert Decimal(str(answer["usage"].model_extra["cost"])) == expected


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refusing_channel(gateway: Gateway, name: str, **fields: Any) -> Any:
    """A channel whose base URL points at a closed port (connection refused)."""
    channel = channel_create(
        name=name,
        provider="openai",
        api_type="openai",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        api_key=CHANNEL_SECRET_PREFIX + name,
        models=[
            ModelOffer(
                model=MODEL,
                upstream_model="refused-model",
                input_price=Decimal(1),
                output_price=Decimal(2),
            )
        ],
        **fields,
    )
    catalog.invalidate_catalog()
    gateway.channels.append(channel)
    return channel


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])


# --- retryable HTTP statuses: fallback, unseen by the client ------------------------------


@STREAM
@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"status": 500}, "server_error"),
        ({"status": 502}, "server_error"),
        ({"status": 503}, "server_error"),
        ({"status": 529}, "server_error"),
        ({"status": 408}, "server_error"),
        ({"status": 429, "retry_after": 2}, "rate_limited"),
        ({"status": 404}, "upstream_not_found"),
    ],
    ids=["500", "502", "503", "529", "408", "429", "404"],
)
def test_retryable_status_falls_back_to_the_next_channel(gateway, stream, fault, outcome):
    bad_upstream = fault_model("bad-model", **fault)
    _, good = bad_and_good(gateway, bad_upstream)

    answer = ask(gateway, stream=stream)

    assert_served_by_good(gateway, answer, good, stream)
    assert calls(gateway) == {bad_upstream: 1, GOOD: 1}
    record = gateway.record()
    assert attempts(record) == [("bad", outcome, fault["status"]), ("good", "ok", 200)]
    assert record.attempts[0]["provider"] == "openai"
    assert record.attempts[0]["error"]


@STREAM
def test_all_channels_rate_limited_is_429_with_retry_after(gateway, stream):
    first = fault_model("first-model", status=429, retry_after=2)
    second = fault_model("second-model", status=429, retry_after=3)
    gateway.channel("first", models={MODEL: first}, priority=1)
    gateway.channel("second", models={MODEL: second}, priority=0)

    error = fail(gateway, stream=stream)

    assert isinstance(error, openai.RateLimitError)
    assert error.status_code == 429
    assert error.code == "all_channels_failed"
    assert error.response.headers["retry-after"] == "3"
    assert error.request_id
    assert calls(gateway) == {first: 1, second: 1}
    record = gateway.record()
    assert record.id == error.request_id
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        429,
        "all_channels_failed",
    )
    assert attempts(record) == [
        ("first", "rate_limited", 429),
        ("second", "rate_limited", 429),
    ]
    assert (record.cost, record.prompt_tokens, record.completion_tokens) == (0, 0, 0)


def test_all_rate_limited_without_retry_after_still_sends_one(gateway):
    gateway.channel("only", models={MODEL: fault_model("rl-model", status=429)})

    error = fail(gateway, stream=False)

    assert error.status_code == 429
    assert error.code == "all_channels_failed"
    retry_after = float(error.response.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert calls(gateway) == {"rl-model@status=429": 1}
    assert gateway.record().http_status == 429


@STREAM
def test_all_channels_5xx_is_503_naming_every_reason(gateway, stream):
    first = fault_model("first-model", status=503, retry_after=4)
    second = fault_model("second-model", status=500)
    third = fault_model("third-model", status=529)
    gateway.channel("first", models={MODEL: first}, priority=3)
    gateway.channel("second", models={MODEL: second}, priority=2)
    gateway.channel("third", models={MODEL: third}, priority=1)

    error = fail(gateway, stream=stream)

    assert isinstance(error, openai.InternalServerError)
    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert error.type == "upstream_error"
    assert error.param is None
    for reason in ("503", "500", "529"):
        assert reason in error.message
    assert error.response.headers["retry-after"] == "4"
    assert error.response.headers["x-request-id"] == error.request_id
    assert calls(gateway) == {first: 1, second: 1, third: 1}
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        503,
        "all_channels_failed",
    )
    assert record.stream is stream
    assert attempts(record) == [
        ("first", "server_error", 503),
        ("second", "server_error", 500),
        ("third", "server_error", 529),
    ]
    assert record.cost == 0
    assert record.channel_id is None


# --- timeouts -----------------------------------------------------------------------------


@STREAM
def test_timeout_falls_back(gateway, stream):
    slow = fault_model("slow-model", latency_ms=2000)
    _, good = bad_and_good(gateway, slow, timeout=0.5, first_token_timeout=0.5)

    answer = ask(gateway, stream=stream)

    assert_served_by_good(gateway, answer, good, stream)
    assert calls(gateway) == {slow: 1, GOOD: 1}
    record = gateway.record()
    assert attempts(record) == [("bad", "timeout", None), ("good", "ok", 200)]
    assert record.attempts[0]["latency_ms"] >= 400


@STREAM
def test_all_channels_time_out_is_504(gateway, stream):
    first = fault_model("first-model", latency_ms=2000)
    second = fault_model("second-model", latency_ms=2000)
    gateway.channel("first", models={MODEL: first}, priority=1, timeout=0.4)
    gateway.channel("second", models={MODEL: second}, priority=0, timeout=0.4)

    error = fail(gateway, stream=stream)

    assert isinstance(error, openai.InternalServerError)
    assert error.status_code == 504
    assert error.code == "all_channels_failed"
    assert "0.4" in error.message
    assert calls(gateway) == {first: 1, second: 1}
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        504,
        "all_channels_failed",
    )
    assert attempts(record) == [("first", "timeout", None), ("second", "timeout", None)]


def test_slow_first_token_falls_back_when_streaming(gateway):
    slow = fault_model("slow-model", ttft_ms=2000)
    _, good = bad_and_good(gateway, slow, first_token_timeout=0.5, timeout=10)

    answer = ask(gateway, stream=True)

    assert_served_by_good(gateway, answer, good, stream=True)
    assert calls(gateway) == {slow: 1, GOOD: 1}
    record = gateway.record()
    assert attempts(record) == [("bad", "timeout", None), ("good", "ok", 200)]
    assert record.ttft_ms is not None
    assert record.ttft_ms >= 400


# --- broken connections and streams before content ----------------------------------------


@STREAM
def test_dropped_connection_falls_back(gateway, stream):
    dropped = fault_model("drop-model", drop=1)
    _, good = bad_and_good(gateway, dropped)

    answer = ask(gateway, stream=stream)

    assert_served_by_good(gateway, answer, good, stream)
    assert calls(gateway) == {dropped: 1, GOOD: 1}
    record = gateway.record()
    assert attempts(record) == [("bad", "connect_error", None), ("good", "ok", 200)]


@STREAM
def test_connection_refused_falls_back(gateway, stream):
    refusing_channel(gateway, "refused", priority=1)
    good = gateway.channel("good", models={MODEL: GOOD}, priority=0)

    answer = ask(gateway, stream=stream)

    assert_served_by_good(gateway, answer, good, stream)
    assert calls(gateway) == {GOOD: 1}
    record = gateway.record()
    assert attempts(record) == [("refused", "connect_error", None), ("good", "ok", 200)]


def test_connection_refused_everywhere_is_503(gateway):
    refusing_channel(gateway, "refused")

    error = fail(gateway, stream=False)

    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert calls(gateway) == {}
    record = gateway.record()
    assert (record.http_status, record.error_code) == (503, "all_channels_failed")
    assert attempts(record) == [("refused", "connect_error", None)]


@pytest.mark.parametrize(
    ("fault", "outcomes"),
    [
        ({"cut_after": 0}, {"cut", "connect_error"}),
        ({"cut_after": 1}, {"cut", "connect_error"}),
        ({"malformed_after": 1}, {"bad_response"}),
        ({"error_after": 1}, {"stream_error"}),
    ],
    ids=["cut-at-once", "cut-after-role", "malformed-before-content", "error-before-content"],
)
def test_stream_failing_before_content_falls_back(gateway, fault, outcomes):
    broken = fault_model("broken-model", **fault)
    _, good = bad_and_good(gateway, broken)

    answer = ask(gateway, stream=True)

    assert_served_by_good(gateway, answer, good, stream=True)
    chunks = answer["chunks"]
    assert len({c.id for c in chunks}) == 1
    roles = [c for c in chunks if c.choices and c.choices[0].delta.role]
    assert len(roles) == 1, "the failed attempt's role chunk must not reach the client"
    assert calls(gateway) == {broken: 1, GOOD: 1}
    record = gateway.record()
    (bad_attempt, good_attempt) = record.attempts
    assert bad_attempt["channel"] == "bad"
    assert bad_attempt["outcome"] in outcomes
    assert (good_attempt["channel"], good_attempt["outcome"]) == ("good", "ok")


# --- failures after the commit point: one in-band error, no switch of channel -------------


def assert_in_band_failure(gateway, text, chunks, error, headers, code, broken):
    assert type(error) is openai.APIError  # no status: it came in-band
    assert error.code == code
    assert error.type == "upstream_error"
    assert text
    assert REPLY.startswith(text), "only the committed channel's text, nothing appended"
    assert text != REPLY
    assert {c.model for c in chunks} == {MODEL}
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)
    assert headers["x-switchyard-channel"] == "bad"
    assert calls(gateway) == {broken: 1}, "the second channel must never be called"
    record = gateway.record()
    assert record.id == headers["x-request-id"]
    assert (record.status, record.http_status, record.error_code) == ("error", 200, code)
    assert record.stream is True
    assert record.channel_id == gateway.channels[0].pk
    assert record.usage_source == "estimated"
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    assert record.cost > 0
    assert record.cost == cost_of(record)
    assert [(a["channel"], a["outcome"]) for a in record.attempts] == [("bad", "stream_error")]
    assert record.attempts[0]["error"]
    return record


def test_stream_cut_after_content_is_one_in_band_error(gateway):
    broken = fault_model("broken-model", cut_after=4)
    bad_and_good(gateway, broken)

    text, chunks, error, headers = stream_until_error(gateway)

    assert text == "Hello from the"
    assert_in_band_failure(gateway, text, chunks, error, headers, "upstream_stream_error", broken)


def test_malformed_chunk_after_content_is_bad_upstream_response(gateway):
    broken = fault_model("broken-model", malformed_after=3, chunk_delay_ms=50)
    bad_and_good(gateway, broken)

    text, chunks, error, headers = stream_until_error(gateway)

    assert_in_band_failure(gateway, text, chunks, error, headers, "bad_upstream_response", broken)


def test_upstream_in_band_error_after_content_is_relayed_in_band(gateway):
    broken = fault_model("broken-model", error_after=3, chunk_delay_ms=50)
    bad_and_good(gateway, broken)

    text, chunks, error, headers = stream_until_error(gateway)

    assert "injected mid-stream error" in error.message
    assert_in_band_failure(gateway, text, chunks, error, headers, error.code, broken)


def test_stall_after_content_times_out_in_band(gateway):
    broken = fault_model("broken-model", stall_after=3, stall_ms=3000)
    bad_and_good(gateway, broken, timeout=0.8, first_token_timeout=0.8)

    text, chunks, error, headers = stream_until_error(gateway)

    assert_in_band_failure(gateway, text, chunks, error, headers, "upstream_timeout", broken)


def test_in_band_error_event_then_done_on_the_wire(gateway):
    broken = fault_model("broken-model", cut_after=4)
    bad_and_good(gateway, broken)

    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": MESSAGES, "stream": True}
        )

    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    errors = [e for e in events if '"error"' in e]
    assert len(errors) == 1
    assert events.index(errors[0]) == len(events) - 2
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    error_chunk = chunks[-1]
    assert error_chunk["object"] == "chat.completion.chunk"
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}, "the error event keeps the stream's id"
    assert (error_chunk["model"], error_chunk["provider"]) == (MODEL, "openai")
    assert set(error_chunk["error"]) == {"message", "type", "param", "code"}
    assert error_chunk["error"]["code"] == "upstream_stream_error"
    assert response.headers["x-request-id"]
    assert calls(gateway) == {broken: 1}
    record = gateway.record()
    assert record.id == response.headers["x-request-id"]
    assert (record.status, record.error_code) == ("error", "upstream_stream_error")


def test_retry_after_is_capped_at_60_seconds(gateway):
    upstream = fault_model("rl-model", status=429, retry_after=600)
    gateway.channel("only", models={MODEL: upstream})

    error = fail(gateway, stream=False)

    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "60"
    assert calls(gateway) == {upstream: 1}
    assert attempts(gateway.record()) == [("only", "rate_limited", 429)]


# --- missing usage ------------------------------------------------------------------------


def test_missing_usage_non_stream_is_estimated(gateway):
    upstream = fault_model("quiet-model", no_usage=1)
    channel = gateway.channel("quiet", models={MODEL: upstream})

    answer = ask(gateway, stream=False)

    assert answer["text"] == REPLY
    usage = answer["usage"]
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert calls(gateway) == {upstream: 1}
    record = gateway.record()
    assert (record.status, record.http_status, record.usage_source) == ("ok", 200, "estimated")
    assert record.channel_id == channel.pk
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert record.cost > 0
    assert record.cost == cost_of(record)
    assert Decimal(str(usage.model_extra["cost"])) == record.cost
    assert attempts(record) == [("quiet", "ok", 200)]


@pytest.mark.parametrize("include_usage", [True, False], ids=["usage-asked", "usage-not-asked"])
def test_missing_usage_stream_is_estimated(gateway, include_usage):
    upstream = fault_model("quiet-model", no_usage=1)
    gateway.channel("quiet", models={MODEL: upstream})

    answer = ask(gateway, stream=True, include_usage=include_usage)

    assert answer["text"] == REPLY
    assert answer["chunks"][-1 if not include_usage else -2].choices[0].finish_reason == "stop"
    record = gateway.record()
    assert (record.status, record.http_status, record.usage_source) == ("ok", 200, "estimated")
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    assert record.cost > 0
    assert record.cost == cost_of(record)
    if include_usage:
        usage = answer["usage"]
        assert answer["chunks"][-1].choices == []
        assert (usage.prompt_tokens, usage.completion_tokens) == (
            record.prompt_tokens,
            record.completion_tokens,
        )
        assert Decimal(str(usage.model_extra["cost"])) == record.cost
    else:
        assert answer["usage"] is None
    assert calls(gateway) == {upstream: 1}
    assert gateway.received()[0]["body"]["stream_options"] == {"include_usage": True}
    assert attempts(record) == [("quiet", "ok", 200)]


# --- the upstream rejects the request itself: the client's, never retried -----------------


@STREAM
@pytest.mark.parametrize("status", [400, 413, 422])
def test_upstream_client_error_is_returned_and_not_retried(gateway, stream, status):
    rejecting = fault_model("picky-model", status=status)
    bad_and_good(gateway, rejecting)

    error = fail(gateway, stream=stream)

    assert error.status_code == status
    assert error.type == "invalid_request_error"
    assert error.code
    assert "injected HTTP" in error.message
    body = error.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert error.request_id
    assert calls(gateway) == {rejecting: 1}, "the fallback channel must not be called"
    record = gateway.record()
    assert record.id == error.request_id
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        status,
        error.code,
    )
    assert attempts(record) == [("bad", "rejected", status)]
    assert record.cost == 0


# --- the channel's own credentials refused: never shown to the client as theirs -----------


@STREAM
@pytest.mark.parametrize("status", [401, 402, 403])
def test_channel_credentials_refused_on_the_only_channel_is_503(gateway, stream, status):
    refused = fault_model("locked-model", status=status)
    gateway.channel("locked", models={MODEL: refused})

    error = fail(gateway, stream=stream)

    assert not isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError)
    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert "Incorrect API key" not in error.message
    assert CHANNEL_SECRET_PREFIX not in error.message
    assert calls(gateway) == {refused: 1}
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        503,
        "all_channels_failed",
    )
    assert attempts(record) == [("locked", "channel_auth", status)]


@STREAM
@pytest.mark.parametrize("status", [401, 403])
def test_channel_credentials_refused_falls_back(gateway, stream, status):
    refused = fault_model("locked-model", status=status)
    _, good = bad_and_good(gateway, refused)

    answer = ask(gateway, stream=stream)

    assert_served_by_good(gateway, answer, good, stream)
    assert calls(gateway) == {refused: 1, GOOD: 1}
    assert attempts(gateway.record()) == [("bad", "channel_auth", status), ("good", "ok", 200)]


# --- the client leaves --------------------------------------------------------------------


def test_client_disconnect_mid_stream_is_recorded_as_cancelled(gateway):
    slow = fault_model("slow-model", chunk_delay_ms=300)
    channel = gateway.channel("main", models={MODEL: slow})

    stream = gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    first_text = ""
    for chunk in stream:
        first_text += chunk.choices[0].delta.content or ""
        if first_text:
            break
    stream.close()

    assert first_text == "Hello"
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "cancelled",
        499,
        "client_disconnected",
    )
    assert record.channel_id == channel.pk
    assert record.usage_source == "estimated"
    assert record.completion_tokens > 0
    assert record.cost == cost_of(record)
    assert record.cost > 0
    deadline = time.monotonic() + 3
    while gateway.received()[0]["outcome"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gateway.received()[0]["outcome"] == "client_disconnected", "upstream call cancelled"
    assert calls(gateway) == {slow: 1}


def test_client_timeout_before_the_answer_is_recorded_as_cancelled(gateway):
    slow = fault_model("slow-model", latency_ms=2000)
    gateway.channel("main", models={MODEL: slow})

    with pytest.raises(openai.APITimeoutError):
        gateway.client(timeout=0.5).chat.completions.create(model=MODEL, messages=MESSAGES)

    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "cancelled",
        499,
        "client_disconnected",
    )
    assert record.cost == 0
    assert calls(gateway) == {slow: 1}

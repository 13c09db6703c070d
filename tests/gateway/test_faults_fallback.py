"""Upstream faults before the commit point: statuses, timeouts, broken connections fall back."""

import openai
import pytest

from bench.fake_upstream import fault_model
from tests.gateway.faults_helpers import (
    GOOD,
    MODEL,
    STREAM,
    ask,
    assert_served_by_good,
    attempts,
    bad_and_good,
    calls,
    fail,
    refusing_channel,
)

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

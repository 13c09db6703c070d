"""Upstream rejections never retried or shown as the client's, and clients that leave."""

import time

import openai
import pytest

from bench.fake_upstream import fault_model
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.faults_helpers import (
    GOOD,
    MESSAGES,
    MODEL,
    STREAM,
    ask,
    assert_served_by_good,
    attempts,
    bad_and_good,
    calls,
    cost_of,
    fail,
)

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


def test_client_timeout_before_the_answer_is_recorded_as_cancelled_and_billed_its_prompt(gateway):
    """The upstream had the request, and bills its prompt: so is the client (an estimate)."""
    slow = fault_model("slow-model", latency_ms=2000)
    channel = gateway.channel("main", models={MODEL: slow})

    with pytest.raises(openai.APITimeoutError):
        gateway.client(timeout=0.5).chat.completions.create(model=MODEL, messages=MESSAGES)

    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "cancelled",
        499,
        "client_disconnected",
    )
    assert record.channel_id == channel.pk
    assert record.usage_source == "estimated"
    assert record.prompt_tokens > 0
    assert record.completion_tokens == 0
    assert record.cost == cost_of(record)
    assert record.cost > 0
    assert calls(gateway) == {slow: 1}
    # The attempt counts on the channel's page, as the client's leaving, not its failure.
    assert [(a["channel"], a["outcome"]) for a in record.attempts] == [("main", "cancelled")]

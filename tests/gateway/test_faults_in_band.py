"""Upstream faults after the commit point (one in-band error, no switch) and missing usage."""

import json
from decimal import Decimal

import openai
import pytest

from bench.fake_upstream import fault_model
from tests.gateway.faults_helpers import (
    MESSAGES,
    MODEL,
    REPLY,
    ask,
    attempts,
    bad_and_good,
    calls,
    cost_of,
    fail,
    stream_until_error,
)

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

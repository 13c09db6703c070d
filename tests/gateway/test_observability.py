"""What operators watch: `/metrics` after real traffic, and one log line per request."""

import logging

import orjson

MESSAGES = [{"role": "user", "content": "hi"}]


def metric_lines(gateway, name: str) -> list[str]:
    with gateway.http() as http:
        text = http.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith(name)]


def test_metrics_count_requests_tokens_cost_attempts_and_breakers(gateway, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    gateway.channel("obs-bad", models={"obs-model": "bad@status=503"}, priority=10)
    gateway.channel("obs-good", models={"obs-model": "good"})

    gateway.client().chat.completions.create(model="obs-model", messages=MESSAGES)

    served = 'channel="obs-good",model="obs-model",provider="openai",status="ok"'
    assert any(
        served in line and line.endswith(" 1.0")
        for line in metric_lines(gateway, "switchyard_requests_total")
    )
    attempts = metric_lines(gateway, "switchyard_upstream_attempts_total")
    assert any(
        'channel="obs-bad"' in line and 'outcome="server_error"' in line for line in attempts
    )
    assert any(
        'model="obs-model"' in line for line in metric_lines(gateway, "switchyard_tokens_total")
    )
    assert any(
        'model="obs-model"' in line for line in metric_lines(gateway, "switchyard_cost_usd_total")
    )
    breaker = [
        line
        for line in metric_lines(gateway, "switchyard_breaker_state")
        if 'channel="obs-bad"' in line
    ]
    assert breaker
    assert breaker[0].endswith(" 2.0")
    status = [
        line
        for line in metric_lines(gateway, "switchyard_channel_status")
        if 'channel="obs-good"' in line
    ]
    assert status
    assert status[0].endswith(" 0.0")


def test_one_structured_log_line_per_request_without_secrets(gateway, caplog):
    gateway.channel("logged")

    with caplog.at_level(logging.INFO, logger="switchyard.requests"):
        raw = gateway.client().chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        gateway.records()

    lines = [r.getMessage() for r in caplog.records if r.name == "switchyard.requests"]
    assert len(lines) == 1
    line = orjson.loads(lines[0])
    assert line["request_id"] == raw.headers["x-request-id"]
    assert (line["model"], line["channel"], line["status"]) == ("gpt-4o-mini", "logged", "ok")
    assert line["completion_tokens"] == 8
    assert gateway.key not in lines[0]
    assert gateway.key[6:14] in lines[0]  # the key's public prefix identifies it

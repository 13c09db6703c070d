"""The request log: one JSON line per request on "switchyard.requests", never a secret."""

import logging
from decimal import Decimal

import orjson
import pytest
from django.utils import timezone

from billing.keys import generate_key
from core.log_filters import scrub
from core.usage import Usage, UsageStatus
from gateway import request_log
from gateway.accounting import AttemptLog, UsageDraft

LOGGER = "switchyard.requests"


def served_draft() -> UsageDraft:
    return UsageDraft(
        id="req_0001",
        created_at=timezone.now(),
        account_id=1,
        key_id=2,
        model="openai/gpt-4o",
        served_model="openai/gpt-4o",
        provider="openai",
        channel_id=7,
        status=UsageStatus.OK,
        http_status=200,
        stream=True,
        usage=Usage(prompt_tokens=100, completion_tokens=40, cached_tokens=20),
        cost=Decimal("0.0012500000"),
        latency_ms=1500,
        ttft_ms=300,
        attempts=[
            AttemptLog("openai-a", "openai", "rate_limited", 429, 50, "slow down"),
            AttemptLog("openai-b", "openai", "ok", 200, 1400),
        ],
    )


def logged_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def test_one_json_line_with_every_field(caplog):
    key = generate_key()
    caplog.set_level(logging.INFO, logger=LOGGER)

    request_log.log_request(served_draft(), key.prefix, "openai-b")

    (line,) = logged_lines(caplog)
    assert caplog.records[0].levelno == logging.INFO
    assert orjson.loads(line) == {
        "request_id": "req_0001",
        "key": key.prefix.removeprefix("sk-sy-"),
        "key_id": 2,
        "model": "openai/gpt-4o",
        "served_model": "openai/gpt-4o",
        "provider": "openai",
        "channel": "openai-b",
        "status": "ok",
        "http_status": 200,
        "error_code": "",
        "stream": True,
        "latency_ms": 1500,
        "ttft_ms": 300,
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "cost": "0.00125",
        "attempts": 2,
    }


def test_a_failed_request_line(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    failed = UsageDraft(
        id="req_0002",
        created_at=timezone.now(),
        account_id=1,
        key_id=2,
        model="nope/model",
        error_code="model_not_found",
        http_status=404,
    )

    request_log.log_request(failed, "sk-sy-AbCd1234", None)

    fields = orjson.loads(logged_lines(caplog)[0])
    assert fields["key"] == "AbCd1234"
    assert fields["channel"] is None
    assert fields["ttft_ms"] is None
    assert (fields["status"], fields["http_status"], fields["error_code"]) == (
        "error",
        404,
        "model_not_found",
    )
    assert (fields["cost"], fields["attempts"]) == ("0", 0)


@pytest.mark.parametrize("handed", ["prefix", "secret"])
def test_never_the_full_key_and_nothing_to_scrub(caplog, handed):
    key = generate_key()
    caplog.set_level(logging.INFO, logger=LOGGER)

    request_log.log_request(served_draft(), getattr(key, handed), "openai-b")

    (line,) = logged_lines(caplog)
    assert key.secret not in line
    assert key.secret[len(key.prefix) :] not in line
    assert scrub(line) == line


def test_nothing_is_built_when_info_is_disabled(caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger=LOGGER)

    def fail(*args):
        raise AssertionError("built a line nobody logs")

    monkeypatch.setattr(request_log, "request_line", fail)

    request_log.log_request(served_draft(), "sk-sy-AbCd1234", "openai-b")

    assert logged_lines(caplog) == []

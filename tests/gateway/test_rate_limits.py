"""Per-key rate limits end to end: rpm and tpm, their headers, across gateway processes."""

import time

import httpx
import openai
import pytest

from billing.models import ApiKey
from billing.services import api_key_revoke
from gateway.estimate import estimate_prompt_tokens
from tests.gateway.process_helpers import gateway_process

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_rpm_limit_refuses_the_request_over_it_with_openai_headers(gateway, limits_store):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=2)

    with gateway.http(key) as client:
        first = client.post("/v1/chat/completions", json=BODY)
        second = client.post("/v1/chat/completions", json=BODY)
        third = client.post("/v1/chat/completions", json=BODY)

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    error = third.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert 1 <= int(third.headers["retry-after"]) <= 60
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.headers["x-ratelimit-reset-requests"].endswith("s")
    # Refused at authentication, as a bad key is: no usage record for the third.
    records = gateway.wait_records(2)
    assert [(r.http_status, r.cost > 0) for r in records] == [(200, True), (200, True)]
    assert len(gateway.received()) == 2


def test_tpm_limit_counts_the_tokens_actually_used(gateway, limits_store):
    gateway.channel("main")
    with gateway.http() as client:
        used = client.post("/v1/chat/completions", json=BODY).json()["usage"]["total_tokens"]
    estimate = estimate_prompt_tokens(BODY)
    assert used > 2 * estimate, "the fake upstream's answer outweighs the prompt estimate"
    # Room for the first request's estimate, and after it, not for what it really used plus
    # another estimate: only a limit corrected to the actual tokens refuses the second request.
    key = gateway.new_key(tpm_limit=used + estimate - 1)

    with gateway.http(key) as client:
        first = client.post("/v1/chat/completions", json=BODY)
        time.sleep(0.3)  # the correction runs right after the first request's record
        second = client.post("/v1/chat/completions", json=BODY)

    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == str(used + estimate - 1)
    assert second.status_code == 429
    assert "tokens per minute" in second.json()["error"]["message"]
    assert second.headers["x-ratelimit-remaining-tokens"] == str(estimate - 1)


def test_a_request_larger_than_the_tpm_limit_is_refused_outright(gateway):
    gateway.channel("main")
    key = gateway.new_key(tpm_limit=50)

    with gateway.http(key) as client:
        response = client.post("/v1/chat/completions", json={**BODY, "max_tokens": 500})

    assert response.status_code == 429  # as OpenAI answers a request too large for its TPM
    assert (
        "more than the key's limit of 50 tokens per minute" in response.json()["error"]["message"]
    )
    # Waiting never helps: no retry-after, and the SDKs are told not to retry.
    assert "retry-after" not in response.headers
    assert response.headers["x-should-retry"] == "false"
    assert gateway.received() == []


def test_the_sdk_does_not_retry_a_request_larger_than_the_tpm_limit(gateway):
    gateway.channel("main")
    key = gateway.new_key(tpm_limit=50)
    client = gateway.client(key).with_options(max_retries=2)  # the SDK's default

    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(**BODY, max_tokens=500)

    records = gateway.wait_records(1)
    assert len(records) == 1  # one request, not three


def test_rpm_limit_holds_across_two_gateway_processes(gateway):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=3)

    with gateway_process() as (_, other_url), gateway.http(key) as here:
        statuses = [here.post("/v1/chat/completions", json=BODY).status_code for _ in range(2)]
        with httpx.Client(
            base_url=other_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as there:
            statuses += [there.post("/v1/chat/completions", json=BODY).status_code]
            statuses += [there.post("/v1/chat/completions", json=BODY).status_code]
        statuses += [here.post("/v1/chat/completions", json=BODY).status_code]

    assert statuses == [200, 200, 200, 429, 429]


def test_revocation_reaches_another_process_within_five_seconds(gateway):
    gateway.channel("main")
    key = gateway.new_key()

    with (
        gateway_process() as (_, other_url),
        httpx.Client(
            base_url=other_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as there,
    ):
        assert there.post("/v1/chat/completions", json=BODY).status_code == 200  # now cached
        api_key_revoke(key=ApiKey.objects.latest("created_at"))
        revoked_at = time.monotonic()
        while (status := there.post("/v1/chat/completions", json=BODY).status_code) == 200:
            assert time.monotonic() - revoked_at < 6, "the other process still accepts the key"
            time.sleep(0.25)

    assert status == 401

"""Honest retry hints (#13.5): a 429's `retry-after` is rounded up, its message and the
`x-ratelimit-reset-requests` header say the same, and a retry after exactly that long is
admitted — with the limits in Redis and per process alike."""

import re
import time

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
RPM = 20  # one request every 3 s once the burst is spent


def test_a_retry_after_retry_after_seconds_is_admitted(gateway, limits_store):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=RPM)

    with gateway.http(key) as client:
        started = time.monotonic()
        burst = [client.post("/v1/chat/completions", json=BODY).status_code for _ in range(RPM)]
        # Land the refusal where the true wait is 2.x s: a hint rounded to nearest would say 2.
        time.sleep(max(0.0, 0.6 - (time.monotonic() - started)))
        refused = client.post("/v1/chat/completions", json=BODY)
        wait = int(refused.headers["retry-after"])
        time.sleep(wait)
        retried = client.post("/v1/chat/completions", json=BODY)

    assert burst == [200] * RPM
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-reset-requests"] == f"{wait}s"
    message = refused.json()["error"]["message"]
    assert re.search(rf"Try again in {wait} s\.", message), message
    assert retried.status_code == 200, retried.text

"""SIGTERM drains within the grace period: what is still under way then ends — in-band for a
stream, 503 for an unanswered request, a disconnect for a client that reads nothing — and is
billed and recorded before the process exits."""

import signal
import socket
import threading
import time
from typing import Any

import httpx
import orjson

from billing.models import UsageRecord
from tests.gateway.process_helpers import gateway_process

GRACE_SECONDS = 2
STALLED_READERS = 5


def _stream_without_reading(url: str, key: str) -> socket.socket:
    """A client that asks for a long stream and never reads a byte of it."""
    body = orjson.dumps(
        {
            "model": "drain-flood",
            "stream": True,
            "max_tokens": 100_000,
            "messages": [{"role": "user", "content": "talk"}],
        }
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    return sock


def test_sigterm_ends_what_is_left_after_the_grace_period_billed_and_recorded(gateway):
    gateway.channel("drain-long", models={"drain-long": "gpt-4o-mini@words=2000;chunk_delay_ms=20"})
    gateway.channel("drain-slow", models={"drain-slow": "gpt-4o-mini@latency_ms=30000"})
    gateway.channel("drain-flood", models={"drain-flood": "gpt-4o-mini@words=100000"})
    headers = {"Authorization": f"Bearer {gateway.key}"}
    outcome: dict[str, Any] = {}
    streaming = threading.Event()

    def read_stream(url: str) -> None:
        body = {
            "model": "drain-long",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30
        ) as response:
            text = ""
            for chunk in response.iter_text():
                text += chunk
                streaming.set()
        outcome["stream"] = text

    def ask(url: str) -> None:
        body = {"model": "drain-slow", "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)
        outcome["answer"] = (response.status_code, response.json())

    with gateway_process(
        GATEWAY_SHUTDOWN_GRACE=str(GRACE_SECONDS), GATEWAY_WRITE_TIMEOUT="600"
    ) as (server, url):
        clients = [
            threading.Thread(target=read_stream, args=(url,)),
            threading.Thread(target=ask, args=(url,)),
        ]
        for client in clients:
            client.start()
        stalled = [_stream_without_reading(url, gateway.key) for _ in range(STALLED_READERS)]
        assert streaming.wait(timeout=10)
        time.sleep(1)  # the stalled readers' buffers fill up
        server.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        server.wait(timeout=30)
        stopped_after = time.monotonic() - stopping
        for client in clients:
            client.join(timeout=10)
        for sock in stalled:
            sock.close()

    assert server.returncode is not None
    assert stopped_after < GRACE_SECONDS + 6
    assert '"code":"gateway_shutting_down"' in outcome["stream"].replace(" ", "")
    assert outcome["stream"].rstrip().endswith("data: [DONE]")
    status, body = outcome["answer"]
    assert (status, body["error"]["code"]) == (503, "gateway_shutting_down")

    stream = UsageRecord.objects.get(model="drain-long")
    assert (stream.status, stream.error_code) == ("error", "gateway_shutting_down")
    assert stream.completion_tokens > 0
    assert stream.cost > 0
    unanswered = UsageRecord.objects.get(model="drain-slow")
    assert (unanswered.http_status, unanswered.error_code) == (503, "gateway_shutting_down")
    assert unanswered.prompt_tokens > 0  # the upstream had the prompt: it is billed
    assert unanswered.cost > 0
    # The drain's end is the gateway's, not a failure of the channels (no breaker counts it).
    assert [attempt["outcome"] for attempt in stream.attempts] == ["gateway_shutting_down"]
    assert [attempt["outcome"] for attempt in unanswered.attempts] == ["gateway_shutting_down"]
    # A reader that stalled before the drain ended is disconnected (cancelled); one whose stream
    # the drain ended first is dropped when its last event cannot be delivered. Either way,
    # one record each, billed for what was generated.
    flood = UsageRecord.objects.filter(model="drain-flood")
    assert len(flood) == STALLED_READERS
    for record in flood:
        assert (record.status, record.error_code) in {
            ("cancelled", "client_disconnected"),
            ("error", "gateway_shutting_down"),
        }
        assert record.completion_tokens > 0

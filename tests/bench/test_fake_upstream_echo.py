"""The fake upstream's `echo_credential` fault repeats the presented key, raw and encoded."""

import base64
import json
from urllib.parse import quote

import httpx
import pytest

from bench.fake_upstream import FakeUpstream, FaultDirectiveError, fault_model, parse_fault
from tests.bench.fake_upstream_helpers import chat, sse_data, stream_body

KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_an_error_status_echoes_the_bearer_key_in_several_encodings(upstream: FakeUpstream):
    with httpx.Client(base_url=upstream.base_url, timeout=10) as client:
        response = client.post(
            "/chat/completions",
            json=chat(fault_model("m", status=503, echo_credential=True)),
            headers={"Authorization": f"Bearer {KEY}"},
        )

    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("Fake upstream injected HTTP 503 fault: received credential")
    assert f"Authorization: Bearer {KEY}" in message
    assert quote(KEY, safe="") in message
    assert KEY.replace("/", "\\/") in message
    assert base64.b64encode(f"user:{KEY}".encode()).decode() in message
    assert f"hint={KEY[:10]}..." in message


def test_gemini_and_anthropic_keys_are_echoed_from_their_own_headers(upstream: FakeUpstream):
    with httpx.Client(base_url=upstream.url, timeout=10) as client:
        gemini = client.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            params={"key": KEY},
            json={"contents": [{"parts": [{"text": "hi"}]}]},
            headers={"x-fake-fault": "status=429;echo_credential=1"},
        )
        anthropic = client.post(
            "/v1/messages",
            json={
                "model": "claude-haiku-4-5@status=500;echo_credential=1",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        )

    assert f"query key={KEY}" in gemini.json()["error"]["message"]
    assert f"x-api-key: {KEY}" in anthropic.json()["error"]["message"]


def test_a_stream_error_event_echoes_the_key(upstream: FakeUpstream):
    with httpx.Client(base_url=upstream.base_url, timeout=10) as client:
        response = client.post(
            "/chat/completions",
            json=stream_body(fault_model("m", error_after=2, echo_credential=True)),
            headers={"Authorization": f"Bearer {KEY}"},
        )

    error = json.loads(sse_data(response.text)[-1])["error"]
    assert error["message"].startswith("Fake upstream injected mid-stream error: received")
    assert f"raw={KEY}" in error["message"]


def test_echo_credential_needs_an_error_to_echo_in():
    with pytest.raises(FaultDirectiveError, match="requires status or error_after"):
        parse_fault("echo_credential=1")

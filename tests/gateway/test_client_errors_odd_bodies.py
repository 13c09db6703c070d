"""Client errors of the chat endpoint: odd but valid JSON and content types never get a 5xx."""

import time
from typing import Any

import httpx
import pytest

from billing.models import UsageRecord
from tests.gateway.client_errors_helpers import MESSAGES, MODEL, post
from tests.gateway.conftest import Gateway

# --- never a 5xx for client input ---------------------------------------------------------

MSG = MESSAGES
# Parses (orjson reads up to 1024 levels) but is deeper than orjson writes (254 levels).
DEEP_BODY = (
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "x_deep": '
    + b"[" * 300
    + b"]" * 300
    + b"}"
)

ODD_BODIES: list[tuple[str, Any]] = [
    ("null-model", {"model": None, "messages": MSG}),
    ("number-model", {"model": 123, "messages": MSG}),
    ("list-model", {"model": [MODEL], "messages": MSG}),
    ("null-message", {"model": MODEL, "messages": [None]}),
    ("object-content", {"model": MODEL, "messages": [{"role": "user", "content": {"a": [1]}}]}),
    ("list-role", {"model": MODEL, "messages": [{"role": ["user"], "content": "hi"}]}),
    ("dict-role", {"model": MODEL, "messages": [{"role": {"user": 1}, "content": "hi"}]}),
    (
        "null-fields",
        {
            "model": MODEL,
            "messages": MSG,
            "temperature": None,
            "top_p": None,
            "n": None,
            "stream": None,
            "stop": None,
            "tools": None,
            "tool_choice": None,
            "provider": None,
            "models": None,
            "user": None,
            "max_tokens": None,
        },
    ),
    ("unicode-model", {"model": "模型-🚀-ünï", "messages": MSG}),
    (
        "unicode-content",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "héllo 🌍 \u202e مرحبا \u200b"}],
            "user": "ユーザー",
        },
    ),
    ("nul-in-content", {"model": MODEL, "messages": [{"role": "user", "content": "a\u0000b"}]}),
    ("nul-in-model", {"model": "gpt\u0000-4o", "messages": MSG}),
    ("nul-in-user", {"model": MODEL, "messages": MSG, "user": "bad\u0000user"}),
    ("long-model", {"model": "m" * 500, "messages": MSG}),
    ("long-user", {"model": MODEL, "messages": MSG, "user": "u" * 5000}),
    ("huge-temperature", {"model": MODEL, "messages": MSG, "temperature": 1e308}),
    ("huge-max-tokens", {"model": MODEL, "messages": MSG, "max_tokens": 2**64 - 1}),
    ("huge-seed", {"model": MODEL, "messages": MSG, "seed": 2**64 - 1}),
    ("huge-n", {"model": MODEL, "messages": MSG, "n": 10**15}),
    ("huge-unknown", {"model": MODEL, "messages": MSG, "x_big": 1e308, "x_int": 2**64 - 1}),
    (
        "huge-max-price",
        {"model": MODEL, "messages": MSG, "provider": {"max_price": {"prompt": 1e308}}},
    ),
    ("nested-junk", {"model": MODEL, "messages": MSG, "x_junk": {"a": [{"b": [None, {}]}]}}),
    ("deep-junk", DEEP_BODY),
    ("list-sort", {"model": MODEL, "messages": MSG, "provider": {"sort": ["price"]}}),
    ("dict-sort-by", {"model": MODEL, "messages": MSG, "provider": {"sort": {"by": {}}}}),
    ("list-partition", {"model": MODEL, "messages": MSG, "provider": {"sort": {"partition": [1]}}}),
    ("list-reasoning-effort", {"model": MODEL, "messages": MSG, "reasoning_effort": ["high"]}),
    ("list-format-type", {"model": MODEL, "messages": MSG, "response_format": {"type": ["x"]}}),
    ("junk-tool-choice", {"model": MODEL, "messages": MSG, "tool_choice": {"type": 5}}),
    (
        "empty-provider-lists",
        {"model": MODEL, "messages": MSG, "provider": {"only": [], "order": []}},
    ),
    ("empty-models", {"model": MODEL, "messages": MSG, "models": []}),
    ("same-model-fallback", {"model": MODEL, "messages": MSG, "models": [MODEL, "nope"]}),
    (
        "junk-tool-calls",
        {
            "model": MODEL,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [1, "x", {"function": 5}]},
                {"role": "user", "content": [{"type": "text", "text": 5}, {"type": "image_url"}]},
            ],
        },
    ),
    (
        "usage-options-junk",
        {"model": MODEL, "messages": MSG, "stream_options": {"include_usage": "y"}},
    ),
    ("stream-with-n-null", {"model": MODEL, "messages": MSG, "stream": True, "n": None}),
]


@pytest.mark.parametrize(("name", "body"), ODD_BODIES, ids=[name for name, _ in ODD_BODIES])
def test_odd_but_valid_json_never_gets_a_5xx(gateway, name, body):
    gateway.channel("main")

    response = post(gateway, body)

    assert response.status_code < 500, response.text
    assert response.headers["x-request-id"]
    if response.status_code != 200:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"]
    record = the_record_of(gateway, response)
    assert record.http_status == response.status_code
    assert record.status == ("ok" if response.status_code == 200 else "error")


def the_record_of(gateway: Gateway, response: httpx.Response) -> UsageRecord:
    """The one record, also for streams (written just after their last event)."""
    deadline = time.monotonic() + 1
    found = gateway.records()
    while not found and time.monotonic() < deadline:
        time.sleep(0.02)
        found = gateway.records()
    assert len(found) == 1, [(r.id, r.http_status) for r in found]
    assert found[0].id == response.headers["x-request-id"]
    return found[0]


def test_headers_of_an_odd_content_type_still_parse(gateway):
    gateway.channel("main")

    response = post(
        gateway, {"model": MODEL, "messages": MESSAGES}, headers={"content-type": "text/plain"}
    )

    assert response.status_code == 200
    assert len(gateway.received()) == 1
    assert gateway.record().status == "ok"

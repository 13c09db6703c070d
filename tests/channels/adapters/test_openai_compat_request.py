"""The OpenAI-compatible adapter: the registry, request building and upstream error messages."""

import copy

import orjson
import pytest

from channels.adapters import adapter_for
from channels.adapters.base import (
    UpstreamTarget,
)
from channels.adapters.openai_compat import OpenAICompatAdapter
from tests.channels.adapters.openai_compat_helpers import ADAPTER, SECRET

# --- the adapter registry -------------------------------------------------------------------


def test_adapter_for_openai_and_unknown_types():
    assert isinstance(adapter_for("openai"), OpenAICompatAdapter)
    with pytest.raises(
        KeyError, match=r"no adapter for api_type 'cohere' \(known: anthropic, gemini, openai\)"
    ):
        adapter_for("cohere")


# --- build_request --------------------------------------------------------------------------

TARGET = UpstreamTarget(base_url="https://api.example.com/v1", api_key=SECRET, upstream_model="m-7")
BODY = {
    "model": "acme/chat-large",
    "messages": [{"role": "user", "content": "Hi"}],
    "temperature": 0.2,
    "top_k": 40,
    "x_vendor_flag": {"nested": [1, 2]},
}


@pytest.mark.parametrize(
    "base_url",
    ["https://api.example.com/v1", "https://api.example.com/v1/", "https://api.example.com/v1//"],
)
def test_request_url_joins_with_or_without_slash(base_url):
    target = UpstreamTarget(base_url=base_url, api_key="k", upstream_model="m")

    request = ADAPTER.build_request(body=BODY, target=target, stream=False)

    assert request.url == "https://api.example.com/v1/chat/completions"


@pytest.mark.parametrize(
    ("api_key", "headers"),
    [
        (SECRET, {"authorization": f"Bearer {SECRET}", "content-type": "application/json"}),
        ("", {"content-type": "application/json"}),
    ],
)
def test_request_headers_carry_the_key_only_when_set(api_key, headers):
    target = UpstreamTarget(base_url="http://vllm:8000/v1", api_key=api_key, upstream_model="m")

    assert ADAPTER.build_request(body=BODY, target=target, stream=False).headers == headers


@pytest.mark.parametrize(
    ("body", "stream", "expected_stream_fields"),
    [
        (BODY, False, {}),
        (
            {**BODY, "stream": True, "stream_options": {"include_usage": True}},
            False,
            {"stream": False},
        ),
        (BODY, True, {"stream": True, "stream_options": {"include_usage": True}}),
        (
            {**BODY, "stream": True, "stream_options": {"include_usage": False}},
            True,
            {"stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            {**BODY, "stream": True, "stream_options": {"include_obfuscation": False}},
            True,
            {
                "stream": True,
                "stream_options": {"include_obfuscation": False, "include_usage": True},
            },
        ),
    ],
)
def test_request_body_replaces_model_keeps_fields_and_forces_usage(
    body, stream, expected_stream_fields
):
    original = copy.deepcopy(body)

    request = ADAPTER.build_request(body=body, target=TARGET, stream=stream)

    sent = orjson.loads(request.content)
    passthrough = {k: v for k, v in body.items() if k not in {"model", "stream", "stream_options"}}
    assert sent == {**passthrough, "model": "m-7", **expected_stream_fields}
    assert body == original  # the caller's mapping is untouched


# --- the answer cap admission reserved for ---------------------------------------------------

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    ("base_url", "body", "reserved", "sent"),
    [
        ("http://vllm:8000/v1", CHAT, 4096, {"max_tokens": 4096}),
        ("https://openrouter.ai/api/v1", {**CHAT, "n": 3}, 700, {"max_tokens": 700}),  # per choice
        ("https://api.openai.com/v1", CHAT, 4096, {"max_completion_tokens": 4096}),
        ("https://API.OpenAI.com/v1/", CHAT, 4096, {"max_completion_tokens": 4096}),
        ("https://acme.openai.azure.com/openai/v1", CHAT, 800, {"max_completion_tokens": 800}),
        ("https://api.openai.com.evil.example/v1", CHAT, 800, {"max_tokens": 800}),
        (
            "http://vllm:8000/v1",
            {**CHAT, "max_completion_tokens": None},
            900,
            {"max_completion_tokens": 900},
        ),
        ("http://vllm:8000/v1", {**CHAT, "max_tokens": None}, 900, {"max_tokens": 900}),
        ("http://vllm:8000/v1", {**CHAT, "max_tokens": 50}, 4096, {"max_tokens": 50}),
        ("https://api.openai.com/v1", {**CHAT, "max_tokens": 50}, 4096, {"max_tokens": 50}),
        (
            "http://vllm:8000/v1",
            {**CHAT, "max_completion_tokens": 60},
            4096,
            {"max_completion_tokens": 60},
        ),
        (
            "http://vllm:8000/v1",
            {**CHAT, "max_tokens": 5000, "max_completion_tokens": 60},
            4096,
            {"max_tokens": 60, "max_completion_tokens": 60},
        ),
        (
            "http://vllm:8000/v1",
            {**CHAT, "max_tokens": 20, "max_completion_tokens": 60},
            4096,
            {"max_tokens": 20, "max_completion_tokens": 60},
        ),
        ("http://vllm:8000/v1", CHAT, None, {}),
    ],
    ids=[
        "default",
        "n",
        "openai",
        "openai-case",
        "azure",
        "lookalike-host",
        "client-spelling",
        "client-null",
        "client-max-tokens",
        "client-max-tokens-at-openai",
        "client-max-completion-tokens",
        "both-lowered-to-the-reserved-one",
        "both-already-lower",
        "no-reserved-cap",
    ],
)
def test_a_request_without_a_cap_gets_the_one_reserved_for(base_url, body, reserved, sent):
    target = UpstreamTarget(base_url, SECRET, "m-7", reserved)

    payload = orjson.loads(ADAPTER.build_request(body=body, target=target, stream=False).content)

    caps = {
        "max_tokens": payload.get("max_tokens"),
        "max_completion_tokens": payload.get("max_completion_tokens"),
    }
    assert {name: cap for name, cap in caps.items() if cap is not None} == sent


# --- error_message --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (
            429,
            b'{"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}',
            "Rate limit reached",
        ),
        (404, b'{"error": {"code": 404, "message": "No endpoints found"}}', "No endpoints found"),
        (400, b'{"error": "model is required"}', "model is required"),
        (500, b'{"message": "Internal failure", "status": 500}', "Internal failure"),
        (502, b"<html>bad gateway</html>", "<html>bad gateway</html>"),
        (503, b"x" * 1000, "x" * 300),
        (500, b'{"error": {"message": ""}}', '{"error": {"message": ""}}'),
        (503, b"", "upstream answered HTTP 503"),
        (504, b"  \n", "upstream answered HTTP 504"),
    ],
)
def test_error_message_reads_the_envelope_or_the_body(status, payload, message):
    assert ADAPTER.error_message(status=status, payload=payload) == message


@pytest.mark.parametrize(
    "payload",
    [
        f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}'.encode(),
        f"invalid key {SECRET}".encode(),
    ],
)
def test_error_message_never_echoes_a_credential(payload):
    message = ADAPTER.error_message(status=401, payload=payload)

    assert SECRET not in message
    assert "[REDACTED]" in message

"""Chat endpoint client errors: 400 naming `param` for invalid bodies, 413 for big ones."""

import openai
import orjson
import pytest
from django.test import override_settings

from tests.gateway.client_errors_helpers import (
    MESSAGES,
    MODEL,
    PATH,
    assert_envelope,
    one_record,
    post,
)

# --- validation: 400 naming param, one record ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"", b"\xff\xfe{}", b'{"model": "gpt-4o-mini",}', b"{'a': 1}"],
    ids=["truncated", "text", "empty", "bad-utf8", "trailing-comma", "single-quotes"],
)
def test_invalid_json_is_400(gateway, raw):
    gateway.channel("main")

    response = post(gateway, raw)

    assert_envelope(response, 400, "invalid_request_error", "invalid_request")
    assert gateway.received() == []
    record = one_record(gateway, response)
    assert (record.status, record.error_code) == ("error", "invalid_request")


@pytest.mark.parametrize(
    "body",
    [[], None, "text", 42, [{"model": MODEL}]],
    ids=["list", "null", "string", "number", "list-of-object"],
)
def test_json_that_is_not_an_object_is_400(gateway, body):
    gateway.channel("main")

    response = post(gateway, body)

    assert_envelope(response, 400, "invalid_request_error", "invalid_request")
    one_record(gateway, response)


BAD_FIELDS = [
    ({"temperature": 3}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"n": 0}, "n"),
    ({"n": 1.5}, "n"),
    ({"messages": []}, "messages"),
    ({"messages": None}, "messages"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"stream": "yes"}, "stream"),
    ({"stream_options": "yes"}, "stream_options"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stop": [1]}, "stop"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_completion_tokens": -5}, "max_completion_tokens"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"logit_bias": {"1": 500}}, "logit_bias"),
    ({"top_logprobs": 5}, "top_logprobs"),
    ({"user": 7}, "user"),
    ({"tools": "calculator"}, "tools"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": [{"function": {"name": "f"}}]}, "tools[0]"),
    ({"tool_choice": 5}, "tool_choice"),
    ({"response_format": {"type": "yaml"}}, "response_format"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"metadata": {"k": 1}}, "metadata"),
    ({"provider": "openai"}, "provider"),
    ({"provider": {"sort": "bogus"}}, "provider.sort"),
    ({"provider": {"sort": {"by": "price", "partition": "x"}}}, "provider.sort.partition"),
    ({"provider": {"only": "openai"}}, "provider.only"),
    ({"provider": {"ignore": [1]}}, "provider.ignore"),
    ({"provider": {"order": [""]}}, "provider.order"),
    ({"provider": {"allow_fallbacks": "no"}}, "provider.allow_fallbacks"),
    ({"provider": {"max_price": {"prompt": -1}}}, "provider.max_price.prompt"),
    ({"provider": {"max_price": "cheap"}}, "provider.max_price"),
    ({"models": "gpt-4o"}, "models"),
    ({"models": [None]}, "models"),
    ({"models": [f"m{i}" for i in range(11)]}, "models"),
]


@pytest.mark.parametrize(
    ("fields", "param"), BAD_FIELDS, ids=[f"{i}-{p}" for i, (_, p) in enumerate(BAD_FIELDS)]
)
def test_wrong_types_and_ranges_are_400_naming_param(gateway, fields, param):
    gateway.channel("main")
    body = {"model": MODEL, "messages": MESSAGES, **fields}

    response = post(gateway, body)

    assert_envelope(response, 400, "invalid_request_error", "invalid_request", param)
    assert param in response.json()["error"]["message"]
    assert gateway.received() == []
    record = one_record(gateway, response)
    assert (record.status, record.http_status, record.error_code, record.model) == (
        "error",
        400,
        "invalid_request",
        MODEL,
    )
    assert (record.cost, record.attempts, record.channel_id) == (0, [], None)


def test_missing_messages_and_model_are_400(gateway):
    gateway.channel("main")

    missing_messages = post(gateway, {"model": MODEL})
    missing_model = post(gateway, {"messages": MESSAGES})

    assert_envelope(missing_messages, 400, "invalid_request_error", "invalid_request", "messages")
    assert_envelope(missing_model, 400, "invalid_request_error", "invalid_request", "model")
    assert gateway.received() == []
    found = gateway.records()
    assert sorted(r.http_status for r in found) == [400, 400]
    assert {r.id for r in found} == {
        missing_messages.headers["x-request-id"],
        missing_model.headers["x-request-id"],
    }


def test_validation_error_through_the_sdk(gateway):
    gateway.channel("main")

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES, temperature=3)

    assert (caught.value.status_code, caught.value.param, caught.value.code) == (
        400,
        "temperature",
        "invalid_request",
    )
    assert caught.value.request_id == gateway.record().id


# --- body size ----------------------------------------------------------------------------


def test_body_over_the_limit_is_413(gateway):
    gateway.channel("main")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}

    with override_settings(GATEWAY_MAX_BODY_BYTES=1000):
        response = post(gateway, body)
        small = post(gateway, {"model": MODEL, "messages": MESSAGES})

    assert_envelope(response, 413, "invalid_request_error", "request_too_large")
    assert small.status_code == 200
    assert len(gateway.received()) == 1
    found = {r.id: r for r in gateway.records()}
    assert len(found) == 2
    record = found[response.headers["x-request-id"]]
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        413,
        "request_too_large",
    )


def test_chunked_body_over_the_limit_is_413(gateway):
    gateway.channel("main")
    payload = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "y" * 5000}]})

    def pieces():
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    with override_settings(GATEWAY_MAX_BODY_BYTES=1000), gateway.http() as http:
        response = http.post(PATH, content=pieces(), headers={"content-type": "application/json"})

    assert_envelope(response, 413, "invalid_request_error", "request_too_large")
    assert gateway.received() == []
    one_record(gateway, response)


def test_body_over_django_upload_limit_is_413_too(gateway):
    gateway.channel("main")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "z" * 3000}]}

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, GATEWAY_MAX_BODY_BYTES=100_000):
        response = post(gateway, body)

    assert_envelope(response, 413, "invalid_request_error", "request_too_large")
    assert gateway.received() == []
    one_record(gateway, response)

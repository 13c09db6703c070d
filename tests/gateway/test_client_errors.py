"""Every client-facing error of the chat endpoint: status, envelope, `param`, headers, records.

Errors answered before authentication leave no usage record; every authenticated request leaves
exactly one, whatever its outcome. Client input never causes a 5xx.
"""

import time
from datetime import timedelta
from typing import Any

import httpx
import openai
import orjson
import pytest
from django.test import override_settings
from django.utils import timezone

from billing.models import UsageRecord
from billing.services import api_key_create, api_key_revoke
from gateway import auth
from tests.gateway.conftest import Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
PATH = "/v1/chat/completions"


def post(gateway: Gateway, body: Any, *, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a body (JSON-encoded unless bytes) with the test key."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    with gateway.http() as http:
        return http.post(
            PATH, content=content, headers={"content-type": "application/json", **(headers or {})}
        )


def assert_envelope(
    response: httpx.Response, status: int, type_: str, code: str, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error envelope with these fields, and an x-request-id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (type_, code, param)
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def one_record(gateway: Gateway, response: httpx.Response) -> UsageRecord:
    """The request's one record, matching the response's id and status."""
    record = gateway.record()
    assert record.id == response.headers["x-request-id"]
    assert record.http_status == response.status_code
    return record


# --- authentication: 401, no record ------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token sk-sy-abc",
        "sk-sy-abc",
        "Bearer sk-sy-not-a-real-key",
        "Bearer not-even-our-scheme",
        "Bearer " + "x" * 5000,
    ],
    ids=[
        "missing",
        "empty",
        "bearer-only",
        "basic",
        "token-scheme",
        "no-scheme",
        "unknown-key",
        "foreign-key",
        "huge",
    ],
)
def test_bad_credentials_are_401_without_a_record(gateway, authorization):
    gateway.channel("main")
    headers = {} if authorization is None else {"Authorization": authorization}

    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = http.post(PATH, json={"model": MODEL, "messages": MESSAGES}, headers=headers)

    assert_envelope(response, 401, "authentication_error", "invalid_api_key")
    assert gateway.received() == []
    assert gateway.records() == []


def test_unknown_key_through_the_sdk(gateway):
    gateway.channel("main")

    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(key="sk-sy-unknown").chat.completions.create(model=MODEL, messages=MESSAGES)

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "authentication_error"
    assert caught.value.request_id
    assert gateway.received() == []
    assert gateway.records() == []


def test_scheme_is_case_insensitive(gateway):
    gateway.channel("main")

    response = post(gateway, {"model": MODEL, "messages": MESSAGES}, headers={})
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        lower = http.post(
            PATH,
            json={"model": MODEL, "messages": MESSAGES},
            headers={"Authorization": f"bearer {gateway.key}"},
        )

    assert response.status_code == 200
    assert lower.status_code == 200
    assert len(gateway.received()) == 2
    assert len(gateway.records()) == 2


def test_revoked_key_is_401(gateway):
    gateway.channel("main")
    key, secret = api_key_create(account=gateway.account, name="to-revoke")
    client = gateway.client(key=secret)
    client.chat.completions.create(model=MODEL, messages=MESSAGES)

    api_key_revoke(key=key)
    auth.forget_keys()
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert caught.value.code == "invalid_api_key"
    assert "revoked" in caught.value.message
    assert caught.value.request_id
    assert len(gateway.received()) == 1, "only the request before the revocation went upstream"
    (record,) = gateway.records()
    assert (record.key_id, record.status) == (key.pk, "ok")


def test_expired_key_is_401(gateway):
    gateway.channel("main")
    _, secret = api_key_create(
        account=gateway.account, name="old", expires_at=timezone.now() - timedelta(minutes=1)
    )

    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(key=secret).chat.completions.create(model=MODEL, messages=MESSAGES)

    assert caught.value.code == "invalid_api_key"
    assert "expired" in caught.value.message
    assert gateway.received() == []
    assert gateway.records() == []


def test_key_expiring_later_works(gateway):
    gateway.channel("main")
    _, secret = api_key_create(
        account=gateway.account, name="fresh", expires_at=timezone.now() + timedelta(hours=1)
    )

    completion = gateway.client(key=secret).chat.completions.create(model=MODEL, messages=MESSAGES)

    assert completion.choices[0].message.content
    assert len(gateway.received()) == 1
    assert gateway.record().status == "ok"


# --- models and routing: after authentication, one record each ----------------------------


def test_model_outside_the_allowlist_is_403(gateway):
    gateway.channel("main", models={MODEL: MODEL, "gpt-4o": "gpt-4o"})
    key = gateway.new_key(allowed_models=["gpt-4o"])

    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.client(key=key).chat.completions.create(model=MODEL, messages=MESSAGES)

    error = caught.value
    assert (error.status_code, error.type, error.code, error.param) == (
        403,
        "permission_error",
        "model_not_allowed",
        "model",
    )
    assert error.request_id
    assert gateway.received() == []
    record = gateway.record()
    assert record.id == error.request_id
    assert (record.status, record.http_status, record.error_code, record.model) == (
        "error",
        403,
        "model_not_allowed",
        MODEL,
    )
    assert (record.cost, record.attempts) == (0, [])


def test_unknown_model_is_404(gateway):
    gateway.channel("main")

    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(model="gpt-9", messages=MESSAGES)

    error = caught.value
    assert (error.status_code, error.type, error.code, error.param) == (
        404,
        "invalid_request_error",
        "model_not_found",
        "model",
    )
    assert "gpt-9" in error.message
    assert gateway.received() == []
    record = gateway.record()
    assert (record.http_status, record.error_code, record.model) == (
        404,
        "model_not_found",
        "gpt-9",
    )


def test_unknown_model_is_404_even_when_the_key_has_an_allowlist(gateway):
    gateway.channel("main")
    key = gateway.new_key(allowed_models=[MODEL])

    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client(key=key).chat.completions.create(model="gpt-9", messages=MESSAGES)

    assert caught.value.code == "model_not_found"
    assert gateway.record().http_status == 404


def test_disabled_channels_do_not_serve(gateway):
    gateway.channel("off", enabled=False)

    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES)

    assert caught.value.code == "model_not_found"
    assert gateway.received() == []
    assert gateway.record().http_status == 404


@pytest.mark.parametrize(
    "provider",
    [
        {"only": ["nobody"]},
        {"ignore": ["openai"]},
        {"order": ["nobody"], "allow_fallbacks": False},
        {"max_price": {"prompt": 0.1}},
    ],
    ids=["only", "ignore", "order-no-fallbacks", "max_price"],
)
def test_filters_leaving_nothing_are_404_no_available_channel(gateway, provider):
    gateway.channel("main")

    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(
            model=MODEL, messages=MESSAGES, extra_body={"provider": provider}
        )

    error = caught.value
    assert (error.status_code, error.type, error.code) == (
        404,
        "invalid_request_error",
        "no_available_channel",
    )
    assert error.request_id
    assert gateway.received() == []
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        404,
        "no_available_channel",
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_every_channel_down_is_503_no_healthy_channel(gateway, stream):
    gateway.channel("down-1", status="down")
    gateway.channel("down-2", provider="azure", status="down")

    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=stream)

    error = caught.value
    assert (error.status_code, error.type, error.code) == (
        503,
        "upstream_error",
        "no_healthy_channel",
    )
    assert error.request_id
    assert gateway.received() == []
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code, record.stream) == (
        "error",
        503,
        "no_healthy_channel",
        stream,
    )


def test_a_down_channel_is_skipped_when_another_is_up(gateway):
    gateway.channel("down", models={MODEL: "down-model"}, status="down", priority=5)
    gateway.channel("up", models={MODEL: "up-model"})

    completion = gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES)

    assert completion.choices[0].message.content
    assert [r["body"]["model"] for r in gateway.received()] == ["up-model"]
    record = gateway.record()
    assert [a["channel"] for a in record.attempts] == ["up"]


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

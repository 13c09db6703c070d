"""Chat endpoint client errors: 401 before authentication, then model and routing errors."""

from datetime import timedelta

import httpx
import openai
import pytest
from django.utils import timezone

from billing.services import api_key_create, api_key_revoke
from gateway import auth
from tests.gateway.client_errors_helpers import MESSAGES, MODEL, PATH, assert_envelope, post

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

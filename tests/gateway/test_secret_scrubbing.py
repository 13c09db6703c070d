"""No channel secret in any echo (#12.4): an upstream that repeats the channel's key in its
error, raw or encoded, leaks it to no client answer, `/v1/generation`, usage record, log line,
dashboard page or stored probe — whatever the key's shape and the channel's protocol."""

import base64
import html
import json
import logging
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import openai
import pytest
from django.forms.models import model_to_dict
from django.test import Client

from bench.fake_upstream import fault_model
from billing.models import UsageRecord
from channels.models import Channel, HealthCheck, ProbeMode
from channels.services import ModelOffer, channel_create
from channels.tasks import probe_channel_task
from core.log_filters import REDACTED
from gateway import catalog
from tests.gateway.conftest import Gateway
from tests.secret_shapes import SECRETS

MODEL = "acme/chat"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
UPSTREAM_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
}
SECRET = pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
API_TYPE = pytest.mark.parametrize("api_type", UPSTREAM_MODELS)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaks(secret: str) -> list[str]:
    """What a page or body must not contain: the secret in the fake upstream's encodings, and
    any 12 consecutive characters of it."""
    forms = [
        quote(secret, safe=""),
        quote_plus(secret),
        secret.replace("/", "\\/"),
        b64(secret),
        b64("user:" + secret),
        b64(secret + ":"),
        b64(":" + secret),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        secret[:10] + "...",
    ]
    return forms + [secret[i : i + 12] for i in range(len(secret) - 11)]


def assert_no_leak(secret: str, **places: str) -> None:
    for place, text in places.items():
        for leak in leaks(secret):
            assert leak not in text, f"{leak!r} leaked in {place}"
            assert leak not in html.unescape(text), f"{leak!r} leaked in {place}"


def secret_channel(
    gateway: Gateway,
    secret: str,
    api_type: str,
    *,
    probe_mode: str = ProbeMode.MODELS,
    **fault: Any,
) -> Channel:
    """A channel holding `secret`, whose upstream answers with the fault `fault`."""
    root = gateway.upstream.url
    channel = channel_create(
        name=f"leaky-{api_type}",
        provider=api_type,
        api_type=api_type,
        base_url=root + "/v1" if api_type == "openai" else root,
        api_key=secret,
        models=[
            ModelOffer(
                model=MODEL,
                upstream_model=fault_model(UPSTREAM_MODELS[api_type], **fault),
                input_price=Decimal(1),
                output_price=Decimal(2),
            )
        ],
        probe_mode=probe_mode,
    )
    catalog.invalidate_catalog()
    gateway.channels.append(channel)
    return channel


def staff_pages(staff_user: Any, *paths: str) -> str:
    """The dashboard pages at `paths`, as a logged-in operator sees them."""
    browser = Client()
    browser.force_login(staff_user)
    pages = []
    for path in paths:
        response = browser.get(path)
        assert response.status_code == 200, path
        pages.append(response.content.decode())
    return "\n".join(pages)


def stored(record: UsageRecord) -> str:
    """Every field of a usage record, attempts included, as the database holds them."""
    return json.dumps(model_to_dict(record), default=str)


def generation(gateway: Gateway, request_id: str) -> str:
    with gateway.http() as http:
        response = http.get("/v1/generation", params={"id": request_id})
    assert response.status_code == 200
    return response.text


def everywhere(gateway: Gateway, staff_user: Any, request_id: str, channel: Channel) -> dict:
    """Where a request's upstream error ends up: its record, /v1/generation, the pages."""
    [record] = gateway.wait_records(1)
    assert record.id == request_id
    pages = staff_pages(staff_user, f"/dashboard/usage/{record.id}/", "/dashboard/channels/")
    return {
        "usage record": stored(record),
        "/v1/generation": generation(gateway, request_id),
        "dashboard": pages,
        "attempt errors": " ".join(a["error"] for a in record.attempts),
    }


# --- upstream error answers ----------------------------------------------------------------


@API_TYPE
@SECRET
def test_an_echoing_503_leaks_the_secret_nowhere(gateway, staff_user, caplog, secret, api_type):
    channel = secret_channel(gateway, secret, api_type, status=503, echo_credential=True)

    with caplog.at_level(logging.DEBUG), pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES)

    error = caught.value
    assert error.status_code == 503
    answer = error.response.text
    assert "all_channels_failed" in answer
    assert "received credential" in answer  # the echo reached the gateway ...
    assert REDACTED in answer  # ... and was scrubbed
    places = everywhere(gateway, staff_user, error.response.headers["x-request-id"], channel)
    assert REDACTED in places["attempt errors"]
    assert_no_leak(secret, client=answer, logs=caplog.text, **places)


@API_TYPE
@SECRET
def test_an_echoing_400_passed_on_as_the_clients_own_leaks_nothing(
    gateway, staff_user, secret, api_type
):
    channel = secret_channel(gateway, secret, api_type, status=400, echo_credential=True)

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model=MODEL, messages=MESSAGES)

    answer = caught.value.response.text
    assert "received credential" in answer
    assert REDACTED in answer
    request_id = caught.value.response.headers["x-request-id"]
    assert_no_leak(secret, client=answer, **everywhere(gateway, staff_user, request_id, channel))


# --- errors inside a stream ----------------------------------------------------------------


def streamed(gateway: Gateway) -> httpx.Response:
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    with gateway.http() as http:
        response = http.post("/v1/chat/completions", json=body)
        response.read()
    return response


@API_TYPE
@SECRET
def test_an_echoing_error_event_after_content_leaks_nothing(
    gateway, staff_user, caplog, secret, api_type
):
    # Paced, so the content reaches the gateway before the error event does.
    channel = secret_channel(
        gateway, secret, api_type, error_after=5, chunk_delay_ms=30, echo_credential=True
    )

    with caplog.at_level(logging.DEBUG):
        response = streamed(gateway)

    assert response.status_code == 200  # committed: the error is in-band
    assert "received credential" in response.text
    assert REDACTED in response.text
    places = everywhere(gateway, staff_user, response.headers["x-request-id"], channel)
    assert_no_leak(secret, client=response.text, logs=caplog.text, **places)


@API_TYPE
@SECRET
def test_an_echoing_error_event_before_content_leaks_nothing(gateway, staff_user, secret, api_type):
    channel = secret_channel(gateway, secret, api_type, error_after=0, echo_credential=True)

    response = streamed(gateway)

    assert response.status_code == 503  # not committed: every channel failed
    assert REDACTED in response.text
    places = everywhere(gateway, staff_user, response.headers["x-request-id"], channel)
    assert_no_leak(secret, client=response.text, **places)


# --- health probes -------------------------------------------------------------------------


@API_TYPE
@SECRET
def test_an_echoing_probe_stores_and_shows_no_secret(gateway, staff_user, caplog, secret, api_type):
    channel = secret_channel(
        gateway,
        secret,
        api_type,
        probe_mode=ProbeMode.COMPLETION,
        status=503,
        echo_credential=True,
    )
    browser = Client()
    browser.force_login(staff_user)

    with caplog.at_level(logging.DEBUG):
        page = browser.post(f"/dashboard/channels/{channel.pk}/test/", follow=True)
        assert probe_channel_task(channel.pk) is True  # the scheduled probe, as a worker runs it

    assert page.status_code == 200
    html = page.content.decode()
    assert "probe failed" in html
    checks = list(HealthCheck.objects.filter(channel=channel))
    assert len(checks) == 2
    assert all(REDACTED in check.error for check in checks)
    channel.refresh_from_db()
    stored_checks = json.dumps([model_to_dict(check) for check in checks], default=str)
    assert_no_leak(
        secret,
        page=html,
        health_checks=stored_checks,
        channel=json.dumps(model_to_dict(channel, exclude=["api_key"]), default=str),
        logs=caplog.text,
    )

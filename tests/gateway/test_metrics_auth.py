"""GATEWAY_METRICS_TOKEN: `/metrics` only for its bearer, `/readyz` says ready or not to anyone
but names its checks only to the bearer, `/healthz` stays open; unset, all three are open."""

import httpx
import pytest
from django.test import override_settings

from gateway.metrics import METRICS_TOKEN_REQUIRED

TOKEN = "metrics-token-for-tests-" + "Zq8" * 10
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def protected(settings):
    settings.GATEWAY_METRICS_TOKEN = TOKEN


def get(gateway, path: str, authorization: str | None = None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        return http.get(path, headers=headers)


def test_metrics_are_open_without_a_token(gateway):
    response = get(gateway, "/metrics")

    assert response.status_code == 200
    assert "switchyard_requests_total" in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer wrong-token", id="wrong-token"),
        pytest.param(f"Bearer {TOKEN}x", id="token-with-a-suffix"),
        pytest.param(f"Bearer {TOKEN[:-1]}", id="token-prefix"),
        pytest.param(f"Basic {TOKEN}", id="other-scheme"),
        pytest.param(TOKEN, id="no-scheme"),
        pytest.param("Bearer", id="empty-token"),
    ],
)
def test_metrics_refuse_a_request_without_the_token(gateway, protected, authorization):
    gateway.channel("secret-channel-name", models={"auth-model": "good"})
    gateway.client().chat.completions.create(model="auth-model", messages=MESSAGES)

    response = get(gateway, "/metrics", authorization)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.text == METRICS_TOKEN_REQUIRED
    assert "secret-channel-name" not in response.text


def test_metrics_answer_the_token(gateway, protected):
    gateway.channel("metered-channel", models={"auth-model": "good"})
    gateway.client().chat.completions.create(model="auth-model", messages=MESSAGES)

    response = get(gateway, "/metrics", f"Bearer {TOKEN}")
    lowercase_scheme = get(gateway, "/metrics", f"bearer {TOKEN}")

    assert response.status_code == 200
    assert 'channel="metered-channel"' in response.text
    assert "switchyard_cost_usd_total" in response.text
    assert lowercase_scheme.status_code == 200


def test_a_client_api_key_is_not_the_metrics_token(gateway, protected):
    assert get(gateway, "/metrics", f"Bearer {gateway.key}").status_code == 401


def test_healthz_stays_open_with_a_token(gateway, protected):
    response = get(gateway, "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_says_only_ready_without_the_token(gateway, protected):
    response = get(gateway, "/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_its_checks_to_the_token(gateway, protected):
    response = get(gateway, "/readyz", f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "redis": True}}


@pytest.mark.django_db
def test_readyz_not_ready_names_nothing_without_the_token(client, protected):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        anonymous = client.get("/readyz")
        bearer = client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})

    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unavailable"}
    assert bearer.status_code == 503
    assert bearer.json()["checks"] == {"database": True, "redis": False}

"""Service probes: `/healthz` says the process is alive, `/readyz` that its dependencies answer."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "redis": True}}


def test_readyz_fails_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "redis": False}


def test_readyz_without_redis_configured_checks_only_the_database(client):
    with override_settings(REDIS_URL=""):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "redis": None}

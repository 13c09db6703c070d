"""Shared fixtures: a staff user with every Switchyard permission and a DRF token, API clients,
and a clean Redis per test."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Each test starts with an empty cache (the real Redis under `make test`)."""
    cache.clear()


SWITCHYARD_APPS = ("channels", "billing", "reports")


@pytest.fixture
def staff_user(db: None) -> User:
    """A staff user holding every permission of the Switchyard apps, as an operator of the
    management API and the dashboard."""
    user = User.objects.create_user("operator", password="operator-pass", is_staff=True)
    perms = Permission.objects.filter(content_type__app_label__in=SWITCHYARD_APPS)
    user.user_permissions.set(perms)
    return user


@pytest.fixture
def staff_client(staff_user: User) -> APIClient:
    """An API client authenticated as staff with a DRF token (`Authorization: Token …`)."""
    token = Token.objects.create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def redis_url() -> str:
    """The Redis that `make test` started; tests needing it skip in the SQLite run."""
    if not settings.REDIS_URL and connection.vendor == "sqlite":
        pytest.skip("needs Redis, which the SQLite run (config.settings.test_sqlite) has not")
    assert settings.REDIS_URL, "the suite runs with REDIS_URL set (make test)"
    return str(settings.REDIS_URL)

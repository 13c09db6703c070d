"""Shared URLs and helpers for the billing management API tests."""

from datetime import datetime

from django.utils.dateparse import parse_datetime

from billing.models import ApiKey

ACCOUNTS = "/api/admin/accounts/"
KEYS = "/api/admin/keys/"
USAGE = "/api/admin/usage/"
PAGE_FIELDS = {"count", "next", "previous", "results"}


def account_url(account_id: int) -> str:
    return f"{ACCOUNTS}{account_id}/"


def credits_url(account_id: int) -> str:
    return f"{ACCOUNTS}{account_id}/credits/"


def key_url(key_id: int) -> str:
    return f"{KEYS}{key_id}/"


def secret_of(key: ApiKey) -> str:
    """The plaintext secret ApiKeyFactory leaves on the key."""
    return str(key.secret)  # type: ignore[attr-defined]


def as_time(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)

"""Fuzzed chat completion bodies against the live gateway, with the valid key: any JSON value,
plausible bodies with wrong types anywhere, deep nesting, bytes that are not JSON."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as fuzz
from tests.fuzz.live import FUZZ, FuzzRequest, exchange

# The gateway's data is committed by the package's fixture; the mark makes pytest-django set up
# the test database (the tests themselves never touch it).
pytestmark = pytest.mark.django_db

chat_path = st.sampled_from(fuzz.CHAT_PATHS)


def post(key: str, path: str, body: bytes, content_type: str | None = "application/json"):
    headers = [(b"authorization", f"Bearer {key}".encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    return FuzzRequest("POST", path, tuple(headers), body)


@settings(FUZZ, max_examples=150)
@given(value=fuzz.json_value, ascii_only=st.booleans(), path=chat_path)
def test_any_json_value_is_answered_within_the_rule(live_gateway, http, value, ascii_only, path):
    body = fuzz.encode(value, ascii_only=ascii_only)
    exchange(live_gateway, http, post(live_gateway.key, path, body))


@settings(FUZZ, max_examples=400)
@given(body=fuzz.chat_body, ascii_only=st.booleans(), path=chat_path)
def test_chat_bodies_with_wrong_types_are_answered_within_the_rule(
    live_gateway, http, body: dict[str, Any], ascii_only, path
):
    encoded = fuzz.encode(body, ascii_only=ascii_only)
    exchange(live_gateway, http, post(live_gateway.key, path, encoded))


@settings(FUZZ, max_examples=40)
@given(body=fuzz.deep_body(), path=chat_path)
def test_deeply_nested_bodies_are_answered_within_the_rule(live_gateway, http, body, path):
    exchange(live_gateway, http, post(live_gateway.key, path, body))


@settings(FUZZ, max_examples=100)
@given(body=fuzz.odd_body, content_type=fuzz.content_type, path=chat_path)
def test_bytes_that_are_not_json_are_answered_within_the_rule(
    live_gateway, http, body, content_type, path
):
    exchange(live_gateway, http, post(live_gateway.key, path, body, content_type))

"""Shared request and assertion helpers for the chat endpoint's client-error tests."""

from typing import Any

import httpx
import orjson

from billing.models import UsageRecord
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

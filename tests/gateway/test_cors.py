"""CORS for browser clients: an allowed origin's preflight is answered at once, its responses
carry the CORS headers a browser needs to read them; other origins, requests without an origin
and an empty configuration pass through untouched."""

import asyncio
from typing import Any

import httpx
import pytest

from gateway.asgi import ClientApiHandler
from gateway.edge.cors import Cors

APP = "https://app.example.com"
REQUESTED_HEADERS = "authorization, content-type, x-stainless-os, anthropic-version"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": REQUESTED_HEADERS,
}
BODY = b'{"ok": true}'


class TinyApp:
    """A client API stand-in: answers OPTIONS with `Allow`, anything else with a streamed
    JSON body and an `x-request-id`; counts the requests it saw."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        if scope["method"] == "OPTIONS":
            headers = [(b"allow", b"GET, POST, OPTIONS")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"application/json"), (b"x-request-id", b"req_1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY[:5], "more_body": True})
        await send({"type": "http.response.body", "body": BODY[5:]})


def call(
    app: Any, method: str, path: str = "/v1/chat/completions", headers: dict[str, str] | None = None
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return await http.request(method, path, headers=headers)

    return asyncio.run(go())


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("access-control-") or name == "vary"
    }


@pytest.mark.parametrize(
    ("origins", "origin"),
    [
        pytest.param([APP], APP, id="listed"),
        pytest.param(["https://other.example.com", APP], APP, id="second-listed"),
        pytest.param(["HTTPS://App.Example.com/"], APP, id="listed-in-capitals-with-a-slash"),
        pytest.param(["*"], "https://anyone.example.net", id="any-origin"),
        pytest.param(["*"], "null", id="any-origin-sandboxed"),
    ],
)
def test_an_allowed_origin_can_read_the_response(origins, origin):
    app = TinyApp()

    response = call(Cors(app, origins=origins), "POST", headers={"Origin": origin})

    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["vary"] == "Origin"
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert {"x-request-id", "x-switchyard-channel", "retry-after"} <= set(exposed)
    assert {"x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"} <= set(exposed)
    assert response.headers["x-request-id"] == "req_1"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("origins", "headers"),
    [
        pytest.param([APP], {}, id="no-origin"),
        pytest.param([APP], {"Origin": "https://evil.example.com"}, id="other-origin"),
        pytest.param([APP], {"Origin": APP + ".evil.net"}, id="listed-origin-as-a-prefix"),
        pytest.param([APP], {"Origin": "http://app.example.com"}, id="other-scheme"),
        pytest.param([], {"Origin": APP}, id="cors-off"),
        pytest.param([""], {"Origin": APP}, id="empty-setting"),
    ],
)
def test_other_requests_pass_through_untouched(origins, headers):
    app = TinyApp()

    response = call(Cors(app, origins=origins), "POST", headers=headers)
    bare = call(TinyApp(), "POST", headers=headers)

    assert response.content == BODY
    assert cors_headers(response) == {}
    assert response.headers == bare.headers


def test_an_allowed_origin_preflight_is_answered_at_once():
    app = TinyApp()

    response = call(Cors(app, origins=[APP]), "OPTIONS", headers=PREFLIGHT)

    assert response.status_code == 204
    assert response.content == b""
    assert app.calls == 0
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-allow-headers"] == REQUESTED_HEADERS
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_asking_no_headers_is_allowed_none():
    preflight = {"Origin": APP, "Access-Control-Request-Method": "GET"}

    response = call(Cors(TinyApp(), origins=["*"]), "OPTIONS", headers=preflight)

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-headers" not in response.headers


def test_another_origins_preflight_goes_to_the_app_without_cors():
    app = TinyApp()
    preflight = PREFLIGHT | {"Origin": "https://evil.example.com"}

    response = call(Cors(app, origins=[APP]), "OPTIONS", headers=preflight)

    assert app.calls == 1
    assert response.status_code == 200
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert cors_headers(response) == {}


def test_a_plain_options_request_from_an_allowed_origin_is_the_apps():
    app = TinyApp()

    response = call(Cors(app, origins=[APP]), "OPTIONS", headers={"Origin": APP})

    assert app.calls == 1
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-allow-origin"] == APP


@pytest.mark.django_db
def test_the_client_api_refusal_is_readable_by_an_allowed_origin():
    """Around the real client API handler: a browser sees the 401's OpenAI envelope."""
    wrapped = Cors(ClientApiHandler(), origins=[APP])

    refused = call(wrapped, "GET", "/v1/models", {"Origin": APP})
    preflight = call(wrapped, "OPTIONS", "/v1/chat/completions", PREFLIGHT)

    assert refused.status_code == 401
    assert refused.json()["error"]["type"]
    assert refused.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in refused.headers["access-control-expose-headers"]
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-headers"] == REQUESTED_HEADERS

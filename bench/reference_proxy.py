"""The benchmark's floor: a bare Django async pass-through to the upstream (no database), for
OpenAI's `/v1/chat/completions` and `/v1/responses`, and Anthropic's `/v1/messages`.

Serve it like the gateway: ``BENCH_UPSTREAM_URL=http://127.0.0.1:9100/v1 uvicorn
bench.reference_proxy:application --no-access-log``.
"""

import os
from collections.abc import AsyncIterator

import httpx
import orjson
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

UPSTREAM_URL = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:9100/v1")
HEADERS = {"authorization": "Bearer bench-reference", "content-type": "application/json"}
MESSAGES_HEADERS = {
    "x-api-key": "bench-reference",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
CONNECT_TIMEOUT = 5.0  # the gateway's default GATEWAY_CONNECT_TIMEOUT

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-reference-proxy-not-a-secret",  # noqa: S106 (signs nothing)
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)

from gateway.upstream_client import build_upstream_client  # noqa: E402 (needs settings)

_client: httpx.AsyncClient | None = None


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


async def _forward(
    request: HttpRequest, path: str, headers: dict[str, str]
) -> HttpResponse | StreamingHttpResponse:
    """Forward the body to `path` upstream; return its JSON, or relay its stream byte for byte."""
    global _client  # one client per process, like the gateway's
    if _client is None:
        _client = build_upstream_client(connect_timeout=CONNECT_TIMEOUT)
    body = request.body
    url = f"{UPSTREAM_URL}{path}"
    if orjson.loads(body).get("stream") is not True:
        answer = await _client.post(url, content=body, headers=headers)
        return HttpResponse(
            answer.content, status=answer.status_code, content_type="application/json"
        )
    upstream = await _client.send(
        _client.build_request("POST", url, content=body, headers=headers), stream=True
    )
    return StreamingHttpResponse(
        _relay(upstream), status=upstream.status_code, content_type="text/event-stream"
    )


async def chat_completions(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """OpenAI chat completions, passed through."""
    return await _forward(request, "/chat/completions", HEADERS)


async def responses(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """OpenAI Responses, passed through (key fixed, as for chat)."""
    return await _forward(request, "/responses", HEADERS)


async def messages(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Anthropic Messages, passed through (key and `anthropic-version` fixed, as for chat)."""
    return await _forward(request, "/messages", MESSAGES_HEADERS)


urlpatterns = [
    path("v1/chat/completions", chat_completions),
    path("v1/responses", responses),
    path("v1/messages", messages),
]

application = get_asgi_application()

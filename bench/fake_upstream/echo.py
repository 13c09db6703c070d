"""The `echo_credential` fault: an error that repeats the credential the request presented, as
careless upstreams do, raw and in the encodings a leak would take, to test a gateway's
scrubbing."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from aiohttp import web

from bench.fake_upstream.sse import STREAM_ERROR_MESSAGE

CREDENTIAL_HEADERS = ("Authorization", "x-api-key", "x-goog-api-key")
ECHO_PREFIX_CHARS = 10
ESCAPED_SLASH = "\\/"  # how PHP's and some Java encoders write "/" inside a JSON string


def credential_echo(request: web.Request, key: str) -> str:
    """The key as presented (header or `?key=`), raw, URL-encoded, JSON-escaped, in base64
    alone and in Basic-auth forms, and a truncated hint."""
    presented = [
        f"{name}: {request.headers[name]}" for name in CREDENTIAL_HEADERS if name in request.headers
    ]
    if "key" in request.query:
        presented.append(f"query key={request.query['key']}")

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    forms = [
        *presented,
        f"raw={key}",
        f"url={quote(key, safe='')}",
        f"form={quote_plus(key)}",
        "json=" + json.dumps(key)[1:-1].replace("/", ESCAPED_SLASH),
        f"base64={b64(key)}",
        f"urlsafe={base64.urlsafe_b64encode(key.encode()).decode()}",
        f"basic=Basic {b64('user:' + key)}",
        f"basic_key_as_user=Basic {b64(key + ':')}",
        f"basic_no_user=Basic {b64(':' + key)}",
        f"hint={key[:ECHO_PREFIX_CHARS]}...",
    ]
    return "received credential " + "; ".join(forms)


def echoed_event(event: bytes, echo: str) -> bytes:
    """A dialect's stream error event with the echo in its message (JSON-escaped)."""
    escaped = json.dumps(f"{STREAM_ERROR_MESSAGE}: {echo}")[1:-1]
    return event.replace(STREAM_ERROR_MESSAGE.encode(), escaped.encode(), 1)

"""OpenAI error envelopes the fake upstream answers with."""

from __future__ import annotations

from bench.fake_upstream.openai_dialect import dumps

INJECTED_MESSAGE = "Fake upstream injected HTTP {status} fault"
INVALID_KEY_MESSAGE = "Incorrect API key provided to the fake upstream"
DIRECTIVE_CODE = "invalid_fault_directive"

# status -> (type, code), as real providers answer them.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout_error", "request_timeout"),
    409: ("conflict_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("timeout_error", "gateway_timeout"),
    529: ("overloaded_error", "overloaded"),
}


def error_body(message: str, *, type_: str, code: str | None, param: str | None = None) -> bytes:
    """Render ``{"error": {"message", "type", "param", "code"}}`` as compact JSON bytes."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    return dumps({"error": error}).encode()


def status_error(status: int) -> tuple[str, str]:
    """Return the (type, code) for an HTTP error status, with a generic fallback per class."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return (
        ("invalid_request_error", "fake_error") if status < 500 else ("server_error", "fake_error")
    )

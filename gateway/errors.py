"""The gateway's error family: each knows its HTTP status, OpenAI `type` and `code`."""

import math
from typing import Any, ClassVar

import orjson


class GatewayError(Exception):
    """An error answered to the client in the OpenAI envelope (JSON, or one SSE event)."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.http_status = status or self.status
        self.error_code = code or self.code
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        """`{"error": {"message", "type", "param", "code"}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.error_code,
            }
        }

    def body(self) -> bytes:
        """The envelope as JSON bytes."""
        return orjson.dumps(self.envelope())

    def headers(self) -> dict[str, str]:
        """Extra response headers: `retry-after` when known, in whole seconds rounded up (1 to
        60), so that a retry after it is never early."""
        if self.retry_after is None:
            return {}
        return {"retry-after": str(retry_after_seconds(self.retry_after))}


RETRY_AFTER_CAP = 60  # what every OpenAI SDK version honours


def retry_after_seconds(seconds: float, *, cap: int | None = RETRY_AFTER_CAP) -> int:
    """A wait as `retry-after` says it: whole seconds, rounded up, at least 1 (and at most
    `cap`, when there is one)."""
    whole = max(1, math.ceil(seconds))
    return whole if cap is None else min(cap, whole)


class InvalidRequest(GatewayError):
    """The request body is malformed or out of range; `param` names the field."""

    status, type, code = 400, "invalid_request_error", "invalid_request"


class RequestTooLarge(GatewayError):
    """The request body exceeds GATEWAY_MAX_BODY_BYTES."""

    status, type, code = 413, "invalid_request_error", "request_too_large"


class RequestTimeout(GatewayError):
    """The request body stopped arriving before it was complete."""

    status, type, code = 408, "invalid_request_error", "request_timeout"


class NotFound(GatewayError):
    """No client API endpoint has this path."""

    status, type, code = 404, "invalid_request_error", "not_found"


class ShuttingDown(GatewayError):
    """The process is shutting down and its grace period ended before the answer did."""

    status, type, code = 503, "server_error", "gateway_shutting_down"


class InvalidApiKey(GatewayError):
    """The client's gateway key is missing, unknown, revoked or expired."""

    status, type, code = 401, "authentication_error", "invalid_api_key"


class MethodNotAllowed(GatewayError):
    """The endpoint does not answer this HTTP method."""

    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class ModelNotAllowed(GatewayError):
    """The key's allowlist does not include the model."""

    status, type, code = 403, "permission_error", "model_not_allowed"


class ModelNotFound(GatewayError):
    """No enabled channel serves the model."""

    status, type, code = 404, "invalid_request_error", "model_not_found"


class GenerationNotFound(GatewayError):
    """No usage record with that id was made with the calling key."""

    status, type, code = 404, "invalid_request_error", "generation_not_found"


class NoAvailableChannel(GatewayError):
    """Routing filters (only, ignore, order without fallbacks, max_price) left no channel."""

    status, type, code = 404, "invalid_request_error", "no_available_channel"


class NoHealthyChannel(GatewayError):
    """Every candidate channel is marked down or its breaker is open."""

    status, type, code = 503, "upstream_error", "no_healthy_channel"


class AllChannelsFailed(GatewayError):
    """Every attempt failed; 429 when all were rate limited, 504 when all timed out."""

    status, type, code = 503, "upstream_error", "all_channels_failed"


class UpstreamRejected(GatewayError):
    """An upstream refused the request itself (400/413/422): the client's to fix, not retried."""

    status, type, code = 400, "invalid_request_error", "upstream_invalid_request"


class InternalError(GatewayError):
    """A bug in the gateway; the message never carries details."""


class InsufficientQuota(GatewayError):
    """The account's credit or the key's spend limit cannot cover the request's worst case;
    `retry-after` (not capped) says when a key limit resets."""

    status, type, code = 402, "insufficient_quota", "insufficient_quota"

    def headers(self) -> dict[str, str]:
        """`retry-after` in whole seconds until the key's limit resets, when it does."""
        if self.retry_after is None:
            return {}
        return {"retry-after": str(retry_after_seconds(self.retry_after, cap=None))}


class RateLimited(GatewayError):
    """The key's requests- or tokens-per-minute limit is used up for now (`retry-after` says
    for how long), or can never admit this request (no `retry-after`: do not retry)."""

    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None, headers: dict[str, str]) -> None:
        super().__init__(message, retry_after=retry_after)
        self.limit_headers = headers

    def headers(self) -> dict[str, str]:
        """`retry-after` (≤ 60 s) and the `x-ratelimit-*` headers; without a wait,
        `x-should-retry: false`, which the OpenAI SDKs obey."""
        never = {} if self.retry_after is not None else {"x-should-retry": "false"}
        return {**super().headers(), **self.limit_headers, **never}


class BudgetUnavailable(GatewayError):
    """Reservations cannot be made (Redis or the database is unreachable): the gateway refuses
    rather than risk spending credit it cannot account for."""

    status, type, code = 503, "server_error", "budget_unavailable"


class DatabaseUnavailable(GatewayError):
    """A read the client path needs (a key, a summary, a record, the catalog) failed because the
    database is unreachable or its connections are all busy; `retry-after` says when to retry."""

    status, type, code = 503, "server_error", "database_unavailable"


class AuthenticationBusy(GatewayError):
    """Too many keys this process has never seen arrive at once (a flood of made-up keys): the
    lookup of this one is put off rather than queue behind them; `retry-after` is a second."""

    status, type, code = 503, "server_error", "authentication_busy"


class ModelUnavailableUpstream(GatewayError):
    """Every channel serving the model answered (recently) that its upstream does not know it:
    a deterministic failure, so not a 5xx that clients would retry."""

    status, type, code = 404, "invalid_request_error", "model_not_found_upstream"


class ResponseNotFound(GatewayError):
    """No stored response with that id was made with the calling key (unknown, not stored,
    deleted or past GATEWAY_RESPONSES_RETENTION_DAYS)."""

    status, type, code = 404, "invalid_request_error", "response_not_found"

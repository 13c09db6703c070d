"""Classify failed upstream attempts and sum them up for the client (pure).

On the request path an upstream's own words become a failure here (health probes do the same in
`channels.probes`): scrubbed of the channel's secret (`channels.scrub`) before any client,
record, log line or page can see them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from channels.adapters.base import Adapter, UpstreamStreamError
from channels.scrub import secret_scrubber
from gateway.errors import (
    AllChannelsFailed,
    GatewayError,
    ModelUnavailableUpstream,
    UpstreamRejected,
)

CLIENT_ERROR_STATUSES = frozenset({400, 413, 422})
CREDENTIAL_STATUSES = frozenset({401, 402, 403})
# Failures of one model on a channel (the upstream does not know it): they count against that
# channel-model only. Every other retryable failure counts against the whole channel.
MODEL_OUTCOMES = frozenset({"upstream_not_found"})
FOREIGN_CONTENT = "foreign_content"
"""The upstream refused content another account made (encrypted reasoning): the request's
matter, not the channel's; the next channel may be the one that made it."""
CHANNEL_CREDENTIALS_REFUSED = "the channel's credentials were refused upstream"


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one attempt failed; `retryable` means the next channel may be tried."""

    outcome: str
    retryable: bool
    message: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def concerns_channel(self) -> bool:
        """Whether it counts against the channel (or its model): retryable, and not a refusal
        of the request's content."""
        return self.retryable and self.outcome != FOREIGN_CONTENT

    @property
    def concerns_model(self) -> bool:
        """Whether it says something of the model on this channel, not of the channel."""
        return self.outcome in MODEL_OUTCOMES


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `retry-after` header (seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_status(status: int, message: str, retry_after: float | None = None) -> Failure:
    """The failure an upstream HTTP status means; 400/413/422 are the client's own."""
    if status in CLIENT_ERROR_STATUSES:
        return Failure("rejected", False, message, status)
    if status in CREDENTIAL_STATUSES:
        return Failure("channel_auth", True, CHANNEL_CREDENTIALS_REFUSED, status)
    if status == 429:
        return Failure("rate_limited", True, message, status, retry_after)
    if status == 404:
        return Failure("upstream_not_found", True, message, status)
    if status >= 500 or status in {408, 409}:
        return Failure("server_error", True, message, status, retry_after)
    return Failure("bad_response", True, message, status)


def answer_failure(
    adapter: Adapter, *, status: int, payload: bytes, retry_after: str | None, secret: str
) -> Failure:
    """The failure a non-200 upstream answer means, its message free of the channel's secret."""
    scrubber = secret_scrubber(secret)
    message = adapter.error_message(status=status, payload=scrubber.payload(payload))
    if adapter.refuses_foreign_content(status=status, payload=payload):
        return Failure(FOREIGN_CONTENT, True, scrubber(message), status)
    return classify_status(status, scrubber(message), parse_retry_after(retry_after))


def stream_error_message(error: UpstreamStreamError, *, secret: str) -> str:
    """What an upstream said in its stream's error event, free of the channel's secret."""
    return secret_scrubber(secret)(error.message)


def timeout_failure(seconds: float) -> Failure:
    """No answer (or no first token) in time."""
    return Failure("timeout", True, f"no answer within {seconds:g} s")


def connection_failure(error: Exception) -> Failure:
    """The connection failed or broke before an answer."""
    return Failure("connect_error", True, f"connection failed ({type(error).__name__})")


def exhausted(failures: Sequence[Failure], model: str) -> GatewayError:
    """The error for a request whose every attempt failed (or whose upstream rejected it)."""
    last = failures[-1] if failures else None
    if last is not None and last.outcome in ("rejected", FOREIGN_CONTENT):
        return UpstreamRejected(last.message, status=last.status)
    reasons = "; ".join(
        f"{failure.status} {failure.message}" if failure.status else failure.message
        for failure in failures
    )
    outcomes = {failure.outcome for failure in failures}
    if outcomes and outcomes <= MODEL_OUTCOMES:
        return ModelUnavailableUpstream(f"No upstream serving '{model}' knows it: {reasons}")
    message = f"All channels for model '{model}' failed: {reasons or 'no attempt was possible'}"
    waits = [failure.retry_after for failure in failures if failure.retry_after is not None]
    retry_after = max(waits) if waits else None
    if outcomes == {"rate_limited"}:
        return AllChannelsFailed(message, status=429, retry_after=retry_after or 1.0)
    if outcomes == {"timeout"}:
        return AllChannelsFailed(message, status=504)
    return AllChannelsFailed(message, retry_after=retry_after)

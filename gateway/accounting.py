"""What one client request leaves behind: its attempts and its usage draft (pure data).

The draft becomes exactly one UsageRecord (and its ledger charge) in the recorder's thread.
"""

import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.pricing import Prices, cache_savings, usage_cost
from core.usage import AffinitySource, Endpoint, Usage, UsageStatus
from gateway.affinity.conversation import Conversation
from gateway.ratelimit import Charge
from gateway.schemas import Offer

MODEL_LENGTH = 200
USER_LENGTH = 256
ERROR_LENGTH = 300


_ids = random.Random(secrets.randbits(128))  # noqa: S311 (uniqueness, not secrecy)


def new_request_id() -> str:
    """A unique, time-ordered request id (also the usage record's primary key); not a secret:
    a record is only ever shown to the key that made it."""
    return f"req_{time.time_ns() // 1_000_000:012x}{_ids.getrandbits(64):016x}"


def request_is_recent(request_id: str, seconds: float) -> bool:
    """Whether a request id (from `new_request_id`) was made in the last `seconds`."""
    try:
        made_ms = int(request_id[4:16], 16)
    except ValueError:
        return False
    return request_id.startswith("req_") and 0 <= time.time() * 1000 - made_ms < seconds * 1000


def storable(text: str, limit: int) -> str:
    """Text as a column can hold it: no NUL characters (PostgreSQL refuses them), cut to size."""
    return text.replace("\x00", "")[:limit]


def offer_prices(offer: Offer) -> Prices:
    """The unit prices of an offer, USD per 1M tokens."""
    return Prices(
        input=offer.input_price,
        output=offer.output_price,
        cached_input=offer.cached_input_price,
        cache_write=offer.cache_write_price,
        cache_write_1h=offer.cache_write_1h_price,
    )


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """One upstream attempt as the record lists it."""

    channel: str
    provider: str
    outcome: str
    http_status: int | None
    latency_ms: int
    error: str = ""
    channel_id: int | None = None
    model: str = ""
    """The public model the attempt was for (a `models` fallback may differ from the request's)."""


@dataclass(slots=True)
class UsageDraft:
    """The fields of one UsageRecord, filled in as the request goes."""

    id: str
    created_at: datetime
    account_id: int
    key_id: int
    model: str
    stream: bool = False
    status: UsageStatus = UsageStatus.ERROR
    http_status: int = 500
    error_code: str = ""
    served_model: str = ""
    provider: str = ""
    channel_id: int | None = None
    usage: Usage = field(default_factory=Usage)
    usage_source: str = "provider"
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None
    """The 5-minute cache write price billed at (the default filled in)."""
    cache_write_1h_price: Decimal | None = None
    """The 1-hour cache write price billed at (the default filled in)."""
    cost: Decimal = Decimal(0)
    cache_savings: Decimal = Decimal(0)
    latency_ms: int = 0
    ttft_ms: int | None = None
    attempts: list[AttemptLog] = field(default_factory=list)
    user: str = ""
    endpoint: str = Endpoint.CHAT
    """The front door the request came through (FrontDoor.endpoint)."""
    affinity_source: str = AffinitySource.NONE
    """What identified the conversation for cache affinity."""
    affinity_routed: bool = False
    """The first attempt went to the channel that served the conversation last."""
    # For logs, metrics and the rate limits only, not stored on the record:
    key_prefix: str = ""
    limit_reset: str = ""
    channel_name: str = ""
    tokens_charge: Charge | None = None
    conversation: Conversation | None = None
    """The conversation the request belongs to, when cache affinity is on."""

    def end(self, status: UsageStatus, http_status: int, error_code: str = "") -> None:
        """How the request ended, as its record and the client's answer say it."""
        self.status, self.http_status, self.error_code = status, http_status, error_code

    def serve(self, offer: Offer, usage: Usage, *, estimated: bool) -> None:
        """Bill the request to `offer` for `usage`, at the offer's prices."""
        self.served_model = offer.model
        self.provider = offer.provider
        self.channel_id = offer.channel_id
        self.channel_name = offer.channel_name
        self.usage = usage
        self.usage_source = "estimated" if estimated else "provider"
        prices = offer_prices(offer)
        self.input_price = offer.input_price
        self.output_price = offer.output_price
        self.cached_input_price = offer.cached_input_price
        self.cache_write_price = prices.cache_write_rate()
        self.cache_write_1h_price = prices.cache_write_1h_rate()
        self.cost = usage_cost(usage, prices)
        self.cache_savings = cache_savings(usage, prices)

    def record_fields(self) -> dict[str, Any]:
        """Keyword arguments for `UsageRecord(...)`."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "account_id": self.account_id,
            "key_id": self.key_id,
            "model": storable(self.model, MODEL_LENGTH),
            "served_model": storable(self.served_model, MODEL_LENGTH),
            "provider": self.provider,
            "channel_id": self.channel_id,
            "stream": self.stream,
            "status": self.status,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cached_tokens": self.usage.cached_tokens,
            "reasoning_tokens": self.usage.reasoning_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "cache_write_1h_tokens": self.usage.cache_write_1h_tokens,
            "usage_source": self.usage_source,
            "input_price": self.input_price,
            "output_price": self.output_price,
            "cached_input_price": self.cached_input_price,
            "cache_write_price": self.cache_write_price,
            "cache_write_1h_price": self.cache_write_1h_price,
            "cost": self.cost,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "attempts": [
                asdict(attempt) | {"error": storable(attempt.error, ERROR_LENGTH)}
                for attempt in self.attempts
            ],
            "user": storable(self.user, USER_LENGTH),
            "endpoint": self.endpoint,
            "cache_savings": self.cache_savings,
            "affinity_source": self.affinity_source,
            "affinity_routed": self.affinity_routed,
        }

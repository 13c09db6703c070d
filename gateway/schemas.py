"""Wire types of the request path: the parsed request, routing preferences, offers, health."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

SortBy = Literal["price", "latency", "throughput"]
BreakerState = Literal["closed", "open", "half_open"]
Operation = Literal["chat", "embeddings"]


@dataclass(frozen=True, slots=True)
class ProviderPreferences:
    """OpenRouter's `provider` object, validated; provider slugs are lower-case. `needs` are the
    capabilities the request uses (tools, vision, json_schema) and `parameters` the optional
    request parameters it sets, checked against channels with `require_parameters`."""

    only: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    order: tuple[str, ...] | None = None
    allow_fallbacks: bool = True
    sort: SortBy | None = None
    sort_partition: Literal["model", "none"] = "model"
    max_price_prompt: Decimal | None = None
    max_price_completion: Decimal | None = None
    require_parameters: bool = False
    needs: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()


RESPONSES_DIALECT = "openai-responses"
"""The NativeRequest dialect of a Responses body: OpenAI channels with `serves_responses`."""
RESPONSES_COMPACT_DIALECT = "openai-responses-compact"
"""The NativeRequest dialect of a `/v1/responses/compact` body: the same channels."""


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A client body in its own dialect, for channels that speak it (same-dialect passthrough).

    `api_type` is the channel protocol that can take `body` as sent (model replaced);
    `requires` names the first field only that protocol can carry (routing then keeps only its
    channels), or is "" when the translated chat body says everything.
    """

    api_type: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    requires: str = ""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat completion request; `body` is what goes upstream (minus our fields)."""

    model: str
    body: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    fallback_models: tuple[str, ...] = ()
    provider: ProviderPreferences = field(default_factory=ProviderPreferences)
    max_output_tokens: int | None = None
    n: int = 1
    user: str = ""
    exclude_reasoning: bool = False
    native: NativeRequest | None = None
    """The client's own body, when its door can pass it through to channels of its dialect."""
    operation: Operation = "chat"
    """What the upstream is asked to do: a chat completion, or embeddings of `body["input"]`
    (then `body` is an OpenAI embeddings body, and the answer an embeddings list)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """One enabled channel serving one public model: where to send it and what it costs."""

    channel_id: int
    channel_name: str
    provider: str
    api_type: str
    base_url: str
    api_key: str = field(repr=False)  # a secret: never in a repr, a log line or a traceback
    model: str
    upstream_model: str
    priority: int = 0
    weight: int = 1
    input_price: Decimal = Decimal(0)
    output_price: Decimal = Decimal(0)
    cached_input_price: Decimal | None = None
    cache_write_price: Decimal | None = None
    """A 5-minute cache write's price; None = 1.25 times the input price (billing.pricing)."""
    cache_write_1h_price: Decimal | None = None
    """A 1-hour cache write's price; None = 2 times the input price."""
    first_token_timeout: float = 60.0
    timeout: float = 300.0
    status: str = "unknown"
    max_output_tokens: int | None = None
    unsupported: frozenset[str] = frozenset()
    serves_responses: bool = False
    """An OpenAI channel whose upstream serves the Responses API (`/v1/responses`) natively."""

    def speaks(self, dialect: str) -> bool:
        """Whether a client body of `dialect` (an `api_type`, or a Responses dialect) goes to
        this channel as sent."""
        if dialect in (RESPONSES_DIALECT, RESPONSES_COMPACT_DIALECT):
            return self.api_type == "openai" and self.serves_responses
        return dialect == self.api_type


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What routing knows of a channel's recent behaviour; unknown figures are None."""

    breaker: BreakerState = "closed"
    recently_failed: bool = False
    latency_ms: float | None = None
    throughput: float | None = None
    models: Mapping[str, BreakerState] = field(default_factory=dict)
    """The breakers of this channel's models that are not closed, by public model id."""
    cache_hit_rates: Mapping[str, float] = field(default_factory=dict)
    """Measured prompt-cache hit rates (cached ÷ prompt tokens), by public model id, of the
    channel-models with enough recent traffic (gateway.stats)."""

    def breaker_for(self, model: str) -> BreakerState:
        """The worse of the channel's breaker and the channel-model's, for `model`."""
        states = {self.breaker, self.models.get(model, "closed")}
        return "open" if "open" in states else "half_open" if "half_open" in states else "closed"


HEALTHY = ChannelHealth()


@dataclass(frozen=True, slots=True)
class KeyContext:
    """What the request path knows of the calling API key (cached for a few seconds)."""

    key_id: int
    account_id: int
    prefix: str
    allowed_models: frozenset[str]
    expires_at_epoch: float | None
    revoked: bool
    spend_limit: Decimal | None = None
    limit_reset: str = ""
    rpm_limit: int | None = None
    tpm_limit: int | None = None

    def allows(self, model: str) -> bool:
        """Whether the key may use `model` (an empty allowlist allows every model)."""
        return not self.allowed_models or model in self.allowed_models

"""Token usage and how a request ended: what it consumed, as upstreams report it and records
keep it."""

from dataclasses import dataclass

from django.db import models


class UsageStatus(models.TextChoices):
    """How a client request ended."""

    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """The gateway process died before the request ended (billed from its journal)."""


class Endpoint(models.TextChoices):
    """The front door (client dialect) a request came through."""

    CHAT = "chat"
    MESSAGES = "messages"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"


class AffinitySource(models.TextChoices):
    """What identified a request's conversation for cache affinity ("" = none, or it was off)."""

    NONE = "", "None"
    PROMPT_CACHE_KEY = "prompt_cache_key", "prompt_cache_key"
    SESSION_HEADER = "session_header", "X-Claude-Code-Session-Id"
    METADATA_USER_ID = "metadata_user_id", "metadata.user_id"
    USER = "user", "user / safety_identifier"
    PREFIX_HASH = "prefix_hash", "Prompt prefix"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request: cached (cache reads) and both kinds of cache writes are
    part of prompt; reasoning is part of completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens written to the upstream's cache for 5 minutes (Anthropic's default)."""
    cache_write_1h_tokens: int = 0
    """Prompt tokens written to the upstream's cache for 1 hour."""

    @property
    def cache_writes(self) -> int:
        """Every prompt token written to a cache, whatever its lifetime."""
        return self.cache_write_tokens + self.cache_write_1h_tokens

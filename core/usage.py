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


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one request; cached ⊆ prompt and reasoning ⊆ completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

"""Channels (upstream provider accounts), the models they serve with prices, and health checks."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from core.money import NON_NEGATIVE, MoneyField


class ApiType(models.TextChoices):
    """The wire protocol a channel speaks."""

    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic Messages"
    GEMINI = "gemini", "Google Gemini"


class ChannelStatus(models.TextChoices):
    """What health checks last concluded about a channel."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DOWN = "down"


# What an operator sets on a channel (besides its secret and models), in form and API order.
CHANNEL_SETTINGS = (
    "name",
    "provider",
    "api_type",
    "base_url",
    "priority",
    "weight",
    "enabled",
    "first_token_timeout",
    "timeout",
    "probe_mode",
    "probe_interval",
    "serves_responses",
)


CAPABILITIES = ("tools", "vision", "json_schema")
"""What a request may need of a model: tool calling, image input, `json_schema` output."""
PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "reasoning",
    "tool_choice",
    "parallel_tool_calls",
)
"""Request parameters a model may not honour; checked with `provider.require_parameters`."""
UNSUPPORTED_CHOICES = frozenset(CAPABILITIES + PARAMETERS)
UNKNOWN_UNSUPPORTED = "Unknown capability or parameter {names}; known: {known}."


def validate_unsupported(value: object) -> None:
    """A list of known capability and parameter names."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Expected a list of capability or parameter names.")
    unknown = sorted(set(value) - UNSUPPORTED_CHOICES)
    if unknown:
        known = ", ".join((*CAPABILITIES, *PARAMETERS))
        raise ValidationError(UNKNOWN_UNSUPPORTED.format(names=", ".join(unknown), known=known))


class ProbeMode(models.TextChoices):
    """How a health probe checks a channel."""

    MODELS = "models", "List the models (free)"
    COMPLETION = "completion", "A 1-token completion on the first model"


class Channel(models.Model):
    """One upstream account: a wire protocol, a base URL, a secret, and the models it serves."""

    name = models.CharField(
        max_length=100, help_text="Unique among live channels; an archived one's may be reused."
    )
    provider = models.SlugField(max_length=64, help_text="Provider slug, e.g. openai, anthropic.")
    api_type = models.CharField(max_length=16, choices=ApiType.choices, default=ApiType.OPENAI)
    base_url = models.URLField(max_length=500, help_text="API root, e.g. https://api.openai.com/v1")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_hint = models.CharField(max_length=16, blank=True, editable=False)
    priority = models.IntegerField(default=0, help_text="Higher tiers are tried first.")
    weight = models.PositiveIntegerField(default=1, help_text="Share of traffic within a tier.")
    enabled = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=ChannelStatus.choices, default=ChannelStatus.UNKNOWN
    )
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    first_token_timeout = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Seconds to wait for the first content event; empty = the default.",
    )
    timeout = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Seconds for the whole request; empty = the default.",
    )
    probe_mode = models.CharField(
        max_length=16, choices=ProbeMode.choices, default=ProbeMode.MODELS
    )
    probe_interval = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text="Seconds between health probes; empty = the default.",
    )
    serves_responses = models.BooleanField(
        default=False,
        help_text="An OpenAI channel whose upstream serves /v1/responses: Responses requests go "
        "to it as sent (built-in tools, encrypted reasoning), not translated to chat.",
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    next_probe_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when a channel with usage history was deleted: it serves nothing any "
        "more, and its records and reports keep it. Empty = live.",
    )

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(archived_at__isnull=True),
                name="unique_live_channel_name",
                violation_error_message="A live channel with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def archived(self) -> bool:
        """Whether the channel was archived (deleted while it had usage history)."""
        return self.archived_at is not None

    @property
    def display_name(self) -> str:
        """The name as reports and pages show it: "name (archived)" for an archived channel."""
        return f"{self.name} (archived)" if self.archived else self.name


class ChannelModel(models.Model):
    """A public model id served by a channel under an upstream name, at prices per 1M tokens."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="models")
    model = models.CharField(max_length=200, help_text="Public model id, e.g. openai/gpt-4o-mini.")
    upstream_model = models.CharField(
        max_length=200, blank=True, help_text="The upstream's name; empty = the public id."
    )
    input_price = MoneyField(default=Decimal(0), validators=NON_NEGATIVE)
    output_price = MoneyField(default=Decimal(0), validators=NON_NEGATIVE)
    cached_input_price = MoneyField(
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Empty = the input price.",
    )
    cache_write_price = MoneyField(
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Price of a 5-minute cache write; empty = 1.25 times the input price "
        "(Anthropic's rate).",
    )
    cache_write_1h_price = MoneyField(
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Price of a 1-hour cache write; empty = 2 times the input price "
        "(Anthropic's rate).",
    )
    max_output_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Answer budget when the client sets none (Anthropic requires one); empty = 4096.",
    )
    unsupported = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_unsupported],
        help_text="What this model cannot do: tools, vision, json_schema (requests needing them "
        "skip it), or request parameters it ignores (skipped with provider.require_parameters).",
    )

    class Meta:
        ordering = ["model"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "model"], name="unique_model_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.model} @ {self.channel_id}"

    @property
    def upstream_name(self) -> str:
        """The model name sent to the upstream."""
        return self.upstream_model or self.model


class HealthCheck(models.Model):
    """The outcome of one probe of a channel."""

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="health_checks", db_index=False
    )
    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["channel", "-checked_at"], name="healthcheck_channel_time")]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"{self.channel_id} {outcome} at {self.checked_at:%Y-%m-%d %H:%M:%S}"

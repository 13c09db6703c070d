"""Reads behind the channel pages: every attempt's figures per channel, breakers, probes."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from billing.models import UsageAttempt
from channels.models import Channel, HealthCheck
from channels.selectors import channels_live
from gateway.breakers import BreakerView, breaker_views
from reports.histogram import BUCKET_FIELDS, percentile
from reports.rollup import latency_bucket_counts

TIMELINE_LENGTH = 40
FIGURES_HOURS = 24
RECENT_ATTEMPTS = 50
# An attempt that ended so is not the channel's failure: a client that left, a request the
# upstream refused as the client's own mistake (400/413/422), the gateway's own shutdown.
BLAMELESS_OUTCOMES = ("ok", "cancelled", "rejected", "gateway_shutting_down")


@dataclass(frozen=True)
class AttemptFigures:
    """A channel's attempts over a period (serving ones and failed ones alike)."""

    attempts: int = 0
    errors: int = 0
    latency_counts: tuple[int, ...] = ()

    @property
    def success_rate(self) -> float | None:
        """Share of attempts that did not fail, in percent; None without attempts."""
        return 100 * (1 - self.errors / self.attempts) if self.attempts else None

    @property
    def p50_ms(self) -> float | None:
        """Median attempt latency (approximate: a histogram's)."""
        return percentile(self.latency_counts, 0.5)

    @property
    def p95_ms(self) -> float | None:
        """95th percentile attempt latency (approximate: a histogram's)."""
        return percentile(self.latency_counts, 0.95)


@dataclass(frozen=True)
class BreakerShown:
    """A breaker as a page shows it: closed, or open / half-open since when and why."""

    state: str = "closed"
    since: datetime | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        """The state as people write it: closed, open, half-open."""
        return self.state.replace("_", "-")


def _shown(view: BreakerView) -> BreakerShown:
    return BreakerShown(view.state, datetime.fromtimestamp(view.since, tz=UTC), view.reason)


@dataclass(frozen=True)
class ChannelRow:
    """A channel with its attempt figures, its breakers and its latest probes."""

    channel: Channel
    figures: AttemptFigures
    checks: list[HealthCheck]
    breaker: BreakerShown = BreakerShown()
    model_breakers: dict[str, BreakerShown] = field(default_factory=dict)
    """The channel's models whose own breaker is not closed."""

    @property
    def last_check(self) -> HealthCheck | None:
        """The latest probe."""
        return self.checks[-1] if self.checks else None


def _attempts_since(since: datetime) -> QuerySet[UsageAttempt]:
    return UsageAttempt.objects.filter(created_at__gte=since)


def _figures(row: dict[str, Any]) -> AttemptFigures:
    return AttemptFigures(
        attempts=row["attempts"],
        errors=row["errors"],
        latency_counts=tuple(row[name] for name in BUCKET_FIELDS),
    )


def _attempt_figures(attempts: QuerySet[UsageAttempt]) -> dict[int, AttemptFigures]:
    """Figures per channel id of `attempts`."""
    rows = (
        attempts.filter(channel__isnull=False)
        .values("channel")
        .annotate(
            attempts=Count("id"),
            errors=Count("id", filter=~Q(outcome__in=BLAMELESS_OUTCOMES)),
            **latency_bucket_counts(),
        )
        .order_by()
    )
    return {row["channel"]: _figures(row) for row in rows}


def _breakers_by_channel() -> dict[int, tuple[BreakerShown, dict[str, BreakerShown]]]:
    shown: dict[int, tuple[BreakerShown, dict[str, BreakerShown]]] = {}
    for view in breaker_views():
        channel_breaker, models = shown.get(view.scope.channel_id, (BreakerShown(), {}))
        if view.scope.model:
            models[view.scope.model] = _shown(view)
        else:
            channel_breaker = _shown(view)
        shown[view.scope.channel_id] = (channel_breaker, models)
    return shown


def _row(
    channel: Channel,
    figures: AttemptFigures,
    breakers: dict[int, tuple[BreakerShown, dict[str, BreakerShown]]],
) -> ChannelRow:
    checks = list(channel.health_checks.order_by("-checked_at")[:TIMELINE_LENGTH])
    breaker, model_breakers = breakers.get(channel.pk, (BreakerShown(), {}))
    return ChannelRow(channel, figures, checks[::-1], breaker, model_breakers)


def channel_rows(*, now: datetime | None = None) -> list[ChannelRow]:
    """Every live channel with the last 24 hours of its attempts, its breakers and its latest
    probes, highest priority first."""
    now = now or timezone.now()
    figures = _attempt_figures(_attempts_since(now - timedelta(hours=FIGURES_HOURS)))
    breakers = _breakers_by_channel()
    return [
        _row(channel, figures.get(channel.pk, AttemptFigures()), breakers)
        for channel in channels_live().order_by("-priority", "name")
    ]


@dataclass(frozen=True)
class ChannelPage:
    """One channel: its row, its errors by class and its latest attempts."""

    row: ChannelRow
    errors_by_class: list[tuple[str, int]]
    recent: list[UsageAttempt] | None
    """None when the viewer may not see requests (billing.view_usagerecord)."""


def channel_page(
    channel: Channel, *, with_requests: bool = True, now: datetime | None = None
) -> ChannelPage:
    """The channel's last 24 hours: figures, failed attempts counted per outcome (most first),
    and, `with_requests`, its latest attempts, newest first."""
    now = now or timezone.now()
    attempts = _attempts_since(now - timedelta(hours=FIGURES_HOURS)).filter(channel=channel)
    figures = _attempt_figures(attempts).get(channel.pk, AttemptFigures())
    errors = (
        attempts.exclude(outcome__in=BLAMELESS_OUTCOMES)
        .values("outcome")
        .annotate(count=Count("id"))
        .order_by("-count", "outcome")
    )
    latest = UsageAttempt.objects.filter(channel=channel).order_by("-created_at", "-position")
    recent = list(latest[:RECENT_ATTEMPTS]) if with_requests else None
    return ChannelPage(
        row=_row(channel, figures, _breakers_by_channel()),
        errors_by_class=[(row["outcome"], row["count"]) for row in errors],
        recent=recent,
    )

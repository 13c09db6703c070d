"""The passive circuit breaker of a channel, as pure state: closed → open → half-open → closed.

Live traffic reports each attempt's outcome. N consecutive retryable failures open the breaker
for a cooldown; an upstream 429 with `retry-after` opens it for that long at once. When the
cooldown has passed the breaker is half-open: routing tries the channel again only when nothing
else is left, and the trial's outcome closes it (success) or opens it again (failure).
"""

from dataclasses import dataclass
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class Breaker:
    """Consecutive failures and, once tripped, the time (epoch seconds) it stays open until,
    since when (epoch seconds) it has not been closed, and the last failure's reason."""

    failures: int = 0
    open_until: float = 0.0
    opened_at: float = 0.0
    reason: str = ""

    def state(self, now: float) -> BreakerState:
        """Closed until tripped; open until `open_until`; half-open after that."""
        if not self.open_until:
            return "closed"
        return "open" if now < self.open_until else "half_open"

    def failed(
        self,
        *,
        now: float,
        threshold: int,
        cooldown: float,
        retry_after: float | None = None,
        reason: str = "",
    ) -> "Breaker":
        """The breaker after a retryable failure (`reason` says what failed)."""
        failures = self.failures + 1
        if retry_after:
            open_until = max(self.open_until, now + retry_after)
        elif failures >= threshold or self.state(now) == "half_open":
            open_until = max(self.open_until, now + cooldown)
        else:
            open_until = self.open_until
        opened_at = self.opened_at or (now if open_until else 0.0)
        return Breaker(failures, open_until, opened_at, reason or self.reason)

    def succeeded(self) -> "Breaker":
        """The breaker after a success: closed, no failures."""
        return CLOSED


CLOSED = Breaker()

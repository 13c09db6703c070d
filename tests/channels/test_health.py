"""The breaker's transitions, table-tested."""

import pytest

from channels.health import CLOSED, Breaker

NOW = 1_000.0
THRESHOLD, COOLDOWN = 3, 30.0


def fail(
    breaker: Breaker, times: int = 1, at: float = NOW, retry_after: float | None = None
) -> Breaker:
    for _ in range(times):
        breaker = breaker.failed(
            now=at, threshold=THRESHOLD, cooldown=COOLDOWN, retry_after=retry_after
        )
    return breaker


@pytest.mark.parametrize(
    ("breaker", "at", "state"),
    [
        pytest.param(CLOSED, NOW, "closed", id="fresh"),
        pytest.param(fail(CLOSED, 2), NOW, "closed", id="below-threshold"),
        pytest.param(fail(CLOSED, 3), NOW, "open", id="threshold-opens"),
        pytest.param(fail(CLOSED, 3), NOW + 29.9, "open", id="open-during-cooldown"),
        pytest.param(fail(CLOSED, 3), NOW + 30, "half_open", id="half-open-after-cooldown"),
        pytest.param(fail(CLOSED, 1, retry_after=5), NOW + 4, "open", id="429-cools-at-once"),
        pytest.param(fail(CLOSED, 1, retry_after=5), NOW + 5, "half_open", id="429-cooldown-over"),
        pytest.param(
            fail(fail(CLOSED, 3), 1, at=NOW + 31), NOW + 31, "open", id="half-open-trial-fails"
        ),
        pytest.param(fail(CLOSED, 3).succeeded(), NOW + 31, "closed", id="trial-succeeds"),
        pytest.param(fail(CLOSED, 2).succeeded(), NOW, "closed", id="success-resets-count"),
    ],
)
def test_breaker_states(breaker, at, state):
    assert breaker.state(at) == state


def test_a_success_forgets_earlier_failures():
    breaker = fail(CLOSED, 2).succeeded()

    assert fail(breaker, 2).state(NOW) == "closed"
    assert fail(breaker, 3).state(NOW) == "open"


def test_a_longer_retry_after_is_never_shortened():
    breaker = fail(CLOSED, 1, retry_after=60)

    assert fail(breaker, 3).open_until == NOW + 60

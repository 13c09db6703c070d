"""Fixtures of the fake upstream's tests: a running server per module, an HTTP client."""

from collections.abc import Iterator

import httpx
import pytest

from bench.fake_upstream import FakeUpstream, running_fake_upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    """The fake upstream, running in a thread for the module's tests."""
    with running_fake_upstream() as up:
        yield up


@pytest.fixture
def client(upstream: FakeUpstream) -> Iterator[httpx.Client]:
    """An HTTP client on the fake upstream's API root."""
    with httpx.Client(base_url=upstream.base_url, timeout=10) as http:
        yield http

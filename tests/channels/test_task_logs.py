"""What the probe and sweep tasks log: one line per change of a channel's status, one per sweep
that found something, nothing for a probe or a sweep that changed nothing."""

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bench.fake_upstream import running_fake_upstream
from bench.fake_upstream.harness import FakeUpstream
from channels.models import Channel, HealthCheck
from channels.services import channel_update
from channels.tasks import probe_channel_task, probe_lock_key, prune_health_checks
from tests.factories import ChannelFactory

SECRET = "sk-task-logs-0123456789-SECRETabcdef"
WRONG = "sk-task-logs-wrong-0123456789abcdef"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=SECRET) as up:
        yield up


def probe(channel_id: int) -> None:
    """Run the probe task as the worker does (through Celery), past the interval's lock."""
    cache.delete(probe_lock_key(channel_id))
    assert probe_channel_task.apply(args=(channel_id,)).get() is True


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name in ("channels.tasks", "switchyard.worker")
        or record.name.startswith("celery")
    ]


def test_a_channel_that_goes_down_and_comes_back_logs_two_lines(upstream, caplog):
    caplog.set_level(logging.DEBUG)
    channel = ChannelFactory.create(name="flaky", base_url=upstream.base_url, api_key=SECRET)
    probe(channel.pk)  # unknown -> healthy
    probe(channel.pk)
    caplog.clear()

    channel_update(channel=Channel.objects.get(pk=channel.pk), fields={}, api_key=WRONG)
    probe(channel.pk)  # a 401 takes it down at once
    probe(channel.pk)
    channel_update(channel=Channel.objects.get(pk=channel.pk), fields={}, api_key=SECRET)
    probe(channel.pk)
    probe(channel.pk)

    changes = [line for line in lines(caplog) if line[0] != "DEBUG"]
    assert changes == [
        (
            "WARNING",
            f"channel 'flaky' (#{channel.pk}) is down: invalid credentials: upstream answered 401",
        ),
        ("INFO", f"channel 'flaky' (#{channel.pk}) is healthy again"),
    ]


def test_the_first_probe_says_what_a_new_channel_is(upstream, caplog):
    caplog.set_level(logging.INFO)
    channel = ChannelFactory.create(name="fresh", base_url=upstream.base_url, api_key=SECRET)

    probe(channel.pk)
    probe(channel.pk)

    assert lines(caplog) == [("INFO", f"channel 'fresh' (#{channel.pk}) is healthy")]


def test_a_sweep_logs_only_when_it_found_something(settings, caplog):
    caplog.set_level(logging.INFO)
    settings.HEALTH_RETENTION_DAYS = 7
    channel = ChannelFactory.create()
    old = timezone.now() - timedelta(days=8)
    for _ in range(2):
        HealthCheck.objects.create(channel=channel, checked_at=old, ok=True, latency_ms=1)

    assert prune_health_checks.apply().get() == 2
    assert prune_health_checks.apply().get() == 0

    assert lines(caplog) == [
        ("INFO", "retention: 2 health check(s) past HEALTH_RETENTION_DAYS deleted")
    ]

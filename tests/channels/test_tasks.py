"""Health probe tasks: scheduling, the cluster-wide lock, pruning, and a real Celery worker."""

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from bench.fake_upstream import running_fake_upstream
from bench.fake_upstream.harness import FakeUpstream
from channels import tasks
from channels.models import ApiType, Channel, ChannelStatus, HealthCheck
from channels.tasks import (
    probe_channel_task,
    probe_due_channels,
    probe_lock_key,
    prune_health_checks,
)
from config.celery import app
from tests.factories import ChannelFactory

SECRET = "sk-tasks-0123456789-SECRETabcdef"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=SECRET) as up:
        yield up


@pytest.mark.django_db
def test_only_enabled_due_channels_are_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.probe_channel_task, "delay", queued.append)
    now = timezone.now()
    never = ChannelFactory.create(next_probe_at=None)
    due = ChannelFactory.create(next_probe_at=now - timedelta(seconds=1))
    ChannelFactory.create(next_probe_at=now + timedelta(seconds=30))
    ChannelFactory.create(enabled=False, next_probe_at=None)
    ChannelFactory.create(enabled=False, next_probe_at=now - timedelta(hours=1))
    gemini = ChannelFactory.create(api_type=ApiType.GEMINI, next_probe_at=None)
    ChannelFactory.create(api_type="cohere", next_probe_at=None)  # no adapter: not probed

    assert probe_due_channels() == 3
    assert sorted(queued) == sorted([never.pk, due.pk, gemini.pk])


@pytest.mark.django_db
def test_a_channel_is_probed_once_per_interval(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=SECRET)

    assert probe_channel_task(channel.pk) is True
    assert probe_channel_task(channel.pk) is False
    assert HealthCheck.objects.filter(channel=channel).count() == 1

    cache.delete(probe_lock_key(channel.pk))  # as when the interval has passed
    assert probe_channel_task(channel.pk) is True
    assert HealthCheck.objects.filter(channel=channel).count() == 2
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.HEALTHY


@pytest.mark.django_db
def test_disabled_and_missing_channels_are_not_probed(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=SECRET, enabled=False)
    assert probe_channel_task(channel.pk) is False
    assert probe_channel_task(999999) is False
    assert not HealthCheck.objects.exists()


@pytest.mark.django_db
def test_prune_keeps_recent_checks(settings: Any) -> None:
    settings.HEALTH_RETENTION_DAYS = 7
    channel = ChannelFactory.create()
    now = timezone.now()
    for age in (timedelta(days=30), timedelta(days=8), timedelta(days=6), timedelta(minutes=1)):
        HealthCheck.objects.create(channel=channel, checked_at=now - age, ok=True)

    assert prune_health_checks() == 2
    kept = sorted(now - check.checked_at for check in HealthCheck.objects.all())
    assert [round(age.total_seconds()) for age in kept] == [60, 6 * 86400]


@pytest.fixture
def celery_worker() -> Iterator[None]:
    """A real Celery worker thread consuming from the test's Redis, closing its DB connections."""

    def close_connections(**kwargs: Any) -> None:
        connections.close_all()  # the worker thread's own; the test database is dropped later

    app.conf.update(broker_url=settings.REDIS_URL)
    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        task_postrun.disconnect(close_connections)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_a_real_worker_probes_due_channels(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=SECRET)
    down = ChannelFactory.create(base_url=upstream.base_url, api_key="sk-wrong-key-0123456789")

    probe_due_channels.delay()

    deadline = time.monotonic() + 10
    while HealthCheck.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert HealthCheck.objects.filter(channel=channel, ok=True, status_code=200).count() == 1
    assert HealthCheck.objects.filter(channel=down, ok=False, status_code=401).count() == 1
    statuses = dict(Channel.objects.values_list("pk", "status"))
    assert statuses == {channel.pk: ChannelStatus.HEALTHY, down.pk: ChannelStatus.DOWN}

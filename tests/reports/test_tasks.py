"""The rollup and retention run on Celery beat's schedule, as registered tasks."""

from datetime import timedelta

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from config.celery import app
from reports.models import HourlyUsage
from reports.tasks import prune_usage, rollup_usage
from tests.factories import UsageRecordFactory


def test_beat_schedules_the_rollup_every_30_seconds_and_retention_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert schedule["rollup-usage"] == {"task": "reports.tasks.rollup_usage", "schedule": 30.0}
    assert schedule["prune-usage"]["task"] == "reports.tasks.prune_usage"
    assert isinstance(schedule["prune-usage"]["schedule"], crontab)
    assert schedule["prune-attempts"]["task"] == "reports.tasks.prune_attempts"
    assert isinstance(schedule["prune-attempts"]["schedule"], crontab)
    app.loader.import_default_modules()
    tasks = {
        "reports.tasks.rollup_usage",
        "reports.tasks.prune_usage",
        "reports.tasks.prune_attempts",
    }
    assert tasks <= set(app.tasks)


def test_the_tasks_roll_up_and_prune(db, settings):
    settings.USAGE_RETENTION_DAYS = 10
    UsageRecordFactory(created_at=timezone.now() - timedelta(days=11))
    UsageRecordFactory()

    assert rollup_usage() == 2
    assert HourlyUsage.objects.count() == 2
    assert prune_usage() == 1

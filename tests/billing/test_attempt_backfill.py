"""Upgrading keeps the channel pages' figures: migration 0008 turns the last 24 hours of
records' attempt lists into attempt rows (older records keep their lists only)."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing.models import UsageAttempt
from tests.factories import ApiKeyFactory, ChannelFactory

BEFORE = [("billing", "0007_usage_attempts")]
AFTER = [("billing", "0008_backfill_recent_attempts")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to `targets`; the app registry as of them (records are made with the model of
    that time: later migrations add columns)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def old_record(apps: Any, **fields: Any) -> Any:
    """A usage record as migration 0007 knew them."""
    key = ApiKeyFactory.create()
    defaults = {"status": "ok", "http_status": 200, "account_id": key.account_id, "key_id": key.pk}
    return apps.get_model("billing", "UsageRecord").objects.create(
        **{"id": f"req_{key.pk}", **defaults, **fields}
    )


@pytest.fixture
def back_to_the_latest() -> Any:
    """Every app migrated to its latest migration again after the test."""
    yield
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest")
def test_recent_attempts_become_rows_and_old_ones_do_not() -> None:
    apps = migrate(BEFORE)
    channel = ChannelFactory.create(name="named-only")
    attempts = [
        {"channel": "named-only", "outcome": "server_error", "http_status": 503, "latency_ms": 40},
        {"channel": "gone", "channel_id": 999_999, "outcome": "ok", "http_status": 200},
    ]
    recent = old_record(apps, attempts=attempts, model="gpt-4o")
    old_record(apps, attempts=attempts, created_at=timezone.now() - timedelta(days=2))

    migrate(AFTER)

    rows = list(UsageAttempt.objects.order_by("position").values_list(
        "request_id", "position", "channel_id", "channel_name", "model", "outcome", "http_status"
    ))  # fmt: skip
    assert rows == [
        (recent.pk, 0, channel.pk, "named-only", "gpt-4o", "server_error", 503),
        (recent.pk, 1, None, "gone", "gpt-4o", "ok", 200),
    ]

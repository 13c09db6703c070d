"""The last 24 hours of attempts (what the channel pages show) as rows, from the records'
`attempts` lists; older records keep their lists only. Attempts written before channel ids were
kept name their channel: the channel of that name, if there is one."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

BATCH = 2000


def backfill(apps, schema_editor):
    UsageRecord = apps.get_model("billing", "UsageRecord")
    UsageAttempt = apps.get_model("billing", "UsageAttempt")
    Channel = apps.get_model("channels", "Channel")
    by_name = dict(Channel.objects.values_list("name", "pk"))
    existing = set(by_name.values())
    recent = UsageRecord.objects.filter(created_at__gte=timezone.now() - timedelta(hours=24))
    rows = []
    for record in recent.only("pk", "created_at", "model", "attempts").iterator(BATCH):
        for position, attempt in enumerate(record.attempts or []):
            if not isinstance(attempt, dict):
                continue
            name = str(attempt.get("channel", ""))[:200]
            channel_id = attempt.get("channel_id") or by_name.get(name)
            rows.append(
                UsageAttempt(
                    request_id=record.pk,
                    position=position,
                    created_at=record.created_at,
                    channel_id=channel_id if channel_id in existing else None,
                    channel_name=name,
                    model=str(attempt.get("model") or record.model)[:200],
                    outcome=str(attempt.get("outcome", ""))[:32],
                    http_status=attempt.get("http_status"),
                    latency_ms=max(0, int(attempt.get("latency_ms") or 0)),
                    error=str(attempt.get("error", ""))[:300],
                )
            )
        if len(rows) >= BATCH:
            UsageAttempt.objects.bulk_create(rows)
            rows = []
    UsageAttempt.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_usage_attempts")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

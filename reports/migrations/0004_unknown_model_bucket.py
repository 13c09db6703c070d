"""Rollup rows made per unknown model before the `(unknown)` bucket existed are merged into it:
a client's junk model names no longer hold a row each (issue #12.5). No schema change."""

from django.db import migrations


# The combined rollups' dimensions and summed columns of this migration's time.
DIMENSIONS = ("bucket", "account_id", "key_id", "model", "provider", "channel_id", "status")
COUNTED = (
    "requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens",
    "reasoning_tokens", "cost", "latency_ms_sum", *(f"lat_{n:02d}" for n in range(24)),
)


def fold_unknown_models(apps, schema_editor):
    from reports.rollup import unknown_models_fold

    unknown_models_fold(dimensions=DIMENSIONS, counted=COUNTED)


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0003_exact_money"),
        ("channels", "0005_channel_archive"),
    ]

    operations = [
        migrations.RunPython(fold_unknown_models, migrations.RunPython.noop),
    ]

"""Rollup rows made per unknown model before the `(unknown)` bucket existed are merged into it:
a client's junk model names no longer hold a row each (issue #12.5). No schema change."""

from django.db import migrations


def fold_unknown_models(apps, schema_editor):
    from reports.rollup import unknown_models_fold

    unknown_models_fold()


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0003_exact_money"),
        ("channels", "0005_channel_archive"),
    ]

    operations = [
        migrations.RunPython(fold_unknown_models, migrations.RunPython.noop),
    ]

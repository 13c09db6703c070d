"""Usage history cannot be deleted (a record's channel is protected), and records the database
refuses are kept as dead letters for an operator's retry."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_exact_money"),
        ("channels", "0005_channel_archive"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usagerecord",
            name="channel",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_records",
                to="channels.channel",
            ),
        ),
        migrations.CreateModel(
            name="UsageDeadLetter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "request_id",
                    models.CharField(db_index=True, help_text="= the record's id", max_length=40),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "record",
                    models.JSONField(
                        help_text="The record's fields (money as decimal strings, times as "
                        "ISO 8601)."
                    ),
                ),
                (
                    "error",
                    models.TextField(help_text="Why the database refused it (secrets scrubbed)."),
                ),
                ("retries", models.PositiveIntegerField(default=0, editable=False)),
                ("resolved_at", models.DateTimeField(blank=True, editable=False, null=True)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("resolved_at__isnull", True)),
                        fields=["created_at"],
                        name="dead_letter_unresolved",
                    )
                ],
            },
        ),
    ]

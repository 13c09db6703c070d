"""Channels with usage history are archived rather than deleted; names are unique among live
channels only, so a new channel may take an archived one's name."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0004_exact_money"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="archived_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="Set when a channel with usage history was deleted: it serves nothing "
                "any more, and its records and reports keep it. Empty = live.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="name",
            field=models.CharField(
                help_text="Unique among live channels; an archived one's may be reused.",
                max_length=100,
            ),
        ),
        migrations.AddConstraint(
            model_name="channel",
            constraint=models.UniqueConstraint(
                condition=models.Q(("archived_at__isnull", True)),
                fields=("name",),
                name="unique_live_channel_name",
                violation_error_message="A live channel with this name already exists.",
            ),
        ),
    ]

"""The rollups' cost columns become `MoneyField`s: exact numeric(20, 10) on PostgreSQL as before
(no SQL there), integer units of 1e-10 USD on SQLite, converted from the floats SQLite kept."""

from decimal import Decimal

from django.db import migrations

import core.money
from channels.money_migrations import money_to_units, units_to_money

ROLLUPS = ("hourlyusage", "dailyusage", "hourlydimensionusage", "dailydimensionusage")


def to_units(apps, schema_editor):
    for rollup in ROLLUPS:
        money_to_units(schema_editor, f"reports_{rollup}", ["cost"])


def to_money(apps, schema_editor):
    for rollup in ROLLUPS:
        units_to_money(schema_editor, f"reports_{rollup}", ["cost"])


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0002_dimension_rollups"),
    ]

    operations = [
        *(
            migrations.AlterField(
                model_name=rollup,
                name="cost",
                field=core.money.MoneyField(default=Decimal("0")),
            )
            for rollup in ROLLUPS
        ),
        migrations.RunPython(to_units, to_money),
    ]

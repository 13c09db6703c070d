"""Channel model prices become `MoneyField`s: exact numeric(20, 10) on PostgreSQL as before (no
SQL there), integer units of 1e-10 USD on SQLite, converted from the floats SQLite kept."""

from decimal import Decimal

import django.core.validators
from django.db import migrations

import core.money
from channels.money_migrations import money_to_units, units_to_money

PRICES = ("input_price", "output_price", "cached_input_price")


def to_units(apps, schema_editor):
    money_to_units(schema_editor, "channels_channelmodel", PRICES)


def to_money(apps, schema_editor):
    units_to_money(schema_editor, "channels_channelmodel", PRICES)


class Migration(migrations.Migration):

    dependencies = [
        ("channels", "0003_model_capabilities"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channelmodel",
            name="input_price",
            field=core.money.MoneyField(
                default=Decimal("0"),
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="channelmodel",
            name="output_price",
            field=core.money.MoneyField(
                default=Decimal("0"),
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="channelmodel",
            name="cached_input_price",
            field=core.money.MoneyField(
                blank=True,
                help_text="Empty = the input price.",
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.RunPython(to_units, to_money),
    ]

"""Every billing money column becomes a `MoneyField`: exact numeric(20, 10) on PostgreSQL as
before (no SQL there), integer units of 1e-10 USD on SQLite, converted from the floats SQLite
kept. The table remakes on SQLite drop the reports' usage trigger; the reports app puts it back
after every migrate (post_migrate)."""

from decimal import Decimal

import django.core.validators
from django.db import migrations

import core.money
from channels.money_migrations import money_to_units, units_to_money

RESERVED_HELP = "Worst-case cost of requests in flight (database reservations only)."
COLUMNS = {
    "billing_account": ("balance", "reserved"),
    "billing_apikey": ("spend_limit", "spend_in_period", "reserved"),
    "billing_usagerecord": ("input_price", "output_price", "cached_input_price", "cost"),
    "billing_ledgerentry": ("amount",),
    "billing_reservation": ("amount",),
}


def to_units(apps, schema_editor):
    for table, columns in COLUMNS.items():
        money_to_units(schema_editor, table, columns)


def to_money(apps, schema_editor):
    for table, columns in COLUMNS.items():
        units_to_money(schema_editor, table, columns)


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0002_budgets"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="balance",
            field=core.money.MoneyField(default=Decimal("0"), editable=False),
        ),
        migrations.AlterField(
            model_name="account",
            name="reserved",
            field=core.money.MoneyField(
                default=Decimal("0"), editable=False, help_text=RESERVED_HELP
            ),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="spend_limit",
            field=core.money.MoneyField(
                blank=True,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="spend_in_period",
            field=core.money.MoneyField(default=Decimal("0"), editable=False),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="reserved",
            field=core.money.MoneyField(
                default=Decimal("0"), editable=False, help_text=RESERVED_HELP
            ),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="input_price",
            field=core.money.MoneyField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="output_price",
            field=core.money.MoneyField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="cached_input_price",
            field=core.money.MoneyField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="cost",
            field=core.money.MoneyField(default=Decimal("0")),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="amount",
            field=core.money.MoneyField(),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="amount",
            field=core.money.MoneyField(),
        ),
        migrations.RunPython(to_units, to_money),
    ]

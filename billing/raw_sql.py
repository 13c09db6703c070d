"""Pieces of the raw SQL that billing's hot paths use instead of the ORM, for PostgreSQL and
SQLite alike."""

from django.db import connection
from django.db.models import Model

AMOUNT = "CAST(%s AS NUMERIC)"
"""A decimal parameter: SQLite would otherwise compare it with numbers as text."""


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)

"""Make the database refuse chosen usage records, as it does a value it cannot store."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

REFUSED_USER = "refuse-me"
"""The `user` of a request whose usage record the database refuses."""
SECRET_IN_ERROR = "sk-live-0123456789abcdefSECRET"
"""A credential the refusal's message carries: no dead letter may keep it."""

_CREATE_POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION test_refuse_usage() RETURNS trigger AS $$
BEGIN
  IF NEW."user" = '{REFUSED_USER}' THEN
    RAISE EXCEPTION 'usage refused (key {SECRET_IN_ERROR})' USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_refuse_usage BEFORE INSERT ON billing_usagerecord
  FOR EACH ROW EXECUTE FUNCTION test_refuse_usage();
"""
_DROP_POSTGRESQL = """
DROP TRIGGER IF EXISTS test_refuse_usage ON billing_usagerecord;
DROP FUNCTION IF EXISTS test_refuse_usage();
"""
_CREATE_SQLITE = f"""
CREATE TRIGGER test_refuse_usage BEFORE INSERT ON billing_usagerecord
  WHEN NEW."user" = '{REFUSED_USER}'
  BEGIN SELECT RAISE(ABORT, 'usage refused (key {SECRET_IN_ERROR})'); END
"""
_DROP_SQLITE = "DROP TRIGGER IF EXISTS test_refuse_usage"


def refuse_usage() -> None:
    """From now on, inserting a record with `user = REFUSED_USER` raises a DataError (SQLSTATE
    22023, a data exception; an IntegrityError on SQLite)."""
    sql = _CREATE_POSTGRESQL if connection.vendor == "postgresql" else _CREATE_SQLITE
    with connection.cursor() as cursor:
        cursor.execute(sql)


def accept_usage() -> None:
    """The database stores such records again."""
    sql = _DROP_POSTGRESQL if connection.vendor == "postgresql" else _DROP_SQLITE
    with connection.cursor() as cursor:
        cursor.execute(sql)


@contextmanager
def refusing_usage() -> Iterator[None]:
    """Refuse such records for the block (committed data: the gateway's threads see it)."""
    refuse_usage()
    try:
        yield
    finally:
        accept_usage()

"""Test settings for the embedded default's backend: SQLite in a temporary folder, no Redis, the
same fixed test-only secrets as `config.settings.test`. For the billing, admission, reports and
reconcile tests (`make test` runs them on SQLite too), whatever DATABASE_URL says."""

import os
import tempfile
from pathlib import Path

_FOLDER = Path(tempfile.mkdtemp(prefix="switchyard-sqlite-"))

# This run's own database and state, never `make test`'s PostgreSQL and Redis; gateway
# subprocesses of the tests inherit these settings (one journal folder per run).
os.environ["DATABASE_URL"] = f"sqlite:///{_FOLDER / 'switchyard.sqlite3'}"
os.environ["SWITCHYARD_VAR_DIR"] = str(_FOLDER / "var")
for _name in ("REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(_name, None)
os.environ.setdefault("GATEWAY_RESERVATION_RESYNC_SECONDS", "0")
os.environ.setdefault("GATEWAY_JOURNAL_DIR", tempfile.mkdtemp(prefix="switchyard-journal-"))
os.environ.setdefault("GATEWAY_JOURNAL_SWEEP_SECONDS", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x1y2z3" * 10)
os.environ.setdefault("SWITCHYARD_ENCRYPTION_KEYS", "Q_6hiOO_3ZN67eKJ4CFe4ogQcScvEaCmKts5itbWWwY=")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import DATABASES  # noqa: E402

# A file, not Django's in-memory test database: the gateway's writer and reserver threads
# share it as the embedded default does.
DATABASES["default"]["TEST"] = {"NAME": str(_FOLDER / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Test settings: the real PostgreSQL and Redis that `make test` starts, fixed test-only secrets."""

import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        "The test suite runs against PostgreSQL and Redis: run it with `make test` "
        "(or `scripts/with-services <command>`), which starts both."
    )

# Every test starts with an emptied Redis: a new generation of holds needs no settling time
# there. Gateway subprocesses of the tests inherit these settings (one journal folder per run).
os.environ.setdefault("GATEWAY_RESERVATION_RESYNC_SECONDS", "0")
os.environ.setdefault("GATEWAY_JOURNAL_DIR", tempfile.mkdtemp(prefix="switchyard-journal-"))
# No background sweeps in the test process: a test that kills a gateway starts one that sweeps.
os.environ.setdefault("GATEWAY_JOURNAL_SWEEP_SECONDS", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x1y2z3" * 10)
os.environ.setdefault("SWITCHYARD_ENCRYPTION_KEYS", "Q_6hiOO_3ZN67eKJ4CFe4ogQcScvEaCmKts5itbWWwY=")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Test settings: the real PostgreSQL and Redis that `make test` starts, fixed test-only secrets."""

import os

from django.core.exceptions import ImproperlyConfigured

if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        "The test suite runs against PostgreSQL and Redis: run it with `make test` "
        "(or `scripts/with-services <command>`), which starts both."
    )

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x1y2z3" * 10)
os.environ.setdefault("SWITCHYARD_ENCRYPTION_KEYS", "Q_6hiOO_3ZN67eKJ4CFe4ogQcScvEaCmKts5itbWWwY=")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

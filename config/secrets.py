"""Load the process's secrets from the environment, generating them only for local use."""

import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.env import env, var_dir

SECRET_KEY_VARIABLE = "DJANGO_SECRET_KEY"  # noqa: S105 (a variable name)
ENCRYPTION_KEYS_VARIABLE = "SWITCHYARD_ENCRYPTION_KEYS"
UNSAFE_SECRET_KEY_PREFIX = "django-insecure"  # noqa: S105 (Django's dev-key marker)
MIN_SECRET_KEY_LENGTH = 50


def _generated(filename: str, make: str) -> str:
    """Return the value stored in `var/<filename>`, writing `make` there first if it is missing."""
    path: Path = var_dir() / filename
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def is_unsafe_secret_key(value: str) -> bool:
    """Whether a secret key is a development key (Django's own `security.W009` criteria)."""
    return (
        value.startswith(UNSAFE_SECRET_KEY_PREFIX)
        or len(value) < MIN_SECRET_KEY_LENGTH
        or len(set(value)) < 5
    )


def load_secret_key(*, may_generate: bool) -> str:
    """Return DJANGO_SECRET_KEY; generated into `var/` locally, a bad one refused in production."""
    value = env.str(SECRET_KEY_VARIABLE, default="")
    if not value:
        if may_generate:
            return _generated("secret_key", secrets.token_urlsafe(64))
        raise ImproperlyConfigured(
            f"{SECRET_KEY_VARIABLE} is not set. Set it to a random string of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    if not may_generate and is_unsafe_secret_key(value):
        raise ImproperlyConfigured(
            f"{SECRET_KEY_VARIABLE} is a development key (too short, too simple or "
            f"'{UNSAFE_SECRET_KEY_PREFIX}…'). Set {SECRET_KEY_VARIABLE} to a random string of "
            f"at least {MIN_SECRET_KEY_LENGTH} characters."
        )
    return str(value)


def load_encryption_keys(*, may_generate: bool) -> list[str]:
    """Return the Fernet keys of SWITCHYARD_ENCRYPTION_KEYS (first encrypts, all decrypt)."""
    keys: list[str] = env.list(ENCRYPTION_KEYS_VARIABLE, default=[])
    if not keys:
        if may_generate:
            return [_generated("encryption_key", Fernet.generate_key().decode())]
        raise ImproperlyConfigured(
            f"{ENCRYPTION_KEYS_VARIABLE} is not set. Set it to one or more comma-separated "
            "Fernet keys (the first encrypts, all decrypt), e.g. the output of `python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{ENCRYPTION_KEYS_VARIABLE}: key number {position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return keys

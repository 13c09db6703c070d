"""Start-up configuration: production refuses unsafe secrets; local use generates them once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.env import BASE_DIR

GOOD_SECRET_KEY = "a-perfectly-random-production-secret-" + "Qx7#pL2@" * 5
START_DJANGO = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)


def start(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Start Django with exactly these project variables (nothing inherited from the test run)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SWITCHYARD_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SWITCHYARD_VAR_DIR": str(tmp_path / "var"),
        **env_overrides,
    }
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", START_DJANGO],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {"DATABASE_URL": "postgres://switchyard@127.0.0.1:1/switchyard"}


@pytest.mark.parametrize(
    ("overrides", "named_variable"),
    [
        pytest.param({}, "DJANGO_SECRET_KEY", id="missing-secret-key"),
        pytest.param(
            {"DJANGO_SECRET_KEY": "django-insecure-" + "k" * 50},
            "DJANGO_SECRET_KEY",
            id="dev-secret-key",
        ),
        pytest.param({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY", id="short-secret-key"),
        pytest.param(
            {"DJANGO_SECRET_KEY": GOOD_SECRET_KEY},
            "SWITCHYARD_ENCRYPTION_KEYS",
            id="missing-encryption-keys",
        ),
        pytest.param(
            {"DJANGO_SECRET_KEY": GOOD_SECRET_KEY, "SWITCHYARD_ENCRYPTION_KEYS": "not-a-key"},
            "SWITCHYARD_ENCRYPTION_KEYS",
            id="invalid-encryption-key",
        ),
    ],
)
def test_production_refuses_to_start_with_unsafe_secrets(overrides, named_variable, tmp_path):
    result = start(PRODUCTION | overrides, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named_variable in result.stderr
    assert "not-a-key" not in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_starts_with_safe_secrets(tmp_path):
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    result = start(
        PRODUCTION | {"DJANGO_SECRET_KEY": GOOD_SECRET_KEY, "SWITCHYARD_ENCRYPTION_KEYS": keys},
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == GOOD_SECRET_KEY


def test_embedded_default_generates_secrets_once_into_var(tmp_path):
    first = start({}, tmp_path)
    second = start({}, tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    secret_file = tmp_path / "var" / "secret_key"
    assert secret_file.read_text().strip() == first.stdout.strip()
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    key_file = tmp_path / "var" / "encryption_key"
    Fernet(key_file.read_text().strip())  # a valid key
    assert (tmp_path / "var" / "switchyard.sqlite3").parent.is_dir()

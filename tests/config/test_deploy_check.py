"""Production behind a TLS proxy (SWITCHYARD_BEHIND_TLS_PROXY): `manage.py check --deploy` is
clean, the site sends HSTS and secure cookies and redirects plain HTTP, the probes, /metrics
and the client API are not redirected; without the switch, `check --deploy` warns."""

import os
import subprocess
import sys

import httpx
import pytest
from cryptography.fernet import Fernet

from config.env import BASE_DIR
from tests.gateway.process_helpers import gateway_process

SECRET_KEY = "a-perfectly-random-production-secret-" + "Qx7#pL2@" * 5
HSTS = "max-age=31536000; includeSubDomains; preload"
PROXIED_HTTPS = {"X-Forwarded-Proto": "https"}


def production_env(tmp_path, **overrides: str) -> dict[str, str]:
    """Production settings (a database URL, real secrets, no debug), nothing inherited from the
    test run's own project variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SWITCHYARD_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://switchyard@127.0.0.1:1/sy"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "SWITCHYARD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "gateway.example.com,127.0.0.1",
        "SWITCHYARD_VAR_DIR": str(tmp_path / "var"),
        **overrides,
    }


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_is_clean_behind_a_tls_proxy(tmp_path):
    result = check_deploy(production_env(tmp_path, SWITCHYARD_BEHIND_TLS_PROXY="true"))

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_without_the_switch(tmp_path):
    result = check_deploy(production_env(tmp_path))

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_check_deploy_warns_when_hsts_is_turned_off(tmp_path):
    env = production_env(
        tmp_path, SWITCHYARD_BEHIND_TLS_PROXY="true", DJANGO_SECURE_HSTS_SECONDS="0"
    )

    result = check_deploy(env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr


@pytest.mark.django_db
def test_behind_a_tls_proxy_the_site_is_https_only_and_the_probes_stay_plain(tmp_path):
    env = production_env(tmp_path, SWITCHYARD_BEHIND_TLS_PROXY="true")
    env.pop("DATABASE_URL")  # gateway_process points the server at the test database
    # gateway_process itself waits for a plain-HTTP /healthz: a redirect would never start it.
    with gateway_process(**env) as (_, url), httpx.Client(base_url=url, timeout=30) as http:
        login = http.get("/admin/login/", headers=PROXIED_HTTPS)
        plain_login = http.get("/admin/login/")
        probes = {path: http.get(path).status_code for path in ("/healthz", "/readyz", "/metrics")}
        client_api = http.get("/v1/models")

    assert login.status_code == 200
    assert login.headers["Strict-Transport-Security"] == HSTS
    assert login.headers["X-Content-Type-Options"] == "nosniff"
    assert login.headers["Referrer-Policy"] == "same-origin"
    assert "; secure" in login.headers["Set-Cookie"].lower()
    assert plain_login.status_code == 301
    assert plain_login.headers["Location"] == f"https://{url.removeprefix('http://')}/admin/login/"
    assert probes == {"/healthz": 200, "/readyz": 200, "/metrics": 200}
    assert client_api.status_code == 401  # the key's refusal, not a redirect

"""Bad gateway settings stop start-up with a message naming the setting (gateway.checks)."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from config.env import BASE_DIR


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"GATEWAY_TIMEOUT": 0}, "GATEWAY_TIMEOUT must be greater than 0"),
        ({"GATEWAY_FIRST_TOKEN_TIMEOUT": -1.0}, "GATEWAY_FIRST_TOKEN_TIMEOUT must be greater"),
        ({"GATEWAY_MAX_ATTEMPTS": 0}, "GATEWAY_MAX_ATTEMPTS must be at least 1"),
        (
            {"GATEWAY_REQUEST_DEADLINE": 600.0, "GATEWAY_RESERVATION_SECONDS": 300.0},
            "GATEWAY_RESERVATION_SECONDS must not be shorter than GATEWAY_REQUEST_DEADLINE",
        ),
    ],
)
def test_manage_check_refuses_a_bad_setting(settings, named):
    with override_settings(**settings), pytest.raises(SystemCheckError, match=named):
        call_command("check")


def test_the_defaults_pass():
    call_command("check")  # raises SystemCheckError on any error


def test_the_gateway_server_does_not_start_on_a_bad_setting():
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env |= {"GATEWAY_MAX_ATTEMPTS": "0", "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.edge.server", "--port", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "Switchyard will not start" in done.stderr
    assert "GATEWAY_MAX_ATTEMPTS must be at least 1" in done.stderr

"""`demo_setup` creates the demo once and keeps its secrets in `var/demo-credentials.txt` (mode
0600) and a box; `create_api_key` issues keys from the shell."""

import os
import stat
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.keys import hash_key
from billing.models import Account, ApiKey
from billing.selectors import account_ledger_sum
from billing.services import api_key_revoke
from channels.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty `var/` for the command (SWITCHYARD_VAR_DIR), as on a fresh checkout."""
    monkeypatch.setenv("SWITCHYARD_VAR_DIR", str(tmp_path))
    return tmp_path


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def sourced(path: Path) -> dict[str, str]:
    """The variables a shell gets from `set -a; . <file>`, as the box tells the user to do."""
    script = f'set -a; . "{path}"; set +a; env -0'
    output = subprocess.run(  # noqa: S603
        ["/bin/sh", "-c", script], capture_output=True, check=True, env={}, text=True
    ).stdout
    pairs = (entry.split("=", 1) for entry in output.split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name.startswith("SWITCHYARD_")}


def box_of(output: str) -> list[str]:
    lines = output.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("╔"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("╚"))
    return lines[top : bottom + 1]


def test_demo_setup_creates_everything_once_and_saves_its_secrets(var):
    first = run("demo_setup", "--upstream-url", "http://127.0.0.1:9100/v1")
    second = run("demo_setup", "--upstream-url", "http://127.0.0.1:9200/v1")

    saved = sourced(var / "demo-credentials.txt")
    password, secret = saved["SWITCHYARD_ADMIN_PASSWORD"], saved["SWITCHYARD_API_KEY"]
    assert User.objects.get(username="admin").check_password(password)
    assert ApiKey.objects.get().key_hash == hash_key(secret)
    assert saved == {
        "SWITCHYARD_BASE_URL": "http://127.0.0.1:8000/v1",
        "SWITCHYARD_API_KEY": secret,
        "SWITCHYARD_URL": "http://127.0.0.1:8000",
        "SWITCHYARD_ADMIN_USER": "admin",
        "SWITCHYARD_ADMIN_PASSWORD": password,
    }
    # Both runs end with the box; the second still knows the secrets, from the file.
    for output in (first, second):
        box = box_of(output)
        assert output.rstrip().endswith(box[-1])
        assert any(f"API key       {secret}" in line for line in box)
        assert any(f"admin / {password}" in line for line in box)
        assert (
            f'curl http://127.0.0.1:8000/v1/chat/completions -H "Authorization: Bearer {secret}"'
            in output
        )

    assert User.objects.count() == 1
    account = Account.objects.get()
    assert account.balance == 10 == account_ledger_sum(account=account)
    channel = Channel.objects.get()
    assert channel.base_url == "http://127.0.0.1:9200/v1"
    assert [m.model for m in channel.models.all()] == ["gpt-4o-mini"]


def test_the_credentials_file_is_the_owners_alone_whatever_was_there(var):
    path = var / "demo-credentials.txt"
    path.write_text("old\n")
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        run("demo_setup", "--no-box")
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "old" not in path.read_text()
    assert [p.name for p in var.iterdir() if p.name.startswith("demo-")] == [path.name]


def test_with_no_box_no_secret_is_printed(var):
    output = run("demo_setup", "--no-box", "--gateway-url", "http://127.0.0.1:8080")

    saved = sourced(var / "demo-credentials.txt")
    assert saved["SWITCHYARD_ADMIN_PASSWORD"] not in output
    assert saved["SWITCHYARD_API_KEY"] not in output
    assert saved["SWITCHYARD_BASE_URL"] == "http://127.0.0.1:8080/v1"
    assert "Demo credentials saved to" in output
    assert "╔" not in output


def test_a_changed_password_or_revoked_key_is_not_shown_as_working(var):
    run("demo_setup", "--no-box")
    user = User.objects.get(username="admin")
    user.set_password("changed-by-the-operator")
    user.save()
    api_key_revoke(key=ApiKey.objects.get())

    output = run("demo_setup")

    box = "\n".join(box_of(output))
    assert "admin / (not known: manage.py changepassword admin)" in box
    assert "API key       (not known: manage.py create_api_key --account demo)" in box
    saved = sourced(var / "demo-credentials.txt")
    assert "SWITCHYARD_ADMIN_PASSWORD" not in saved
    assert "SWITCHYARD_API_KEY" not in saved
    assert saved["SWITCHYARD_BASE_URL"] == "http://127.0.0.1:8000/v1"


def test_the_box_is_a_closed_frame(var):
    box = box_of(run("demo_setup"))

    assert len({len(line) for line in box}) == 1
    assert all(line.startswith(("╔", "║", "╟", "╚")) for line in box)
    assert all(line.endswith(("╗", "║", "╢", "╝")) for line in box)


def test_create_api_key_prints_only_the_secret():
    Account.objects.create(name="acme")

    secret = run("create_api_key", "--account", "acme", "--name", "ci").strip()

    key = ApiKey.objects.get(name="ci")
    assert key.account.name == "acme"
    assert key.key_hash == hash_key(secret)


def test_create_api_key_for_an_unknown_account_fails_clearly():
    with pytest.raises(CommandError, match="No account named 'nobody'"):
        run("create_api_key", "--account", "nobody")

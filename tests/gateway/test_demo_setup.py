"""`demo_setup` creates the demo once; `create_api_key` issues keys from the shell."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.keys import hash_key
from billing.models import Account, ApiKey
from billing.selectors import account_ledger_sum
from channels.models import Channel

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_demo_setup_creates_everything_once():
    first = run("demo_setup", "--upstream-url", "http://127.0.0.1:9100/v1")
    second = run("demo_setup", "--upstream-url", "http://127.0.0.1:9200/v1")

    password = re.search(r"Admin user created: admin / (\S+)", first)
    secret = re.search(r"Demo API key \(shown once\): (sk-\S+)", first)
    assert password
    assert secret
    assert User.objects.get(username="admin").check_password(password.group(1))
    key = ApiKey.objects.get()
    assert key.key_hash == hash_key(secret.group(1))
    assert password.group(1) not in second
    assert secret.group(1) not in second
    assert "curl http://127.0.0.1:8000/v1/chat/completions" in first

    assert User.objects.count() == 1
    account = Account.objects.get()
    assert account.balance == 10 == account_ledger_sum(account=account)
    channel = Channel.objects.get()
    assert channel.base_url == "http://127.0.0.1:9200/v1"
    assert [m.model for m in channel.models.all()] == ["gpt-4o-mini"]


def test_create_api_key_prints_only_the_secret():
    Account.objects.create(name="acme")

    secret = run("create_api_key", "--account", "acme", "--name", "ci").strip()

    key = ApiKey.objects.get(name="ci")
    assert key.account.name == "acme"
    assert key.key_hash == hash_key(secret)


def test_create_api_key_for_an_unknown_account_fails_clearly():
    with pytest.raises(CommandError, match="No account named 'nobody'"):
        run("create_api_key", "--account", "nobody")

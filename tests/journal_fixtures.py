"""Fixtures of the journal tests: a journal folder swept at once, and a key with credit."""

from decimal import Decimal

import pytest

from billing.services import account_create, account_credit
from tests.factories import ApiKeyFactory


@pytest.fixture
def journal_dir(tmp_path, settings):
    """An empty journal folder whose segments the sweep may take at once."""
    settings.GATEWAY_JOURNAL_DIR = tmp_path
    settings.GATEWAY_JOURNAL_SWEEP_SECONDS = 0
    return tmp_path


@pytest.fixture
def key():
    """A key of an account holding 10 USD."""
    account = account_create(name="acme")
    account_credit(account=account, amount=Decimal(10))
    return ApiKeyFactory(account=account)

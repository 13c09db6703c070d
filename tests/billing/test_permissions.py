"""Money and keys need permissions of their own (#12.3): staff without `billing.add_credit` cannot
credit an account through the API or the dashboard, not even with `change_account`; creating a key
needs `billing.add_apikey`; the "Support (read-only)" group reads and never writes."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from billing.models import Account, ApiKey, LedgerEntry
from tests.access_helpers import (
    SUPPORT_GROUP,
    SWITCHYARD_APPS,
    World,
    staff_with,
    support_user,
    token_client,
    world_create,
)
from tests.billing.api_helpers import KEYS, credits_url

OPENING_BALANCE = Decimal(10)


@pytest.fixture
def world(db: None) -> World:
    return world_create()


def browser_as(*perms: str) -> Client:
    client = Client()
    client.force_login(staff_with(*perms))
    return client


def balance(account: Account) -> Decimal:
    account.refresh_from_db(fields=["balance"])
    return account.balance


def test_adding_credit_is_a_permission_of_its_own(db: None) -> None:
    perm = Permission.objects.get(content_type__app_label="billing", codename="add_credit")

    assert perm.content_type.model == "account"
    assert perm.name == "Can add credit or an adjustment to an account"


@pytest.mark.parametrize(
    "perms",
    [(), ("billing.view_account", "billing.change_account", "billing.add_ledgerentry")],
    ids=["no permissions", "change_account and add_ledgerentry"],
)
def test_the_measured_api_credit_of_123_45_is_refused(perms: tuple[str, ...], world: World) -> None:
    client = token_client(staff_with(*perms))

    response = client.post(credits_url(world.account.pk), {"amount": "123.45"}, format="json")

    assert response.status_code == 403
    assert balance(world.account) == OPENING_BALANCE
    assert LedgerEntry.objects.filter(account=world.account).count() == 1


def test_the_measured_dashboard_credit_of_77_is_refused(world: World) -> None:
    client = browser_as("billing.view_account", "billing.change_account")

    page = client.get(f"/dashboard/billing/{world.account.pk}/")
    response = client.post(f"/dashboard/billing/{world.account.pk}/", {"amount": "77"})

    assert page.status_code == 200
    assert 'id="add-credit"' not in page.content.decode()
    assert response.status_code == 403
    assert balance(world.account) == OPENING_BALANCE


def test_granting_add_credit_lets_staff_credit_through_both(world: World) -> None:
    api = token_client(staff_with("billing.add_credit"))
    dashboard = browser_as("billing.view_account", "billing.add_credit")

    response = api.post(credits_url(world.account.pk), {"amount": "123.45"}, format="json")
    page = dashboard.post(f"/dashboard/billing/{world.account.pk}/", {"amount": "77"}, follow=True)

    assert response.status_code == 201
    assert response.json()["balance"] == "133.45"
    assert "Added 77" in page.content.decode()
    assert balance(world.account) == Decimal("210.45")


def test_creating_a_key_needs_add_apikey(world: World) -> None:
    api = token_client(staff_with("billing.view_apikey", "billing.change_apikey"))
    dashboard = browser_as("billing.view_apikey", "billing.change_apikey")

    body = {"name": "sneaky", "account": world.account.pk}
    refused_api = api.post(KEYS, body, format="json")
    refused_page = dashboard.post("/dashboard/keys/", body)
    allowed = token_client(staff_with("billing.add_apikey"))
    created = allowed.post(KEYS, {"name": "granted", "account": world.account.pk}, format="json")

    assert (refused_api.status_code, refused_page.status_code) == (403, 403)
    assert created.status_code == 201
    assert created.json()["key"].startswith("sk-")
    assert list(ApiKey.objects.order_by("name").values_list("name", flat=True)) == [
        "granted",
        "team-key",
    ]


def _support_permissions() -> set[str]:
    group = Group.objects.get(name=SUPPORT_GROUP)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_support_group_holds_every_view_permission_and_nothing_else(db: None) -> None:
    expected = {
        f"{model._meta.app_label}.view_{model._meta.model_name}"
        for label in SWITCHYARD_APPS
        for model in apps.get_app_config(label).get_models()
    }

    held = _support_permissions()

    assert held == expected
    assert "billing.view_account" in held
    assert "channels.view_channel" in held


def test_a_flushed_database_gets_the_support_group_back(transactional_db: None) -> None:
    before = _support_permissions()
    Group.objects.filter(name=SUPPORT_GROUP).delete()

    call_command("flush", interactive=False, verbosity=0)

    assert _support_permissions() == before


def test_a_support_user_can_look_up_a_balance_but_not_change_it(world: World) -> None:
    client = token_client(support_user())

    seen = client.get(f"/api/admin/accounts/{world.account.pk}/")
    refused = client.post(credits_url(world.account.pk), {"amount": "123.45"}, format="json")

    assert seen.json()["balance"] == "10"
    assert refused.status_code == 403
    assert balance(world.account) == OPENING_BALANCE

"""Least privilege for the dashboard (#12.3): every page and action needs the Django model
permission it uses, staff without it get a plain 403 (no redirect to the login they already
passed), and pages offer only the controls the user may use. The table below is the contract; a
new route missing from it fails `test_every_dashboard_route_is_in_the_table`."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.access_helpers import (
    Call,
    World,
    routes,
    staff_with,
    staff_with_all_but,
    support_user,
    world_create,
    world_state,
)
from tests.dashboard.attempt_helpers import record_with_attempts

VIEW_USAGE = ("billing.view_usagerecord",)
VIEW_ACCOUNT = ("billing.view_account",)
VIEW_KEY = ("billing.view_apikey",)
VIEW_LEDGER = "billing.view_ledgerentry"
CHANGE_CHANNEL = ("channels.change_channel",)
CREDIT = (*VIEW_ACCOUNT, "billing.add_credit")
PAGES = [
    Call("get", "/dashboard/", VIEW_USAGE, 200),
    Call("get", "/dashboard/channels/", ("channels.view_channel",), 200),
    Call("get", "/dashboard/channels/{channel}/", ("channels.view_channel",), 200),
    Call("post", "/dashboard/channels/{channel}/test/", CHANGE_CHANNEL, 302),
    Call("post", "/dashboard/channels/{channel}/toggle/", CHANGE_CHANNEL, 302, {"enabled": "0"}),
    Call("get", "/dashboard/usage/", VIEW_USAGE, 200),
    Call("get", "/dashboard/usage/{record}/", VIEW_USAGE, 200),
    Call("get", "/dashboard/billing/", VIEW_ACCOUNT, 200),
    Call("get", "/dashboard/billing/{account}/", VIEW_ACCOUNT, 200),
    Call("post", "/dashboard/billing/{account}/", CREDIT, 302, {"amount": "77"}),
    Call("get", "/dashboard/billing/{account}/statement.csv", VIEW_ACCOUNT, 200),
    Call("get", "/dashboard/keys/", VIEW_KEY, 200),
    Call("post", "/dashboard/keys/", (*VIEW_KEY, "billing.add_apikey"), 200, {"name": "new-key"}),
    Call("post", "/dashboard/keys/{key}/revoke/", ("billing.change_apikey",), 302),
]  # fmt: skip
WRITES = [page for page in PAGES if page.writes]
READS = [page for page in PAGES if not page.writes]


@pytest.fixture
def world(db: None) -> World:
    return world_create()


def browser(user: User) -> Client:
    """A test client logged in as the user."""
    client = Client()
    client.force_login(user)
    return client


def visit(client: Client, page: Call, world: World) -> int:
    """The status of the page or action requested with the client."""
    response = getattr(client, page.method)(page.url(world), page.body)
    return int(response.status_code)


def test_every_dashboard_route_is_in_the_table() -> None:
    converters = {
        "{channel}": "<int:channel_id>",
        "{account}": "<int:account_id>",
        "{key}": "<int:key_id>",
        "{record}": "<str:record_id>",
    }
    listed = set()
    for page in PAGES:
        route = page.path.removeprefix("/")
        for placeholder, converter in converters.items():
            route = route.replace(placeholder, converter)
        listed.add(route)

    assert listed == {route for route, _ in routes("dashboard/")}


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_staff_without_permissions_get_403_and_nothing_changes(page: Call, world: World) -> None:
    client = browser(staff_with())
    before = world_state()

    response = getattr(client, page.method)(page.url(world), page.body)

    assert response.status_code == 403
    assert not response.has_header("Location")
    assert world_state() == before


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_staff_with_just_the_permissions_are_allowed(page: Call, world: World) -> None:
    assert visit(browser(staff_with(*page.perms)), page, world) == page.ok


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_other_permission_is_not_enough(page: Call, world: World) -> None:
    before = world_state()
    for number, perm in enumerate(page.perms):
        client = browser(staff_with_all_but(perm, username=f"almost-{number}"))

        assert visit(client, page, world) == 403, perm
    assert world_state() == before


@pytest.mark.parametrize("page", READS, ids=str)
def test_the_support_group_reads_every_page(page: Call, world: World) -> None:
    assert visit(browser(support_user()), page, world) == 200


@pytest.mark.parametrize("page", WRITES, ids=str)
def test_the_support_group_changes_nothing(page: Call, world: World) -> None:
    before = world_state()

    assert visit(browser(support_user()), page, world) == 403
    assert world_state() == before


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_superuser_passes_everything(page: Call, world: World) -> None:
    root = User.objects.create_superuser("root", password="root-pass")

    assert visit(browser(root), page, world) == page.ok


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_non_staff_are_sent_to_the_login_as_before(page: Call, world: World) -> None:
    user = staff_with(*page.perms)
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    before = world_state()

    response = getattr(browser(user), page.method)(page.url(world), page.body)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert world_state() == before


def test_support_pages_offer_no_controls_they_cannot_use(world: World) -> None:
    client = browser(support_user())

    channels = client.get("/dashboard/channels/").content.decode()
    keys = client.get("/dashboard/keys/").content.decode()
    account = client.get(f"/dashboard/billing/{world.account.pk}/").content.decode()

    assert world.channel.name in channels
    for control in ("Test now", "Disable", "Add a channel"):
        assert control not in channels
    assert "team-key" in keys
    assert "Revoke" not in keys
    assert "Create a key" not in keys
    assert 'data-testid="balance"' in account
    assert 'id="add-credit"' not in account


def test_an_operator_with_the_permissions_gets_the_controls(
    staff_browser: Client, world: World
) -> None:
    channels = staff_browser.get("/dashboard/channels/").content.decode()
    keys = staff_browser.get("/dashboard/keys/").content.decode()
    account = staff_browser.get(f"/dashboard/billing/{world.account.pk}/").content.decode()

    for control in ("Test now", "Disable", "Add a channel"):
        assert control in channels
    assert "Revoke" in keys
    assert "Create a key" in keys
    assert 'id="add-credit"' in account


def test_the_navigation_shows_only_readable_pages(world: World) -> None:
    client = browser(staff_with("channels.view_channel", "billing.change_apikey"))

    html = client.get("/dashboard/channels/").content.decode()

    assert ">Channels</a>" in html
    assert ">Keys</a>" in html
    for hidden in ("Overview", "Usage", "Billing"):
        assert f">{hidden}</a>" not in html


def test_the_ledger_on_a_page_needs_view_ledgerentry(world: World) -> None:
    """The account page's ledger and a request's charge are shown only to staff who may read
    ledger entries, as the API asks."""
    charged = record_with_attempts(attempts=[], key=world.key, cost=Decimal("0.5"))
    pages = {
        f"/dashboard/billing/{world.account.pk}/": ("opening", VIEW_ACCOUNT),
        f"/dashboard/usage/{charged.pk}/": ("Charged in ledger entry", VIEW_USAGE),
    }
    for number, (url, (shown, needed)) in enumerate(pages.items()):
        without = browser(staff_with(*needed, username=f"without-{number}")).get(url)
        with_it = browser(staff_with(*needed, VIEW_LEDGER, username=f"with-{number}")).get(url)

        assert (without.status_code, with_it.status_code) == (200, 200)
        assert shown not in without.content.decode(), url
        assert VIEW_LEDGER in without.content.decode(), url
        assert shown in with_it.content.decode(), url


def test_a_channel_page_names_requests_only_to_who_may_read_them(world: World) -> None:
    record_with_attempts(
        attempts=[{"channel_id": world.channel.pk, "channel": world.channel.name, "outcome": "ok"}]
    )
    url = f"/dashboard/channels/{world.channel.pk}/"

    without = browser(staff_with("channels.view_channel")).get(url).content.decode()
    with_it = browser(staff_with("channels.view_channel", *VIEW_USAGE, username="reader"))

    assert 'data-testid="recent-attempts"' not in without
    assert "billing.view_usagerecord" in without
    assert 'data-testid="recent-attempts"' in with_it.get(url).content.decode()

"""Least privilege for the management API (#12.3): every route and method needs the Django model
permission it uses, as the admin does; the table below is the contract, and a new route missing
from it fails `test_every_management_route_is_in_the_table`."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.access_helpers import (
    Call,
    World,
    routes,
    staff_with,
    staff_with_all_but,
    support_user,
    token_client,
    world_create,
    world_state,
)

NEW_CHANNEL = {
    "name": "new-channel",
    "provider": "openai",
    "api_type": "openai",
    "base_url": "https://api.example.com/v1",
}
READ_USAGE = ("billing.view_usagerecord",)
CHANGE_CHANNEL = ("channels.change_channel",)
CREDIT = {"amount": "123.45"}
NEW_KEY = {"name": "new-key", "account": "{account}"}
API_CALLS = [
    Call("get", "/api/admin/channels/", ("channels.view_channel",), 200),
    Call("post", "/api/admin/channels/", ("channels.add_channel",), 201, NEW_CHANNEL),
    Call("get", "/api/admin/channels/{channel}/", ("channels.view_channel",), 200),
    Call("patch", "/api/admin/channels/{channel}/", CHANGE_CHANNEL, 200, {"priority": 7}),
    # Archived rather than deleted (200): a channel changed this recently may still serve.
    Call("delete", "/api/admin/channels/{channel}/", ("channels.delete_channel",), 200),
    Call("post", "/api/admin/channels/{channel}/test/", CHANGE_CHANNEL, 200),
    Call("get", "/api/admin/accounts/", ("billing.view_account",), 200),
    Call("post", "/api/admin/accounts/", ("billing.add_account",), 201, {"name": "new-account"}),
    Call("get", "/api/admin/accounts/{account}/", ("billing.view_account",), 200),
    Call("post", "/api/admin/accounts/{account}/credits/", ("billing.add_credit",), 201, CREDIT),
    Call("get", "/api/admin/keys/", ("billing.view_apikey",), 200),
    Call("post", "/api/admin/keys/", ("billing.add_apikey",), 201, NEW_KEY),
    Call("get", "/api/admin/keys/{key}/", ("billing.view_apikey",), 200),
    Call("patch", "/api/admin/keys/{key}/", ("billing.change_apikey",), 200, {"name": "renamed"}),
    Call("delete", "/api/admin/keys/{key}/", ("billing.change_apikey",), 204),
    Call("get", "/api/admin/usage/", READ_USAGE, 200),
    Call(
        "get",
        "/api/admin/reports/reconcile/",
        ("billing.view_account", "billing.view_ledgerentry", "billing.view_usagerecord"),
        200,
    ),
    Call("get", "/api/admin/reports/usage/?group_by=model", READ_USAGE, 200),
]  # fmt: skip
WRITES = [call for call in API_CALLS if call.writes]
READS = [call for call in API_CALLS if not call.writes]


@pytest.fixture
def world(db: None) -> World:
    return world_create()


def send(client: APIClient, call: Call, world: World) -> int:
    """The status of the call made with the client."""
    body = call.payload(world) or None
    response = getattr(client, call.method)(call.url(world), body, format="json")
    return int(response.status_code)


def test_every_management_route_is_in_the_table() -> None:
    served = {
        (route, method)
        for route, callback in routes("api/admin/")
        for method in ("get", "post", "put", "patch", "delete")
        if hasattr(callback.view_class, method)
    }
    listed = {(f"api/admin/{call.path.split('/api/admin/')[1]}", call.method) for call in API_CALLS}
    placeholders = {
        "{channel}": "<int:channel_id>",
        "{account}": "<int:account_id>",
        "{key}": "<int:key_id>",
    }
    normalised = set()
    for route, method in listed:
        for placeholder, converter in placeholders.items():
            route = route.replace(placeholder, converter)
        normalised.add((route.split("?")[0], method))

    assert normalised == served


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_staff_without_permissions_is_refused_and_nothing_changes(call: Call, world: World) -> None:
    client = token_client(staff_with())
    before = world_state()

    assert send(client, call, world) == 403
    assert world_state() == before


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_staff_with_just_the_permission_is_allowed(call: Call, world: World) -> None:
    assert send(token_client(staff_with(*call.perms)), call, world) == call.ok


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_every_other_permission_is_not_enough(call: Call, world: World) -> None:
    before = world_state()
    for number, perm in enumerate(call.perms):
        client = token_client(staff_with_all_but(perm, username=f"almost-{number}"))

        assert send(client, call, world) == 403, perm
    assert world_state() == before


@pytest.mark.parametrize("call", READS, ids=str)
def test_change_permission_also_reads(call: Call, world: World) -> None:
    perms = tuple(perm.replace(".view_", ".change_") for perm in call.perms)

    assert send(token_client(staff_with(*perms)), call, world) == 200


@pytest.mark.parametrize("call", READS, ids=str)
def test_the_support_group_reads_everything(call: Call, world: World) -> None:
    assert send(token_client(support_user()), call, world) == 200


@pytest.mark.parametrize("call", WRITES, ids=str)
def test_the_support_group_writes_nothing(call: Call, world: World) -> None:
    before = world_state()

    assert send(token_client(support_user()), call, world) == 403
    assert world_state() == before


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_a_superuser_passes_everything(call: Call, world: World) -> None:
    root = User.objects.create_superuser("root", password="root-pass")

    assert send(token_client(root), call, world) == call.ok


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_non_staff_stay_refused_even_with_every_permission(call: Call, world: World) -> None:
    user = staff_with(*call.perms)
    user.is_staff = False
    user.save(update_fields=["is_staff"])

    assert send(token_client(user), call, world) == 403


@pytest.mark.parametrize("call", API_CALLS, ids=str)
def test_anonymous_callers_must_authenticate(call: Call, world: World) -> None:
    assert send(APIClient(), call, world) == 401


@pytest.mark.parametrize("method", ["head", "options", "put"])
def test_other_methods_need_permissions_too(method: str, world: World) -> None:
    path = f"/api/admin/channels/{world.channel.pk}/"
    refused = token_client(staff_with())
    allowed = token_client(staff_with("channels.view_channel", "channels.change_channel"))

    assert refused.generic(method.upper(), path).status_code == 403
    assert allowed.generic(method.upper(), path).status_code == (405 if method == "put" else 200)


UNANSWERED = [
    ("get", "/api/admin/accounts/{account}/credits/"),
    ("options", "/api/admin/accounts/{account}/credits/"),
    ("post", "/api/admin/reports/reconcile/"),
    ("get", "/api/admin/channels/{channel}/test/"),
    ("options", "/api/admin/channels/{channel}/test/"),
]


@pytest.mark.parametrize(("method", "path"), UNANSWERED)
def test_a_method_a_view_does_not_answer_is_refused_not_a_server_error(
    method: str, path: str, world: World
) -> None:
    url = path.format(**world.ids())
    root = User.objects.create_superuser("root", password="root-pass")

    anonymous = getattr(APIClient(), method)(url)
    staff = getattr(token_client(staff_with(*CHANGE_CHANNEL)), method)(url)
    superuser = getattr(token_client(root), method)(url)

    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"
    assert staff.status_code == 403
    assert superuser.status_code == (200 if method == "options" else 405)  # DRF's metadata

"""Users holding chosen permissions, the objects every management route works on, and the
routes themselves, for the least-privilege tests of the management API and the dashboard."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account, ApiKey, LedgerEntry, UsageRecord
from billing.roles import SUPPORT_GROUP, SWITCHYARD_APPS
from billing.services import account_credit
from channels.models import Channel, HealthCheck
from tests.factories import ApiKeyFactory, ChannelFactory, UsageRecordFactory

# Nothing listens on the discard port: a probe of this channel fails at once, for real.
DEAD_UPSTREAM = "http://127.0.0.1:9/v1"


def permissions(*names: str) -> list[Permission]:
    """The `app_label.codename` permissions, each of which must exist."""
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query))
    assert len(found) == len(names), f"unknown permission among {names}"
    return found


def staff_with(*perms: str, username: str | None = None) -> User:
    """An active staff user holding exactly `perms` (named `staff-<n>` unless told)."""
    username = username or f"staff-{User.objects.count() + 1}"
    user = User.objects.create_user(username, password="staff-pass", is_staff=True)
    user.user_permissions.set(permissions(*perms))
    return user


def staff_with_all_but(perm: str, *, username: str) -> User:
    """A staff user holding every Switchyard permission except `perm` (and, for a `view_` one,
    the `change_` one that would also grant it)."""
    app_label, codename = perm.split(".")
    excluded = {codename}
    if codename.startswith("view_"):
        excluded.add("change_" + codename.removeprefix("view_"))
    user = User.objects.create_user(username, password="staff-pass", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=SWITCHYARD_APPS).exclude(
            content_type__app_label=app_label, codename__in=excluded
        )
    )
    return user


def support_user() -> User:
    """A staff user whose only permissions come from the support group."""
    user = User.objects.create_user("support", password="support-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


def token_client(user: User) -> APIClient:
    """An API client authenticated with the user's DRF token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@dataclass(frozen=True)
class World:
    """One of each object a management route reads or changes."""

    channel: Channel
    account: Account
    key: ApiKey
    record: UsageRecord

    def ids(self) -> dict[str, Any]:
        """The placeholders a route's path is written with."""
        return {
            "channel": self.channel.pk,
            "account": self.account.pk,
            "key": self.key.pk,
            "record": self.record.pk,
        }


def world_create() -> World:
    """A channel without history, an account holding 10 USD, a key in it and one request."""
    channel = ChannelFactory.create(base_url=DEAD_UPSTREAM, api_key="sk-upstream-0123456789")
    key = ApiKeyFactory.create(name="team-key")
    account_credit(account=key.account, amount=Decimal(10), description="opening")
    record = UsageRecordFactory.create(key=key)
    return World(channel=channel, account=key.account, key=key, record=record)


def world_state() -> tuple[Any, ...]:
    """Everything a write could change, to compare before and after a refused request."""
    return (
        list(Channel.objects.order_by("pk").values_list("pk", "name", "priority", "enabled")),
        list(Channel.objects.order_by("pk").values_list("status", "archived_at")),
        HealthCheck.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "name", "balance")),
        LedgerEntry.objects.count(),
        list(ApiKey.objects.order_by("pk").values_list("pk", "name", "revoked_at")),
    )


@dataclass(frozen=True)
class Call:
    """One route and method, the permissions it needs, and its status when they are held."""

    method: str
    path: str
    perms: tuple[str, ...]
    ok: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        """Whether the call may change something."""
        return self.method != "get"

    def url(self, world: World) -> str:
        """The path with the world's ids filled in."""
        return self.path.format(**world.ids())

    def payload(self, world: World) -> dict[str, Any]:
        """The body with the world's ids filled into its string values."""
        ids = world.ids()
        return {
            name: value.format(**ids) if isinstance(value, str) else value
            for name, value in self.body.items()
        }

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def routes(prefix: str) -> Iterator[tuple[str, Any]]:
    """Every URL pattern whose full route starts with `prefix`, with its view callback."""

    def walk(patterns: list[Any], base: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            route = base + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(prefix):
                yield route, pattern.callback

    yield from walk(get_resolver().url_patterns, "")

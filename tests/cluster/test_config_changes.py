"""A change of price, channel or key is obeyed by every gateway process of the cluster within a
second (design.md §11): made through the management API behind nginx (so by one process) or by
a service in another process, and seen by each gateway, asked directly, although they poll only
every minute here (CLUSTER_SETTINGS)."""

import secrets
from decimal import Decimal

import httpx
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke
from channels.models import Channel
from channels.services import channels_set_enabled
from tests.cluster.conftest import Cluster, Tenant, make_tenant
from tests.conftest import SWITCHYARD_APPS
from tests.gateway.test_config_broadcast import _obeyed


def _operator_token() -> str:
    """A management API token of a staff user holding every Switchyard permission."""
    user = User.objects.create_user(f"operator-{secrets.token_hex(4)}", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=SWITCHYARD_APPS)
    )
    token: str = Token.objects.create(user=user).key
    return token


def _listed_price(url: str, tenant: Tenant, key: str) -> Decimal | None:
    """The input price `url` lists for the tenant's model to `key`, None when not listed."""
    models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    entries = {entry["id"]: entry for entry in models.json().get("data", [])}
    entry = entries.get(tenant.model)
    return None if entry is None else Decimal(entry["pricing"]["input"])


def _lister_key(tenant: Tenant) -> str:
    """A second key of the tenant's account, to list its models with."""
    _, key = api_key_create(account=tenant.account, name=f"{tenant.model}-lister")
    return key


def test_a_price_changed_through_nginx_is_listed_by_every_process_within_a_second(cluster):
    tenant = make_tenant(cluster, "cluster-config-price", upstream_model="gpt-4o-mini")
    lister = _lister_key(tenant)
    urls = cluster.gateway_urls()
    assert [_listed_price(url, tenant, lister) for url in urls] == [0, 0]
    changed = httpx.patch(
        f"{cluster.url}/api/admin/channels/{tenant.channel.pk}/",
        headers={"Authorization": f"Token {_operator_token()}"},
        json={"models": [{"model": tenant.model, "input_price": "7", "output_price": "2"}]},
        timeout=10,
    )
    assert changed.status_code == 200, changed.text

    _obeyed(urls, lambda url: _listed_price(url, tenant, lister) == 7)


def test_a_disabled_channel_and_a_revoked_key_are_obeyed_by_every_process_within_a_second(
    cluster: Cluster,
):
    tenant = make_tenant(cluster, "cluster-config-off", upstream_model="gpt-4o-mini")
    lister = _lister_key(tenant)
    urls = cluster.gateway_urls()
    assert [_listed_price(url, tenant, lister) for url in urls] == [0, 0]

    channels_set_enabled(channels=Channel.objects.filter(pk=tenant.channel.pk), enabled=False)
    _obeyed(urls, lambda url: _listed_price(url, tenant, lister) is None)

    api_key_revoke(key=ApiKey.objects.get(account=tenant.account, name=tenant.model))
    _obeyed(
        urls,
        lambda url: (
            httpx.get(f"{url}/v1/models", headers=tenant.headers, timeout=5).status_code == 401
        ),
    )

"""Nonsense in a query string or a body (huge numbers, NUL bytes, dates at the calendar's edge)
gets a 400 or a 404 from the management API, never a 500 from the database (`bigint out of
range`, `text fields cannot contain NUL`) or from date arithmetic."""

import pytest
from rest_framework.test import APIClient

from billing.models import ApiKey
from core.pagination import MAX_LIMIT
from tests.access_helpers import World, world_create

HUGE = "99999999999999999999"
API = [
    ("/api/admin/channels/" + HUGE + "/", 404),
    ("/api/admin/channels/?archived=%00", 400),
    ("/api/admin/channels/?limit=" + HUGE, 200),
    ("/api/admin/accounts/?offset=" + HUGE, 200),
    ("/api/admin/accounts/" + HUGE + "/", 404),
    ("/api/admin/keys/" + HUGE + "/", 404),
    ("/api/admin/usage/?key=" + HUGE, 200),
    ("/api/admin/usage/?channel=" + HUGE, 200),
    ("/api/admin/usage/?model=a%00b", 400),
    ("/api/admin/usage/?limit=" + HUGE, 200),
    ("/api/admin/usage/?offset=1&limit=" + HUGE, 200),
    ("/api/admin/usage/?since=9999-12-31T23:59:59Z", 400),
    ("/api/admin/reports/usage/?group_by=day&since=9999-12-31T23:59:59Z", 400),
    ("/api/admin/reports/usage/?group_by=day&until=0001-01-01T00:00:00Z", 400),
    ("/api/admin/reports/usage/?group_by=model&provider=%00", 400),
    ("/api/admin/reports/usage/?group_by=%00", 400),
]


@pytest.fixture
def world(db: None) -> World:
    return world_create()


@pytest.mark.parametrize(("path", "status"), API)
def test_api_answers_nonsense_with_400_or_404(
    staff_client: APIClient, world: World, path: str, status: int
) -> None:
    assert staff_client.get(path).status_code == status


def test_a_huge_limit_is_cut_to_the_largest_page(staff_client: APIClient, world: World) -> None:
    first = staff_client.get(f"/api/admin/usage/?limit={HUGE}").json()
    second = staff_client.get(f"/api/admin/usage/?limit={HUGE}&offset=1").json()

    assert (first["count"], len(first["results"])) == (1, 1)
    assert second["results"] == []
    assert f"limit={MAX_LIMIT}" in second["previous"]


@pytest.mark.parametrize("field", ["rpm_limit", "tpm_limit"])
def test_a_key_limit_beyond_the_column_is_a_400(
    staff_client: APIClient, world: World, field: str
) -> None:
    response = staff_client.post(
        "/api/admin/keys/", {"name": "big", field: int(HUGE)}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not ApiKey.objects.filter(name="big").exists()

"""Nonsense in the dashboard's query strings (huge page numbers, NUL bytes, dates at the
calendar's edge) gets a normal page or a 404, never a 500 from the database (`bigint out of
range`, `text fields cannot contain NUL`) or from date arithmetic."""

import pytest
from django.test import Client

from tests.access_helpers import World, world_create

HUGE = "99999999999999999999"
DASHBOARD = [
    ("/dashboard/usage/?page=" + HUGE, 404),
    ("/dashboard/usage/?page=9223372036854775807", 404),
    ("/dashboard/usage/?page=²", 200),
    ("/dashboard/usage/?page=-3", 200),
    ("/dashboard/usage/?page=abc", 200),
    ("/dashboard/usage/?page=1000", 200),
    ("/dashboard/usage/?model=a%00b", 200),
    ("/dashboard/usage/?provider=%00", 200),
    ("/dashboard/usage/?key=" + HUGE, 200),
    ("/dashboard/usage/?account=" + HUGE, 200),
    ("/dashboard/usage/?channel=%00", 200),
    ("/dashboard/usage/?since=9999-12-31T23:59", 200),
    ("/dashboard/usage/?until=0001-01-01T00:00", 200),
    ("/dashboard/usage/a%00b/", 404),
    ("/dashboard/?range=%00", 200),
    ("/dashboard/billing/{account}/?month=9999-12", 200),
    ("/dashboard/billing/{account}/?month=0001-01", 200),
    ("/dashboard/billing/{account}/?month=%00", 200),
    ("/dashboard/billing/{account}/statement.csv?month=9999-12", 200),
    ("/dashboard/billing/" + HUGE + "/", 404),
    ("/dashboard/billing/" + HUGE + "/statement.csv", 404),
]


@pytest.fixture
def world(db: None) -> World:
    return world_create()


@pytest.mark.parametrize(("path", "status"), DASHBOARD)
def test_dashboard_pages_survive_nonsense(
    staff_browser: Client, world: World, path: str, status: int
) -> None:
    response = staff_browser.get(path.format(account=world.account.pk))

    assert response.status_code == status


def test_an_out_of_range_time_is_named_on_the_usage_page(
    staff_browser: Client, world: World
) -> None:
    html = staff_browser.get("/dashboard/usage/?since=9999-12-31T23:59").content.decode()

    assert "Expected a time between 0002-01-01 and 9998-12-31." in html
    assert world.record.pk[:18] in html

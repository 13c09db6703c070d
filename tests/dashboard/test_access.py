"""Every dashboard page needs a staff login; the admin and the dashboard link to each other."""

import pytest
from django.contrib.auth.models import User

PAGES = [
    "/dashboard/",
    "/dashboard/channels/",
    "/dashboard/usage/",
    "/dashboard/billing/",
    "/dashboard/keys/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/admin/login/?next={path}")


def test_a_non_staff_user_cannot_see_the_dashboard(client, db):
    client.force_login(User.objects.create_user("someone", password="x"))

    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize("path", PAGES)
def test_staff_sees_every_page_with_the_navigation_and_an_admin_link(staff_browser, path):
    response = staff_browser.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Overview", "Channels", "Usage", "Billing", "Keys"):
        assert f">{label}</a>" in html
    assert 'href="/admin/"' in html


def test_the_admin_links_to_the_dashboard(staff_browser):
    html = staff_browser.get("/admin/").content.decode()

    assert 'id="dashboard-link"' in html
    assert 'href="/dashboard/"' in html


def test_posts_need_the_csrf_token(staff_user, db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    assert client.post("/dashboard/keys/", {"name": "x"}).status_code == 403

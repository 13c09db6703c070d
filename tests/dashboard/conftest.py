"""A browser session logged in as staff, for the dashboard's pages."""

import pytest
from django.test import Client


@pytest.fixture
def staff_browser(staff_user) -> Client:
    """A test client with a staff user's session."""
    client = Client()
    client.force_login(staff_user)
    return client

"""Django admin for the gateway's stored responses: conversations are a tenant's own words, so
only staff given `gateway.view_storedresponse` see them (the support group does not get it)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gateway.models import StoredResponse


@admin.register(StoredResponse)
class StoredResponseAdmin(admin.ModelAdmin[StoredResponse]):
    """Stored responses, read-only (deletable with `delete_storedresponse`), found by id."""

    list_display = ["id", "created_at", "key", "previous_response_id", "channel_id"]
    list_filter = ["created_at"]
    search_fields = ["=id", "=previous_response_id"]
    list_select_related = ["key"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Responses are stored by the Responses door only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A stored response is what was answered: never edited."""
        return False

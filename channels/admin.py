"""Django admin for channels: secrets are write-only, models and prices inline; deleting a
channel with usage history archives it."""

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from channels.models import (
    CAPABILITIES,
    CHANNEL_SETTINGS,
    PARAMETERS,
    Channel,
    ChannelModel,
    HealthCheck,
)
from channels.selectors import channels_live
from channels.services import (
    channel_delete,
    channel_has_history,
    channel_probe,
    channel_set_api_key,
    channels_set_enabled,
)

ARCHIVED_INSTEAD = "{name} has usage history: it was archived, not deleted (its records keep it)."
WILL_BE_ARCHIVED = "{}: archived, not deleted (it has usage history, which keeps it)"
ARCHIVED_LOG = "Archived instead of deleted: it has usage history."
NAME_TAKEN = "A live channel with this name already exists."
KEEP_SECRET_HELP = "Write-only. Leave it empty to keep the current secret ({hint})."  # noqa: S105
NEW_SECRET_HELP = "Write-only: it is stored encrypted and never shown again."  # noqa: S105


class ChannelForm(forms.ModelForm[Channel]):
    """The channel form; `api_key` is never rendered back, a masked hint is shown instead."""

    base_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text=Channel._meta.get_field("base_url").help_text,
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=NEW_SECRET_HELP,
    )

    class Meta:
        model = Channel
        fields = [*CHANNEL_SETTINGS, "api_key"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.api_key_hint:
            hint = self.instance.api_key_hint
            self.fields["api_key"].help_text = KEEP_SECRET_HELP.format(hint=hint)

    def clean_name(self) -> str:
        """Unique among live channels (the model's constraint, which the form cannot check
        without `archived_at`); an archived channel's name may be taken again."""
        name: str = self.cleaned_data["name"]
        if channels_live().filter(name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(NAME_TAKEN)
        return name


class ChannelModelForm(forms.ModelForm[ChannelModel]):
    """A served model; `unsupported` is picked from the known capabilities and parameters."""

    unsupported = forms.MultipleChoiceField(
        choices=[(name, name) for name in (*CAPABILITIES, *PARAMETERS)],
        required=False,
        help_text=ChannelModel._meta.get_field("unsupported").help_text,
    )

    class Meta:
        model = ChannelModel
        fields = [
            "model",
            "upstream_model",
            "input_price",
            "output_price",
            "cached_input_price",
            "cache_write_price",
            "cache_write_1h_price",
            "max_output_tokens",
            "unsupported",
        ]


class ChannelModelInline(admin.TabularInline[ChannelModel, Channel]):
    """Models the channel serves, with prices in USD per 1M tokens, answer budget and what
    each cannot do."""

    model = ChannelModel
    form = ChannelModelForm
    extra = 1


class ArchivedFilter(admin.SimpleListFilter):
    """Live or archived channels."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """Yes or no."""
        return [("no", "Live"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Filter on `archived_at` when a choice is made."""
        if self.value() in ("yes", "no"):
            return queryset.filter(archived_at__isnull=self.value() == "no")
        return queryset


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    """Channels with their models inline, and enable/disable actions; deleting a channel with
    usage history (one view or the bulk action) archives it instead."""

    form = ChannelForm
    inlines = [ChannelModelInline]
    list_display = [
        "name",
        "provider",
        "api_type",
        "status",
        "enabled",
        "priority",
        "weight",
        "api_key_hint",
        "archived_at",
    ]
    list_filter = [ArchivedFilter, "api_type", "status", "enabled", "provider"]
    search_fields = ["name", "provider", "base_url"]
    readonly_fields = [
        "status",
        "status_reason",
        "status_changed_at",
        "consecutive_failures",
        "next_probe_at",
        "created_at",
        "updated_at",
        "archived_at",
    ]
    actions = ["delete_selected", "enable_channels", "disable_channels", "test_channels"]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        """Encrypt a newly entered secret; an empty field keeps the stored one."""
        if form.cleaned_data.get("api_key"):
            channel_set_api_key(channel=obj, api_key=form.cleaned_data["api_key"])
        super().save_model(request, obj, form, change)

    def get_deleted_objects(
        self, objs: Sequence[Channel] | QuerySet[Channel], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        """What the confirmation page lists: channels with history are archived, so neither
        they nor their protected usage records are deleted."""
        archived = [channel for channel in objs if channel_has_history(channel=channel)]
        deleted = [channel for channel in objs if channel not in archived]
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(deleted, request)
        notes = [format_html(WILL_BE_ARCHIVED, channel.name) for channel in archived]
        return [*notes, *to_delete], counts, perms_needed, protected

    def log_deletions(self, request: HttpRequest, queryset: Iterable[Channel]) -> list[LogEntry]:
        """Nothing yet: `_delete_or_archive` logs each channel once its fate is known."""
        return []

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        """Delete a channel without history; archive one with history."""
        self._delete_or_archive(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Delete the channels without history; archive those with history."""
        self._delete_or_archive(request, list(queryset))

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        """Say so when the channel was archived rather than deleted."""
        if Channel.objects.filter(pk=obj_id).exists():
            self.message_user(request, ARCHIVED_INSTEAD.format(name=obj_display), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:channels_channel_changelist"))
        return super().response_delete(request, obj_display, obj_id)

    def _delete_or_archive(self, request: HttpRequest, channels: list[Channel]) -> list[Channel]:
        """`channel_delete` each channel, logging what became of it; return the archived."""
        archived = []
        for channel in channels:
            pk = channel.pk
            if channel_delete(channel=channel):
                channel.pk = pk  # the log entry names the deleted row
                user_id: Any = request.user.pk  # the admin's views require a logged-in user
                LogEntry.objects.log_actions(user_id, [channel], DELETION, single_object=True)
            else:
                self.log_change(request, channel, ARCHIVED_LOG)
                archived.append(channel)
        return archived

    @admin.action(permissions=["delete"], description="Delete selected channels")
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Channel]
    ) -> HttpResponse | None:
        """Django's bulk delete (with its confirmation page), archiving channels with history."""
        if not request.POST.get("post"):
            return confirm_delete_selected(self, request, queryset)
        if self.get_deleted_objects(queryset, request)[2]:
            raise PermissionDenied
        channels = list(queryset)
        archived = self._delete_or_archive(request, channels)
        if len(channels) > len(archived):
            count = len(channels) - len(archived)
            self.message_user(request, f"Deleted {count} channel(s).", messages.SUCCESS)
        for channel in archived:
            self.message_user(request, ARCHIVED_INSTEAD.format(name=channel.name), messages.WARNING)
        return None

    @admin.action(permissions=["change"], description="Enable selected channels")
    def enable_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Put the selected channels back into rotation."""
        count = channels_set_enabled(channels=queryset, enabled=True)
        self.message_user(request, f"Enabled {count} channel(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Disable selected channels")
    def disable_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Take the selected channels out of rotation."""
        count = channels_set_enabled(channels=queryset, enabled=False)
        self.message_user(request, f"Disabled {count} channel(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Test now")
    def test_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Probe each selected channel at once and report each outcome."""
        for channel in queryset:
            check = channel_probe(channel=channel)
            if check.ok:
                text = f"{channel.name}: ok, HTTP {check.status_code} in {check.latency_ms} ms"
                level = messages.SUCCESS
            else:
                text = f"{channel.name}: failed ({check.error}); status {channel.status}"
                level = messages.ERROR
            self.message_user(request, text, level)


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin[HealthCheck]):
    """Probe history, read-only."""

    list_display = ["checked_at", "channel", "ok", "status_code", "latency_ms", "error"]
    list_filter = ["ok", "channel"]
    list_select_related = ["channel"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Probes write these, people do not."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """History is not edited."""
        return False

"""Django admin for channels: secrets are write-only, models and prices inline."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from channels.models import (
    CAPABILITIES,
    CHANNEL_SETTINGS,
    PARAMETERS,
    Channel,
    ChannelModel,
    HealthCheck,
)
from channels.probes import probe_channel
from channels.services import channel_record_probe, channel_set_api_key, channels_set_enabled

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
            "max_output_tokens",
            "unsupported",
        ]


class ChannelModelInline(admin.TabularInline[ChannelModel, Channel]):
    """Models the channel serves, with prices in USD per 1M tokens, answer budget and what
    each cannot do."""

    model = ChannelModel
    form = ChannelModelForm
    extra = 1


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    """Channels with their models inline, and enable/disable actions."""

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
    ]
    list_filter = ["api_type", "status", "enabled", "provider"]
    search_fields = ["name", "provider", "base_url"]
    readonly_fields = [
        "status",
        "status_reason",
        "status_changed_at",
        "consecutive_failures",
        "next_probe_at",
        "created_at",
        "updated_at",
    ]
    actions = ["enable_channels", "disable_channels", "test_channels"]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        """Encrypt a newly entered secret; an empty field keeps the stored one."""
        if form.cleaned_data.get("api_key"):
            channel_set_api_key(channel=obj, api_key=form.cleaned_data["api_key"])
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected channels")
    def enable_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Put the selected channels back into rotation."""
        count = channels_set_enabled(channels=queryset, enabled=True)
        self.message_user(request, f"Enabled {count} channel(s).", messages.SUCCESS)

    @admin.action(description="Disable selected channels")
    def disable_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Take the selected channels out of rotation."""
        count = channels_set_enabled(channels=queryset, enabled=False)
        self.message_user(request, f"Disabled {count} channel(s).", messages.SUCCESS)

    @admin.action(description="Test now")
    def test_channels(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        """Probe each selected channel at once and report each outcome."""
        for channel in queryset:
            check = channel_record_probe(channel=channel, result=probe_channel(channel))
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

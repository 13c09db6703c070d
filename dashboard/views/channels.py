"""The channel pages: status, breakers, attempt figures, probe timeline, a channel's recent
attempts and errors by class, "test now", enable and disable."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import UsageRecord
from channels.models import Channel
from channels.services import channel_probe, channels_set_enabled
from config.permissions import model_perm, staff_permission_required, user_can
from dashboard.channel_selectors import channel_page, channel_rows


@staff_permission_required(model_perm(Channel, "view"))
def channel_list(request: HttpRequest) -> HttpResponse:
    """Every channel with its health, its breakers and the last 24 hours of its attempts."""
    return render(request, "dashboard/channels.html", {"rows": channel_rows()})


@staff_permission_required(model_perm(Channel, "view"))
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    """One channel: its figures and breakers, its errors by class, its latest attempts (with
    view_usagerecord: they name requests)."""
    channel = get_object_or_404(Channel, pk=channel_id)
    with_requests = user_can(request.user, model_perm(UsageRecord, "view"))
    page = channel_page(channel, with_requests=with_requests)
    return render(request, "dashboard/channel.html", {"page": page})


@staff_permission_required(model_perm(Channel, "change"))
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponseRedirect:
    """Probe a channel now, record the probe, and say how it went."""
    channel = get_object_or_404(Channel, pk=channel_id)
    check = channel_probe(channel=channel)
    if check.ok:
        messages.success(request, f"{channel.name}: probe passed in {check.latency_ms} ms.")
    else:
        messages.error(request, f"{channel.name}: probe failed — {check.error}")
    return redirect("dashboard:channels")


@staff_permission_required(model_perm(Channel, "change"))
@require_POST
def channel_toggle(request: HttpRequest, channel_id: int) -> HttpResponseRedirect:
    """Enable or disable a channel (`enabled=1|0`)."""
    channel = get_object_or_404(Channel, pk=channel_id)
    enabled = request.POST.get("enabled") == "1"
    channels_set_enabled(channels=Channel.objects.filter(pk=channel.pk), enabled=enabled)
    messages.success(request, f"{channel.name} {'enabled' if enabled else 'disabled'}.")
    return redirect("dashboard:channels")

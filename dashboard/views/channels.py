"""The channels page: status, traffic figures, probe timeline, "test now", enable and disable."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from channels.models import Channel
from channels.probes import probe_channel
from channels.services import channel_record_probe, channels_set_enabled
from dashboard.selectors import channel_rows


@staff_member_required
def channel_list(request: HttpRequest) -> HttpResponse:
    """Every channel with its health and the last 24 hours of traffic."""
    return render(request, "dashboard/channels.html", {"rows": channel_rows()})


@staff_member_required
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponseRedirect:
    """Probe a channel now, record the probe, and say how it went."""
    channel = get_object_or_404(Channel, pk=channel_id)
    check = channel_record_probe(channel=channel, result=probe_channel(channel))
    if check.ok:
        messages.success(request, f"{channel.name}: probe passed in {check.latency_ms} ms.")
    else:
        messages.error(request, f"{channel.name}: probe failed — {check.error}")
    return redirect("dashboard:channels")


@staff_member_required
@require_POST
def channel_toggle(request: HttpRequest, channel_id: int) -> HttpResponseRedirect:
    """Enable or disable a channel (`enabled=1|0`)."""
    channel = get_object_or_404(Channel, pk=channel_id)
    enabled = request.POST.get("enabled") == "1"
    channels_set_enabled(channels=Channel.objects.filter(pk=channel.pk), enabled=enabled)
    messages.success(request, f"{channel.name} {'enabled' if enabled else 'disabled'}.")
    return redirect("dashboard:channels")

"""The overview: figures and charts over a time range, the top models, keys, accounts, channels
and endpoints."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing.models import ApiKey, UsageRecord
from billing.selectors import UsageFilters, usage_dead_letters_unresolved
from channels.selectors import channels_live
from config.permissions import model_perm, staff_permission_required
from dashboard.selectors import (
    TIME_RANGES,
    chart_data,
    name_deleted_channels,
    range_start,
    series_total,
    time_range,
    usage_series,
)
from reports.selectors import GroupBy, rollup_backlog, usage_breakdown

TOP_LISTS: tuple[tuple[str, GroupBy], ...] = (
    ("Models", "model"),
    ("Keys", "key"),
    ("Accounts", "account"),
    ("Channels", "channel"),
    ("Endpoints", "endpoint"),
)

# A rollup queue longer than this means the Celery worker or beat is not running.
BACKLOG_ALARM = 10_000


@staff_permission_required(model_perm(UsageRecord, "view"))
def overview(request: HttpRequest) -> HttpResponse:
    """Totals and charts for the chosen range (`?range=24h|7d|30d|90d`), and the top lists."""
    now = timezone.now()
    choice = time_range(request.GET.get("range"))
    since = range_start(choice, now)
    series = usage_series(since=since, step=choice.step, now=now)
    breakdown = usage_breakdown(
        filters=UsageFilters(since=since),
        group_bys=tuple(group_by for _, group_by in TOP_LISTS),
        limit=5,
    )
    tops = {title: breakdown[group_by] for title, group_by in TOP_LISTS}
    tops["Channels"] = name_deleted_channels(tops["Channels"])
    context = {
        "ranges": TIME_RANGES,
        "range": choice,
        "since": since,
        "total": series_total(series),
        "tops": tops,
        "charts": chart_data(series),
        "has_channels": channels_live().exists(),
        "has_keys": ApiKey.objects.exists(),
        "backlog": rollup_backlog(),
        "backlog_alarm": BACKLOG_ALARM,
        "dead_letters": usage_dead_letters_unresolved().count(),
    }
    return render(request, "dashboard/overview.html", context)

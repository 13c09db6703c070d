"""Usage records spread over days, hours, models, channels, keys, statuses and endpoints, and
raw sums."""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.models import UsageRecord
from core.usage import Endpoint, UsageStatus
from tests.factories import ApiKeyFactory, ChannelFactory, UsageRecordFactory

FIGURES = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
)


def spread_records(start: datetime, count: int = 60) -> list[Any]:
    """`count` varied records from `start` on, every 97 minutes (so over several days)."""
    keys = [ApiKeyFactory(), ApiKeyFactory(), ApiKeyFactory()]
    channels = [ChannelFactory(provider="openai"), ChannelFactory(provider="anthropic"), None]
    statuses = [UsageStatus.OK, UsageStatus.OK, UsageStatus.ERROR, UsageStatus.CANCELLED]
    endpoints = [Endpoint.CHAT, Endpoint.MESSAGES, Endpoint.CHAT, Endpoint.CHAT, Endpoint.MESSAGES]
    records = []
    for index in range(count):
        channel = channels[index % 3]
        records.append(
            UsageRecordFactory(
                created_at=start + timedelta(minutes=97 * index, seconds=index),
                key=keys[index % 3],
                model=["gpt-4o-mini", "claude-3-haiku"][index % 2],
                provider=channel.provider if channel else "",
                channel=channel,
                status=statuses[index % 4],
                prompt_tokens=100 + index,
                completion_tokens=10 * index,
                cached_tokens=index % 7,
                reasoning_tokens=index % 5,
                cache_write_tokens=index % 11,
                cache_write_1h_tokens=index % 13,
                endpoint=endpoints[index % 5],
                cost=Decimal("0.0001234567") * (index + 1),
                latency_ms=40 * index,
            )
        )
    return records


def group_of(record: UsageRecord, group_by: str) -> Any:
    """What the report should group a record under."""
    return {
        "day": record.created_at.date().isoformat(),
        "model": record.model,
        "provider": record.provider,
        "channel": record.channel_id,
        "key": record.key_id,
        "account": record.account_id,
        "endpoint": record.endpoint,
    }[group_by]


def raw_report(records: list[UsageRecord], group_by: str) -> dict[Any, dict[str, Any]]:
    """Sums per group computed in Python over the records, as the report shows them."""
    sums: defaultdict[Any, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "errors": 0, "cost": Decimal(0), **dict.fromkeys(FIGURES, 0)}
    )
    for record in records:
        row = sums[group_of(record, group_by)]
        row["requests"] += 1
        row["errors"] += record.status != UsageStatus.OK
        row["cost"] += record.cost
        for name in FIGURES:
            row[name] += getattr(record, name)
    return dict(sums)

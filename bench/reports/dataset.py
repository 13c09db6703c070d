"""A large, realistic usage table generated inside PostgreSQL (no Python per row)."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from billing.models import Account, ApiKey
from billing.services import account_credit, api_key_create
from channels.models import Channel

MODELS = [
    "openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku", "anthropic/sonnet-4",
    "google/gemini-2.0-flash", "meta/llama-3.3-70b", "mistral/mistral-large", "deepseek/v3",
]  # fmt: skip
PROVIDERS = ["openai", "anthropic", "google", "together", "mistral"]

INSERT_RECORDS = """
INSERT INTO billing_usagerecord (
    id, created_at, account_id, key_id, model, served_model, provider, channel_id, stream,
    status, http_status, error_code, prompt_tokens, completion_tokens, cached_tokens,
    reasoning_tokens, usage_source, input_price, output_price, cached_input_price, cost,
    latency_ms, ttft_ms, attempts, "user"
)
SELECT
    'bench_' || lpad(g::text, 9, '0'),
    %(end)s::timestamptz - (random() * %(span)s) * interval '1 second',
    (%(accounts)s::bigint[])[1 + k],
    (%(key_ids)s::bigint[])[1 + k],
    (%(models)s::text[])[1 + m],
    (%(models)s::text[])[1 + m],
    (%(providers)s::text[])[1 + (m * 2 + g %% 2) %% %(channels)s],
    (%(channel_ids)s::bigint[])[1 + (m * 2 + g %% 2) %% %(channels)s],
    g %% 2 = 0,
    CASE WHEN g %% 25 = 0 THEN 'error' WHEN g %% 101 = 0 THEN 'cancelled' ELSE 'ok' END,
    CASE WHEN g %% 25 = 0 THEN 502 ELSE 200 END,
    CASE WHEN g %% 25 = 0 THEN 'upstream_error' ELSE '' END,
    p, c, p / 4, c / 10, 'provider', 0.15, 0.60, 0.075,
    round((p * 0.15 + c * 0.60) / 1000000.0, 10),
    (40 + random() * random() * 6000)::int,
    (20 + random() * 400)::int,
    '[{"channel": "bench", "provider": "openai", "outcome": "ok", "http_status": 200}]'::jsonb,
    ''
FROM (
    SELECT g, k, (k + (random() * 2.99)::int) %% 8 AS m,
           (50 + random() * 2000)::int AS p, (10 + random() * 800)::int AS c
    FROM (
        -- a few keys make most requests (power law); each key uses about three models
        SELECT g, least(%(keys)s - 1, floor(%(keys)s * power(random(), 3)))::int AS k
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
    ) AS picked
) AS numbers
"""

# Every priced record's charge, as the gateway posts it (balances are left as they are).
INSERT_CHARGES = """
INSERT INTO billing_ledgerentry
    (account_id, kind, amount, usage_record_id, request_id, description, created_at)
SELECT account_id, 'charge', -cost, id, id, model, created_at
FROM billing_usagerecord WHERE cost > 0
"""

INSERT_CHECKS = """
INSERT INTO channels_healthcheck (channel_id, checked_at, ok, status_code, latency_ms, error)
SELECT c, %(end)s::timestamptz - m * interval '1 minute', m %% 37 <> 0,
       CASE WHEN m %% 37 = 0 THEN 503 ELSE 200 END, (30 + random() * 200)::int,
       CASE WHEN m %% 37 = 0 THEN 'HTTP 503' ELSE '' END
FROM unnest(%(channel_ids)s::bigint[]) AS c, generate_series(0, 1439) AS m
"""


@dataclass(frozen=True)
class Dataset:
    """What was generated, for the timed requests."""

    accounts: list[Account]
    keys: list[ApiKey]
    channels: list[Channel]
    start: datetime
    end: datetime
    insert_seconds: float


def generate(
    *,
    records: int,
    days: int,
    end: datetime,
    accounts: int = 20,
    keys: int = 200,
    channels: int = 12,
) -> Dataset:
    """Accounts, keys, channels with a day of probes, `records` usage records over `days` and
    their ledger charges.

    Like real traffic, a few keys make most requests, each key uses a few models, and each
    model is served by two channels; 4 % of requests fail and 1 % are cancelled.
    """
    account_rows = [Account.objects.create(name=f"bench-account-{i:02d}") for i in range(accounts)]
    for account in account_rows:
        account_credit(account=account, amount=Decimal(1000))
    key_rows = [
        api_key_create(
            account=account_rows[i % accounts],
            name=f"bench-key-{i:03d}",
            spend_limit=Decimal(100) if i % 3 == 0 else None,
            limit_reset="monthly" if i % 3 == 0 else "",
        )[0]
        for i in range(keys)
    ]
    channel_rows = [
        Channel.objects.create(
            name=f"bench-channel-{i:02d}",
            provider=PROVIDERS[i % len(PROVIDERS)],
            base_url="http://127.0.0.1:9/v1",
            status="healthy" if i % 5 else "down",
            status_reason="" if i % 5 else "3 probes failed in a row: HTTP 503",
        )
        for i in range(channels)
    ]
    params: dict[str, Any] = {
        "end": end,
        "span": days * 86400,
        "accounts": [key.account_id for key in key_rows],
        "key_ids": [key.pk for key in key_rows],
        "keys": keys,
        "models": MODELS,
        "providers": [channel.provider for channel in channel_rows],
        "channel_ids": [channel.pk for channel in channel_rows],
        "channels": channels,
    }
    started = time.perf_counter()
    chunk = 100_000
    with connection.cursor() as cursor:
        for first in range(1, records + 1, chunk):
            last = min(records, first + chunk - 1)
            cursor.execute(INSERT_RECORDS, {**params, "first": first, "last": last})
            print(f"  inserted {last:,} records", flush=True)
        cursor.execute(INSERT_CHARGES)
        cursor.execute(INSERT_CHECKS, params)
        cursor.execute("ANALYZE")
    return Dataset(
        accounts=account_rows,
        keys=key_rows,
        channels=channel_rows,
        start=end - timedelta(days=days),
        end=end,
        insert_seconds=time.perf_counter() - started,
    )

"""The access log of the client API: one JSON line per finished chat completion request.

The line names the calling key by the random part of its public prefix only: the full prefix
(`sk-sy-` and eight characters) looks like a credential to the scrubbing filter, and the
secret itself never reaches this module.
"""

import logging
from typing import Any

import orjson

from billing import keys
from core.money import format_money
from gateway.accounting import UsageDraft
from gateway.clip import clip

logger = logging.getLogger("switchyard.requests")


def key_label(prefix: str) -> str:
    """The public part of a key prefix, without the scheme; at most the prefix's own length,
    even when handed a full secret by mistake."""
    return keys.key_prefix(prefix).removeprefix(keys.KEY_SCHEME)


def request_line(draft: UsageDraft, key_prefix: str, channel_name: str | None) -> dict[str, Any]:
    """The fields of one request's log line."""
    return {
        "request_id": draft.id,
        "key": key_label(key_prefix),
        "key_id": draft.key_id,
        "model": clip(draft.model),
        "served_model": draft.served_model,
        "provider": draft.provider,
        "channel": channel_name,
        "status": draft.status,
        "http_status": draft.http_status,
        "error_code": draft.error_code,
        "stream": draft.stream,
        "latency_ms": draft.latency_ms,
        "ttft_ms": draft.ttft_ms,
        "prompt_tokens": draft.usage.prompt_tokens,
        "completion_tokens": draft.usage.completion_tokens,
        "cost": format_money(draft.cost),
        "attempts": len(draft.attempts),
    }


def log_request(draft: UsageDraft, key_prefix: str, channel_name: str | None) -> None:
    """Write one INFO line of JSON on "switchyard.requests" (nothing is built when disabled)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    logger.info(orjson.dumps(request_line(draft, key_prefix, channel_name)).decode())

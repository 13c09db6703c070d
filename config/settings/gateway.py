"""Defaults of the client-facing gateway; channels may override the timeouts."""

from config.env import env, var_dir

GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=5.0)
GATEWAY_FIRST_TOKEN_TIMEOUT = env.float("GATEWAY_FIRST_TOKEN_TIMEOUT", default=60.0)
GATEWAY_IDLE_TIMEOUT = env.float("GATEWAY_IDLE_TIMEOUT", default=60.0)
GATEWAY_TIMEOUT = env.float("GATEWAY_TIMEOUT", default=300.0)
GATEWAY_REQUEST_DEADLINE = env.float("GATEWAY_REQUEST_DEADLINE", default=540.0)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", default=5)
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=20 * 1024 * 1024)
GATEWAY_AUTH_CACHE_SECONDS = env.float("GATEWAY_AUTH_CACHE_SECONDS", default=5.0)
GATEWAY_CATALOG_SECONDS = env.float("GATEWAY_CATALOG_SECONDS", default=5.0)
# Admission: a request reserves its worst case — the bound of its prompt tokens
# (gateway.estimate.prompt_tokens_bound) plus `max_tokens` (this default when the client sends
# none, which is then sent upstream as the answer's cap) at the plan's highest prices — until its
# usage record is written; a crashed process's reservations lapse after
# GATEWAY_RESERVATION_SECONDS.
GATEWAY_DEFAULT_MAX_TOKENS = env.int("GATEWAY_DEFAULT_MAX_TOKENS", default=4096)
# What the prompt bound counts for an attachment whose tokens its bytes do not tell (the rules
# and the providers' figures: gateway.estimate._part_bound). An image: the most any provider
# publishes for one, gpt-4o-mini's 48,169 at high detail (others: at most about 3,800), with a
# margin; lower it when no channel serves gpt-4o-mini with images.
GATEWAY_IMAGE_PART_TOKENS = env.int("GATEWAY_IMAGE_PART_TOKENS", default=50_000)
# A file or a video counts its inline data's characters, and at least this: enough for about
# 20 dense PDF pages at Anthropic, ~180 at Gemini, or 16 minutes of video at Gemini's ~300 tokens
# a second; raise them for larger documents or videos sent by id or URL.
GATEWAY_FILE_PART_TOKENS = env.int("GATEWAY_FILE_PART_TOKENS", default=100_000)
GATEWAY_VIDEO_PART_TOKENS = env.int("GATEWAY_VIDEO_PART_TOKENS", default=300_000)
GATEWAY_RESERVATION_SECONDS = env.float(
    "GATEWAY_RESERVATION_SECONDS", default=GATEWAY_REQUEST_DEADLINE + 60.0
)
# A Redis that restarted empty admits nothing for this long, while every gateway process posts
# the holds of its requests in flight again (each checks once a second).
GATEWAY_RESERVATION_RESYNC_SECONDS = env.float("GATEWAY_RESERVATION_RESYNC_SECONDS", default=3.0)
# What each request did, on local disk until its usage record is stored; a killed process's
# journal is billed by the next sweep of any gateway process on the machine.
GATEWAY_JOURNAL_DIR = env.path("GATEWAY_JOURNAL_DIR", default=var_dir() / "journal")
GATEWAY_JOURNAL_SWEEP_SECONDS = env.float("GATEWAY_JOURNAL_SWEEP_SECONDS", default=5.0)

# Django refuses larger bodies itself; the chat endpoint answers them with a 413 envelope.
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES

# Channel health: active probes (Celery) and the passive breaker fed by live traffic.
HEALTH_PROBE_INTERVAL = env.int("HEALTH_PROBE_INTERVAL", default=60)
HEALTH_PROBE_TIMEOUT = env.float("HEALTH_PROBE_TIMEOUT", default=10.0)
HEALTH_FAILURE_THRESHOLD = env.int("HEALTH_FAILURE_THRESHOLD", default=3)
HEALTH_MAX_BACKOFF = env.int("HEALTH_MAX_BACKOFF", default=900)
HEALTH_RETENTION_DAYS = env.int("HEALTH_RETENTION_DAYS", default=7)
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
BREAKER_COOLDOWN = env.float("BREAKER_COOLDOWN", default=30.0)

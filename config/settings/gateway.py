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
# Authentication (gateway.auth): keys found and keys not found are cached apart, each bounded
# (oldest out first), so a flood of made-up keys never pushes out a valid one. A key in neither
# cache costs a database lookup; each process allows GATEWAY_AUTH_LOOKUPS_PER_SECOND of them
# (a second's worth at once; 0: no bound) and answers the rest 503 authentication_busy with
# retry-after, so a flood costs bounded database work and a brand-new key is put off, not refused.
GATEWAY_AUTH_CACHE_KEYS = env.int("GATEWAY_AUTH_CACHE_KEYS", default=100_000)
GATEWAY_AUTH_UNKNOWN_KEYS = env.int("GATEWAY_AUTH_UNKNOWN_KEYS", default=20_000)
GATEWAY_AUTH_LOOKUPS_PER_SECOND = env.float("GATEWAY_AUTH_LOOKUPS_PER_SECOND", default=200.0)
# After a database read of the client path failed (gateway.bridge.store), the next ones answer
# 503 database_unavailable at once for this long; then one read at a time tries again.
GATEWAY_DATABASE_RETRY_SECONDS = env.float("GATEWAY_DATABASE_RETRY_SECONDS", default=1.0)
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
# Days a stored Responses-API response (`store`, the default) is kept for `previous_response_id`
# and `GET /v1/responses/{id}`; a daily task deletes older ones. 0 = keep all.
GATEWAY_RESPONSES_RETENTION_DAYS = env.int("GATEWAY_RESPONSES_RETENTION_DAYS", default=30)

# The edge (gateway.edge): what one connection may take. A request's line and headers must
# arrive within GATEWAY_HEADER_TIMEOUT of the connection (or of its first byte on a kept-alive
# one) and within GATEWAY_MAX_HEADER_BYTES; its body may pause at most GATEWAY_BODY_TIMEOUT
# between two parts; a client that reads nothing of a response for GATEWAY_WRITE_TIMEOUT is
# disconnected; an idle kept-alive connection closes after GATEWAY_KEEPALIVE_TIMEOUT. At most
# GATEWAY_MAX_CONNECTIONS are open at once (0: as many as the descriptor limit fits).
GATEWAY_HEADER_TIMEOUT = env.float("GATEWAY_HEADER_TIMEOUT", default=10.0)
GATEWAY_MAX_HEADER_BYTES = env.int("GATEWAY_MAX_HEADER_BYTES", default=64 * 1024)
GATEWAY_BODY_TIMEOUT = env.float("GATEWAY_BODY_TIMEOUT", default=15.0)
GATEWAY_WRITE_TIMEOUT = env.float("GATEWAY_WRITE_TIMEOUT", default=30.0)
GATEWAY_KEEPALIVE_TIMEOUT = env.float("GATEWAY_KEEPALIVE_TIMEOUT", default=5.0)
GATEWAY_MAX_CONNECTIONS = env.int("GATEWAY_MAX_CONNECTIONS", default=0)
# On SIGTERM, requests in flight get this long to finish; then streams end with an in-band
# error and unanswered requests with a 503, each billed and recorded, and the process exits.
GATEWAY_SHUTDOWN_GRACE = env.float("GATEWAY_SHUTDOWN_GRACE", default=20.0)

# Operational endpoints: when set, `/metrics` answers only `Authorization: Bearer <token>` and
# `/readyz` names its checks only to that bearer (others get ready or not). Empty leaves both
# open, as the embedded demo needs. `/healthz` is always open.
GATEWAY_METRICS_TOKEN = env.str("GATEWAY_METRICS_TOKEN", default="")
# Browser origins allowed to call the client API (`https://app.example.com`; `*`: any); empty
# sends no CORS headers. Keys travel in headers, not cookies: no credentialed CORS.
GATEWAY_CORS_ORIGINS = env.list("GATEWAY_CORS_ORIGINS", default=[])

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
# Cache affinity (gateway.affinity): the turns of one conversation go to the channel that served
# it last while its provider cache lives; the in-process store (no REDIS_URL) keeps at most
# GATEWAY_CACHE_AFFINITY_ENTRIES conversations.
GATEWAY_CACHE_AFFINITY = env.bool("GATEWAY_CACHE_AFFINITY", default=True)
GATEWAY_CACHE_AFFINITY_ENTRIES = env.int("GATEWAY_CACHE_AFFINITY_ENTRIES", default=100_000)

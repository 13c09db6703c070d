"""Defaults of the client-facing gateway; channels may override the timeouts."""

from config.env import env

GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=5.0)
GATEWAY_FIRST_TOKEN_TIMEOUT = env.float("GATEWAY_FIRST_TOKEN_TIMEOUT", default=60.0)
GATEWAY_IDLE_TIMEOUT = env.float("GATEWAY_IDLE_TIMEOUT", default=60.0)
GATEWAY_TIMEOUT = env.float("GATEWAY_TIMEOUT", default=300.0)
GATEWAY_REQUEST_DEADLINE = env.float("GATEWAY_REQUEST_DEADLINE", default=540.0)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", default=5)
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=20 * 1024 * 1024)
GATEWAY_AUTH_CACHE_SECONDS = env.float("GATEWAY_AUTH_CACHE_SECONDS", default=5.0)
GATEWAY_CATALOG_SECONDS = env.float("GATEWAY_CATALOG_SECONDS", default=5.0)

# Django refuses larger bodies itself; the chat endpoint answers them with a 413 envelope.
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES

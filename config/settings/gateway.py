"""Defaults of the client-facing gateway; channels may override the timeouts."""

from config.env import env

GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=5.0)
GATEWAY_FIRST_TOKEN_TIMEOUT = env.float("GATEWAY_FIRST_TOKEN_TIMEOUT", default=60.0)
GATEWAY_TIMEOUT = env.float("GATEWAY_TIMEOUT", default=300.0)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", default=5)
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=20 * 1024 * 1024)

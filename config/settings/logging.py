"""Logging to stderr, with every handler passing through the secret-scrubbing filter."""

from config.env import env

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_secrets": {"()": "config.log_filters.ScrubSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub_secrets"],
        },
    },
    "root": {"handlers": ["stderr"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every upstream request at INFO: noise, and CPU on the request path.
    "loggers": {"httpx": {"level": "WARNING"}},
}

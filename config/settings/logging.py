"""Logging to stderr, with every handler passing through the secret-scrubbing filter."""

from config.env import env

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# Celery's own line per task and per dispatch ("Task … received", "Task … succeeded in …: 0",
# "Scheduler: Sending due task …") buried the request log: 6 lines every 10 s. They show only
# with LOG_LEVEL=DEBUG; the tasks log what changed (a channel down or back, a sweep that found
# something) themselves, and failures still log at ERROR.
_CELERY_CHATTER = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_secrets": {"()": "core.log_filters.ScrubSecretsFilter"}},
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
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # httpx logs every upstream request at INFO: noise, and CPU on the request path.
        "httpx": {"level": "WARNING"},
        "celery.worker.strategy": {"level": _CELERY_CHATTER},
        "celery.app.trace": {"level": _CELERY_CHATTER},
        "celery.beat": {"level": _CELERY_CHATTER},
    },
}

"""Celery: Redis as the broker when configured, else kombu's filesystem transport in `var/`."""

from celery.schedules import crontab

from config.env import env, var_dir
from config.settings.cache import REDIS_URL

# The host is only named so kombu does not warn "No hostname was supplied" per connection.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")

if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = var_dir() / "celery-queue"
    _queue_dir.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        # Broadcast (remote control) messages: kombu's default is ./control in the working dir.
        "control_folder": str(var_dir() / "celery-control"),
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Probes are queued every 10 s for the channels that are due; each channel's own interval (and
# backoff) decides when it is due, and a cache lock keeps it to one probe across the cluster.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "probe-due-channels": {"task": "channels.tasks.probe_due_channels", "schedule": 10.0},
    "prune-health-checks": {
        "task": "channels.tasks.prune_health_checks",
        "schedule": crontab(hour=3, minute=17),
    },
    # Usage records reach the hourly and daily rollups within this many seconds.
    "rollup-usage": {"task": "reports.tasks.rollup_usage", "schedule": 30.0},
    "prune-usage": {"task": "reports.tasks.prune_usage", "schedule": crontab(hour=3, minute=37)},
    "prune-attempts": {
        "task": "reports.tasks.prune_attempts",
        "schedule": crontab(hour=3, minute=47),
    },
    "prune-stored-responses": {
        "task": "gateway.tasks.prune_stored_responses",
        "schedule": crontab(hour=3, minute=57),
    },
}
# Days of raw usage records kept (rollups and the ledger are kept for good); 0 = keep all.
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=0)
# Days of attempt rows kept for the channel pages (which show the last 24 h); 0 = keep all.
ATTEMPT_RETENTION_DAYS = env.int("ATTEMPT_RETENTION_DAYS", default=7)

CELERY_BEAT_SCHEDULE_FILENAME = str(var_dir() / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

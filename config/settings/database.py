"""Database: DATABASE_URL (PostgreSQL in production), else SQLite under `var/`."""

from config.env import env, var_dir

_SQLITE_DEFAULT = f"sqlite:///{var_dir() / 'switchyard.sqlite3'}"

DATABASES = {"default": env.db_url("DATABASE_URL", default=_SQLITE_DEFAULT)}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The gateway, the worker and beat share one file: wait for locks and let readers run.
    # Connections stay open for the life of the thread that made them (the gateway's few
    # long-lived pool and writer threads): a new SQLite connection per request cost more than
    # the request's own database work.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Under ASGI Django's persistent connections must stay off (CONN_MAX_AGE = 0); psycopg's
    # pool keeps the connections instead, shared by the threads that use the ORM.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
    }

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
    # The pool tests a connection before lending it (one empty query): after a database restart
    # no thread is handed a connection the server has closed.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that is down or swamped must fail a request within seconds, not stall it: a new
    # connection gives up after DATABASE_CONNECT_TIMEOUT (libpq's minimum is 2 s), a thread
    # waiting for a pooled one after DATABASE_POOL_TIMEOUT; the client API then answers 503
    # database_unavailable (gateway.bridge.store).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2))
    options["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=2.0),
        # A pool that lost its connections retries with a growing backoff (1, 2, 4, 8… s) for
        # this long, then afresh whenever a thread asks for a connection: so a database back
        # after a long outage is used again within seconds, not at the next distant retry.
        "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_TIMEOUT", default=5.0),
    }

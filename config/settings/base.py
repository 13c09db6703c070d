"""Core Django settings; each topic lives in its own module, imported at the end."""

import django_stubs_ext

from config.env import BASE_DIR, env

# Lets runtime code subscript Django's generic classes (ModelAdmin[Channel]) as the stubs do.
django_stubs_ext.monkeypatch()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "adrf",
    "channels.apps.ChannelsConfig",
    "billing.apps.BillingConfig",
    "gateway.apps.GatewayConfig",
    "reports.apps.ReportsConfig",
    "dashboard.apps.DashboardConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
SWITCHYARD_SERVE_STATIC = env.bool("SWITCHYARD_SERVE_STATIC", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

from config.settings.cache import *  # noqa: E402, F403
from config.settings.database import *  # noqa: E402, F403
from config.settings.gateway import *  # noqa: E402, F403
from config.settings.logging import *  # noqa: E402, F403
from config.settings.rest import *  # noqa: E402, F403
from config.settings.security import *  # noqa: E402, F403
from config.settings.worker import *  # noqa: E402, F403

"""Secrets, debug mode and hosts. Outside the embedded default, missing secrets stop start-up."""

from config.env import env, is_embedded
from config.secrets import load_encryption_keys, load_secret_key

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Local use (the embedded default or debug mode) may generate secrets into var/; production may not.
_MAY_GENERATE_SECRETS = DEBUG or is_embedded()

SECRET_KEY = load_secret_key(may_generate=_MAY_GENERATE_SECRETS)
SWITCHYARD_ENCRYPTION_KEYS = load_encryption_keys(may_generate=_MAY_GENERATE_SECRETS)

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

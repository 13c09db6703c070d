"""Secrets, debug mode, hosts, and HTTPS behind a TLS proxy. Outside the embedded default, missing
secrets stop start-up."""

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
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Behind a proxy that terminates TLS: it must set X-Forwarded-Proto (replacing any the client
# sent), which tells Django a request came over HTTPS. Then cookies travel only over HTTPS,
# browsers are told to use nothing else (HSTS), and the admin and dashboard redirect plain HTTP;
# the probes and /metrics are exempt, as orchestrators and Prometheus reach them over plain HTTP
# inside the cluster. (The client API is served without Django's middleware: never redirected.)
SWITCHYARD_BEHIND_TLS_PROXY = env.bool("SWITCHYARD_BEHIND_TLS_PROXY", default=False)
if SWITCHYARD_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

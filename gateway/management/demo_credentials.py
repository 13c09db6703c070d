"""The demo's credentials: `var/demo-credentials.txt` (mode 0600, shell-sourceable) and the box
`make run` prints last."""

import os
from dataclasses import dataclass, replace
from pathlib import Path

from django.contrib.auth import get_user_model

from billing.keys import hash_key
from billing.selectors import api_key_by_hash
from config.env import var_dir

FILE_NAME = "demo-credentials.txt"
# The file's variables, in the order written; the README's client recipes read the first two.
BASE_URL = "SWITCHYARD_BASE_URL"
API_KEY = "SWITCHYARD_API_KEY"
GATEWAY_URL = "SWITCHYARD_URL"
ADMIN_USER = "SWITCHYARD_ADMIN_USER"
ADMIN_PASSWORD = "SWITCHYARD_ADMIN_PASSWORD"  # noqa: S105 (the variable's name)
HEADER = (
    "# Switchyard's demo credentials, written by `manage.py demo_setup`; only you can read this\n"
    "# file (mode 0600). Load them into a shell: set -a; . {path}; set +a\n"
)


@dataclass(frozen=True)
class DemoCredentials:
    """What `make run` shows: where the gateway is, and the secrets as far as they are known
    (None: made before this file existed, or changed since)."""

    gateway_url: str
    admin_user: str
    admin_password: str | None = None
    api_key: str | None = None

    @property
    def base_url(self) -> str:
        """The client API's root, as SDKs want it."""
        return self.gateway_url.rstrip("/") + "/v1"


def credentials_path() -> Path:
    """Where the demo's credentials are kept: `var/` (SWITCHYARD_VAR_DIR), git-ignored."""
    return var_dir() / FILE_NAME


def credentials_write(credentials: DemoCredentials, path: Path) -> None:
    """Replace the file whole, readable and writable by its owner only, whatever the umask or
    an older file's mode."""
    values = {
        BASE_URL: credentials.base_url,
        API_KEY: credentials.api_key,
        GATEWAY_URL: credentials.gateway_url,
        ADMIN_USER: credentials.admin_user,
        ADMIN_PASSWORD: credentials.admin_password,
    }
    text = HEADER.format(path=display_path(path)) + "".join(
        f"{name}={value}\n" for name, value in values.items() if value
    )
    staging = path.with_name(path.name + ".new")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(staging, path)


def credentials_read(path: Path) -> dict[str, str]:
    """The file's variables; empty when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs if not name.startswith("#")}


def credentials_still_valid(credentials: DemoCredentials) -> DemoCredentials:
    """The same credentials without a password or key that no longer works (changed, revoked,
    expired), so the box never shows a stale secret as if it did."""
    password = credentials.admin_password
    if password is not None:
        user = get_user_model().objects.filter(username=credentials.admin_user).first()
        if user is None or not user.is_active or not user.check_password(password):
            password = None
    key = credentials.api_key
    if key is not None:
        stored = api_key_by_hash(key_hash=hash_key(key))
        if stored is None or stored.revoked or stored.is_expired():
            key = None
    return replace(credentials, admin_password=password, api_key=key)


def credentials_box(credentials: DemoCredentials, *, path: Path, unicode: bool = True) -> str:
    """The credentials framed so they stand out at the end of the start-up output."""
    url = credentials.gateway_url.rstrip("/")
    user = credentials.admin_user
    lines = [
        "Switchyard is running: the demo's credentials",
        None,
        f"API base URL  {credentials.base_url}",
        "API key       "
        + (credentials.api_key or "(not known: manage.py create_api_key --account demo)"),
        f"Dashboard     {url}/dashboard/",
        f"Admin         {url}/admin/",
        f"Log in as     {user} / "
        + (credentials.admin_password or f"(not known: manage.py changepassword {user})"),
        "",
        f"Saved in {display_path(path)} (mode 0600). In a shell:",
        f"  set -a; . {display_path(path)}; set +a",
        "Ctrl-C stops everything.",
    ]
    width = max(len(line) for line in lines if line is not None)
    h, v, corners, rule = ("═", "║", "╔╗╚╝", "╟─╢") if unicode else ("=", "|", "++++", "|-|")
    framed = [corners[0] + h * (width + 2) + corners[1]]
    for line in lines:
        if line is None:
            framed.append(rule[0] + rule[1] * (width + 2) + rule[2])
        else:
            framed.append(f"{v} {line.ljust(width)} {v}")
    framed.append(corners[2] + h * (width + 2) + corners[3])
    return "\n".join(framed)


def try_it(credentials: DemoCredentials) -> str:
    """A curl command that works with these credentials (or with the variables loaded)."""
    key = credentials.api_key or f"${API_KEY}"
    return (
        f"Try it:\n  curl {credentials.base_url}/chat/completions"
        f' -H "Authorization: Bearer {key}" -H "Content-Type: application/json"'
        ' -d \'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}\''
    )


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())

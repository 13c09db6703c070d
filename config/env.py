"""Environment access shared by the settings modules, and the embedded default's `var/` folder."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def var_dir() -> Path:
    """Return the folder for the embedded default's local state, creating it if needed."""
    path = Path(env.str("SWITCHYARD_VAR_DIR", default=str(BASE_DIR / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_embedded() -> bool:
    """Whether this is the embedded default: no DATABASE_URL, so SQLite under `var/`."""
    return not env.str("DATABASE_URL", default="")

"""Run a client recipe (tests/clients/recipes) against a live gateway, as its user would."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.gateway.conftest import Gateway

CLIENTS = Path(__file__).parent
RECIPES = CLIENTS / "recipes"
# Variables the recipes must not lean on: a user's own OpenAI settings.
FOREIGN = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_ORG_ID")


def run_recipe(gateway: Gateway, name: str) -> str:
    """Run recipes/<name> (Python, Node or sh) with SWITCHYARD_BASE_URL and SWITCHYARD_API_KEY
    set as `var/demo-credentials.txt` sets them; return what it printed."""
    path = RECIPES / name
    if path.suffix == ".mjs":
        node = shutil.which("node")
        assert node, "the Node recipes need node (Debian's nodejs) on PATH"
        assert (CLIENTS / "node_modules" / "ai").is_dir(), "run: npm ci --prefix tests/clients"
        program = [node]
    elif path.suffix == ".sh":
        assert shutil.which("curl"), "the curl recipe needs curl on PATH"
        program = ["/bin/sh"]
    else:
        program = [sys.executable]
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN}
    env.update(
        SWITCHYARD_BASE_URL=gateway.url + "/v1",
        SWITCHYARD_API_KEY=gateway.key,
        # LiteLLM fetches its price list from GitHub at import unless told not to; no network.
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    done = subprocess.run(  # noqa: S603 (our interpreter, node or sh, on our own recipes)
        [*program, str(path)],
        cwd=RECIPES,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


CODEX = CLIENTS / "node_modules" / ".bin" / "codex"
CODEX_SECONDS = 120
# The user's own Codex and OpenAI settings must not reach a Codex run.
CODEX_FOREIGN_PREFIXES = ("CODEX_", "OPENAI_")


def run_codex_recipe(base_url: str, key: str, home: Path) -> subprocess.CompletedProcess[str]:
    """recipes/codex.sh as its user runs it: `codex` on PATH, a fresh HOME, `base_url` (ending
    in /v1) and `key` as the gateway's; the finished process, whatever its exit status."""
    assert CODEX.exists(), "run: npm ci --prefix tests/clients"
    env = {k: v for k, v in os.environ.items() if not k.startswith(CODEX_FOREIGN_PREFIXES)}
    env.update(
        HOME=str(home),
        PATH=f"{CODEX.parent}{os.pathsep}{env.get('PATH', '')}",
        SWITCHYARD_BASE_URL=base_url,
        SWITCHYARD_API_KEY=key,
    )
    return subprocess.run(  # noqa: S603 (sh on our own recipe)
        ["/bin/sh", str(RECIPES / "codex.sh")],
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CODEX_SECONDS,
        check=False,
    )

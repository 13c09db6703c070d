"""The real Codex CLI (tests/clients/node_modules) run by the README's recipe against the
gateway's Responses door, translated to an OpenAI-compatible chat channel of the fake upstream:
one shell-tool round trip, then the answer printed, exit 0, and two priced usage records."""

import os
import subprocess
from pathlib import Path

import pytest

from bench.fake_upstream import reply_text
from tests.gateway.providers_helpers import provider_channel, sent

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "tests" / "clients" / "recipes" / "codex.sh"
CODEX = REPO / "tests" / "clients" / "node_modules" / ".bin" / "codex"
MODEL = "gpt-4o-mini"  # the recipe's model
RUN_SECONDS = 120
FOREIGN_PREFIXES = ("CODEX_", "OPENAI_")  # the user's own settings must not reach the run


@pytest.mark.skipif(not CODEX.exists(), reason="run: npm ci --prefix tests/clients")
def test_codex_exec_through_the_translated_responses_door(gateway, tmp_path):
    provider_channel(gateway, "main", api_type="openai", upstream_model=MODEL, model=MODEL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        HOME=str(tmp_path),
        PATH=f"{CODEX.parent}{os.pathsep}{env.get('PATH', '')}",
        SWITCHYARD_BASE_URL=gateway.url + "/v1",
        SWITCHYARD_API_KEY=gateway.key,
    )

    done = subprocess.run(  # noqa: S603 (sh on our own recipe)
        ["/bin/sh", str(RECIPE)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )

    assert done.returncode == 0, f"codex exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout == reply_text() + "\n"
    first, second = (r["body"] for r in sent(gateway, "/v1/chat/completions"))
    assert first["stream"] is True
    assert first["messages"][-1]["content"][-1] == {
        "type": "text",
        "text": "Say hello to the gateway",
    }
    call = second["messages"][-2]["tool_calls"][0]
    assert second["messages"][-1]["tool_call_id"] == call["id"]
    records = gateway.wait_records(2)
    assert [(r.endpoint, r.status, r.stream) for r in records] == [("responses", "ok", True)] * 2
    assert all(r.cost > 0 for r in records)
